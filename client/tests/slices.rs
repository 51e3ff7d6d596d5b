//! Reading files made of chunk slices (multipart completions, ranged part copies) and
//! writing multipart parts, against real chunkds and a fake metad (see `rig`).

mod rig;

use bytes::Bytes;
use dfs_client::{etag_of, CreateOptions, FinishPartOptions};
use dfs_common::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use dfs_common::names::ObjectPath;
use dfs_common::wire::{ChunkInfo, Entry};
use rig::{data, Rig, CHUNK};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_made_of_chunk_slices_read_back_their_bytes() {
    let rig = Rig::start(2, 2).await;
    let c = CHUNK as usize;
    let bytes = data(3 * c + 100, 4);
    rig.write("/b/src", &bytes, 10_000).await.unwrap();
    let src = rig.fake.state().files["/b/src"].1.clone();
    assert_eq!(src.len(), 4);
    // Slices as a multipart completion or a ranged part copy makes them: (chunk, from, to)
    // within the stored chunk.
    let plan = [
        (1, 100, c),
        (0, 0, c),
        (3, 10, 60),
        (2, 0, c - 1),
        (2, 7, 8),
    ];
    let mut expected = Vec::new();
    let mut slices = Vec::new();
    for (index, from, to) in plan {
        let stored = &src[index];
        let start = index * c + from;
        expected.extend_from_slice(&bytes[start..index * c + to]);
        slices.push(ChunkInfo {
            offset: slices.iter().map(|s: &ChunkInfo| s.len).sum(),
            len: (to - from) as u64,
            chunk_offset: from as u64,
            chunk_len: stored.len,
            ..stored.clone()
        });
    }
    let size = expected.len() as u64;
    let entry = Entry {
        name: "sliced".into(),
        size,
        chunk_count: slices.len() as u64,
        ..rig.fake.state().files["/b/src"].0.clone()
    };
    rig.fake
        .state()
        .files
        .insert("/b/sliced".into(), (entry, slices));
    assert!(rig.read("/b/sliced", 0, u64::MAX).await.unwrap() == expected);
    let total = expected.len();
    for (start, end) in [
        (0, 1),
        (50, c),
        (c - 200, c + 5),
        (total - 60, total),
        (3, total - 3),
    ] {
        let got = rig
            .read("/b/sliced", start as u64, end as u64)
            .await
            .unwrap();
        assert!(got == expected[start..end], "range {start}..{end}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_are_written_through_write_sessions() {
    let rig = Rig::start(2, 2).await;
    let bytes = data(2 * CHUNK as usize + 3, 6);
    let mut writer = rig
        .client
        .create_part(
            &ObjectPath::parse("/bkt/k").unwrap(),
            "u1",
            3,
            CreateOptions::default(),
        )
        .await
        .unwrap();
    writer.write(Bytes::from(bytes.clone())).await.unwrap();
    let part = writer
        .finish_part(FinishPartOptions {
            etag: None,
            checksum: Checksum::new(
                ChecksumAlgorithm::Crc32,
                ChecksumType::FullObject,
                "AAAAAA==",
            ),
        })
        .await
        .unwrap();
    assert_eq!(part.part_number, 3);
    assert_eq!(part.size, bytes.len() as u64);
    assert_eq!(part.etag, etag_of(&bytes));
    let state = rig.fake.state();
    let opened = state.part_opens[0].path.as_ref().map(ToString::to_string);
    assert_eq!(opened.as_deref(), Some("/bkt/k"));
    assert_eq!(state.part_opens[0].upload_id, "u1");
    let commit = &state.part_commits[0];
    assert_eq!(commit.chunks.len(), 3);
    assert_eq!(
        commit.checksum.as_ref().map(|c| c.value.as_str()),
        Some("AAAAAA==")
    );
    assert!(state.commits.is_empty());
}

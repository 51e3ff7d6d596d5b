//! Reading files made of chunk slices (multipart completions, ranged part copies) and
//! writing multipart parts, against real chunkds and a fake metad (see `rig`).

mod rig;

use bytes::Bytes;
use dfs_client::{etag_of, CreateOptions, FinishPartOptions};
use dfs_common::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use dfs_common::names::ObjectPath;
use dfs_common::wire::{ChunkInfo, Entry};
use dfs_common::ErrorCode;
use futures_util::StreamExt;
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
    // The whole chunk list in one page, then pages of two slices and of one: the reader asks
    // for the next page where one ends.
    for page in [0, 2, 1] {
        rig.fake.state().chunk_page = page;
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
            assert!(
                got == expected[start..end],
                "range {start}..{end}, pages of {page}"
            );
        }
    }
    let asked = rig.fake.state().pages_asked.len();
    rig.fake.state().pages_asked.clear();
    assert!(asked > 3 * 6, "pages asked: {asked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_between_two_pages_of_its_chunk_list_ends_the_read_with_conflict() {
    let rig = Rig::start(2, 2).await;
    let c = CHUNK as usize;
    let bytes = data(3 * c, 9);
    rig.write("/b/f", &bytes, 10_000).await.unwrap();
    rig.fake.state().chunk_page = 1;
    let reader = rig.client.open("/b/f").await.unwrap();
    // Overwritten after the open: the replacement is a new inode.
    {
        let mut state = rig.fake.state();
        let (entry, chunks) = state.files["/b/f"].clone();
        let replaced = Entry {
            inode: dfs_common::InodeId(entry.inode.0 + 1000),
            ..entry
        };
        state.files.insert("/b/f".into(), (replaced, chunks));
    }
    let mut stream = Box::pin(reader.stream(0, u64::MAX));
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        first[..] == bytes[..c],
        "the first page is the file as opened"
    );
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict, "{err}");
    assert!(stream.next().await.is_none());
    // A range that the first page covers needs no other page, so it still reads.
    let got: Vec<Bytes> = reader.stream(10, 20).map(Result::unwrap).collect().await;
    assert!(got.concat() == bytes[10..20]);
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

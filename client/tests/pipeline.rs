//! The write and read pipelines against real chunkds and a fake metad (see `rig`).

mod rig;

use bytes::Bytes;
use dfs_client::{etag_of, CreateOptions, FinishOptions};
use dfs_common::wire::Replica;
use dfs_common::{ErrorCode, NodeId};
use rig::{data, dead_addr, eventually, Rig, CHUNK};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_boundary_sizes_round_trip() {
    let rig = Rig::start(3, 2).await;
    let c = CHUNK as usize;
    let cases = [
        (0, 1000),
        (1, 1000),
        (c - 1, 10_000),
        (c, c),
        (c + 1, 7),
        (5 * c + 123, 10_000),
        (3 * c, 3 * c),
    ];
    for (index, (size, piece)) in cases.into_iter().enumerate() {
        let path = format!("/b/f{index}");
        let bytes = data(size, index as u8);
        let entry = rig.write(&path, &bytes, piece).await.unwrap();
        assert_eq!(entry.size, size as u64);
        assert_eq!(entry.etag, etag_of(&bytes), "{path}");
        let commit = rig.fake.state().commits.last().cloned().unwrap();
        assert_eq!(commit.chunks.len(), size.div_ceil(c), "{path}");
        for (i, chunk) in commit.chunks.iter().enumerate() {
            let expected = (size - i * c).min(c) as u64;
            assert_eq!(chunk.len, expected, "{path} chunk {i}");
            assert_eq!(chunk.replicas.len(), 2);
            assert_ne!(chunk.replicas[0], chunk.replicas[1]);
        }
        assert_eq!(rig.read(&path, 0, u64::MAX).await.unwrap(), bytes, "{path}");
    }
    // Ranges across chunk boundaries, inside one chunk, and at the very end.
    let bytes = data(5 * c + 123, 5);
    let path = "/b/f5";
    for (start, end) in [
        (0, 1),
        (c - 5, c + 5),
        (c, 2 * c),
        (100, 4 * c + 7),
        (5 * c, 5 * c + 123),
        (5 * c + 122, 5 * c + 500),
    ] {
        let got = rig.read(path, start as u64, end as u64).await.unwrap();
        assert!(
            got == bytes[start..end.min(bytes.len())],
            "range {start}..{end}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_replica_is_replaced_and_avoided_afterwards() {
    let rig = Rig::start(3, 2).await;
    rig.add_dead_node_first(99);
    let bytes = data(3 * CHUNK as usize, 1);
    // One chunk at a time, so the second chunk is placed after the first one's failure.
    let one_at_a_time = CreateOptions {
        max_chunks_in_flight: 1,
        ..CreateOptions::default()
    };
    let entry = rig
        .write_with("/b/x", &bytes, CHUNK as usize, one_at_a_time)
        .await
        .unwrap();
    assert_eq!(entry.size, bytes.len() as u64);
    {
        let state = rig.fake.state();
        let commit = state.commits.last().unwrap();
        for chunk in &commit.chunks {
            assert!(
                !chunk.replicas.contains(&NodeId(99)),
                "{:?}",
                chunk.replicas
            );
            assert_eq!(chunk.replicas.len(), 2);
        }
        // The replacement excluded every node tried for that chunk.
        assert!(state
            .replace_excludes
            .iter()
            .any(|ex| ex.contains(&NodeId(99)) && ex.len() == 2));
        // Later chunks were placed away from the node that failed.
        assert!(state.alloc_excludes.iter().any(|ex| ex == &[NodeId(99)]));
    }
    assert_eq!(rig.read("/b/x", 0, u64::MAX).await.unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_with_no_usable_node_fails_and_aborts_its_session() {
    let rig = Rig::start(0, 1).await;
    rig.add_dead_node_first(1);
    rig.add_dead_node_first(2);
    let err = rig.write("/b/x", &data(1000, 0), 100).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotEnoughNodes, "{err:?}");
    let state = rig.fake.state();
    assert_eq!(state.aborted.len(), 1);
    assert!(state.commits.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fail_over_dead_and_corrupt_replicas() {
    let rig = Rig::start(2, 2).await;
    let bytes = data(2 * CHUNK as usize + 10, 3);
    rig.write("/b/x", &bytes, 5000).await.unwrap();
    // Corrupt every chunk file of the first chunkd, and list a dead replica first.
    let chunks_dir = rig.chunkds[0].1.path().join("chunks");
    for shard in std::fs::read_dir(&chunks_dir).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let mut content = std::fs::read(&path).unwrap();
            let middle = content.len() / 2;
            content[middle] ^= 0xff;
            std::fs::write(&path, content).unwrap();
        }
    }
    {
        let mut state = rig.fake.state();
        let (_, chunks) = state.files.get_mut("/b/x").unwrap();
        for chunk in chunks.iter_mut() {
            chunk.replicas.sort_by_key(|r| r.node);
            chunk.replicas.insert(
                0,
                Replica {
                    node: NodeId(77),
                    addr: dead_addr(),
                    live: true,
                },
            );
        }
    }
    assert_eq!(rig.read("/b/x", 0, u64::MAX).await.unwrap(), bytes);
    // The corrupt copies were really tried: chunkd quarantined them.
    let quarantine = rig.chunkds[0].1.path().join("quarantine");
    assert!(std::fs::read_dir(quarantine).unwrap().count() > 0);
    let end = bytes.len() as u64;
    assert_eq!(
        rig.read("/b/x", 17, end - 3).await.unwrap(),
        bytes[17..bytes.len() - 3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_writer_aborts_its_session() {
    let rig = Rig::start(2, 2).await;
    let mut writer = rig
        .client
        .create("/b/dropped", CreateOptions::default())
        .await
        .unwrap();
    writer
        .write(Bytes::from(data(CHUNK as usize + 5, 0)))
        .await
        .unwrap();
    drop(writer);
    let fake = rig.fake.clone();
    eventually("the abort of the dropped session", || {
        fake.state().aborted.len() == 1
    })
    .await;
    assert!(rig.fake.state().commits.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_given_etag_is_stored_when_the_writer_does_not_hash() {
    let rig = Rig::start(1, 1).await;
    let opts = CreateOptions {
        compute_etag: false,
        max_chunks_in_flight: 1,
    };
    let mut writer = rig.client.create("/b/e", opts).await.unwrap();
    writer.write(Bytes::from(data(3000, 9))).await.unwrap();
    let entry = writer
        .finish(FinishOptions {
            etag: Some("\"abc-2\"".into()),
            content_type: Some("text/plain".into()),
            meta: vec![("x-amz-meta-a".into(), "1".into())],
            ..FinishOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(entry.etag, "\"abc-2\"");
    assert_eq!(entry.content_type.as_deref(), Some("text/plain"));
    assert_eq!(entry.meta, [("x-amz-meta-a".to_owned(), "1".to_owned())]);
}

//! A multipart upload end to end: a real metad, real chunkds in process, and the client
//! library writing parts through its pipeline, copying a range of another object as a part,
//! completing, and reading the object back byte for byte.

use bytes::Bytes;
use dfs_client::{etag_of, CreateOptions, DfsClient, FinishOptions, FinishPartOptions};
use dfs_common::auth::ClusterSecret;
use dfs_common::wire::*;
use dfs_common::ErrorCode;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SECRET: &str = "multipart-test-secret-0123456789";
const MIB: usize = 1 << 20;

struct Cluster {
    metad: dfs_metad::Daemon,
    chunkds: Vec<dfs_chunkd::Daemon>,
    client: DfsClient,
    _dir: TempDir,
}

async fn cluster() -> Cluster {
    let dir = TempDir::new().unwrap();
    let metad = dfs_metad::start(dfs_metad::Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("metad"),
        secret: Some(SECRET.into()),
        replication: 2,
        chunk_size: MIB as u64,
        heartbeat_interval_ms: 100,
        dead_timeout_ms: 5000,
        ..dfs_metad::Config::default()
    })
    .await
    .unwrap();
    let mut chunkds = Vec::new();
    for index in 0..2 {
        let chunkd = dfs_chunkd::start(dfs_chunkd::Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().join(format!("chunkd{index}")),
            metad: metad.addr().to_string(),
            secret: Some(SECRET.into()),
            capacity: Some(1 << 30),
            scrub_interval_secs: 0,
            heartbeat_interval_ms: 100,
            ..dfs_chunkd::Config::default()
        })
        .await
        .unwrap();
        chunkds.push(chunkd);
    }
    let client = DfsClient::new(
        metad.addr().to_string(),
        ClusterSecret::new(SECRET).unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = client.status().await.unwrap();
        let live = status.nodes.iter().filter(|n| n.state == NodeState::Active);
        if live.count() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "chunkds did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.mkdir("/bkt", false).await.unwrap();
    Cluster {
        metad,
        chunkds,
        client,
        _dir: dir,
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

async fn read(client: &DfsClient, path: &str, start: u64, end: u64) -> Vec<u8> {
    let reader = client.open(path).await.unwrap();
    let mut stream = Box::pin(reader.stream(start, end));
    let mut out = Vec::new();
    while let Some(piece) = stream.next().await {
        out.extend_from_slice(&piece.unwrap());
    }
    out
}

async fn write_part(c: &Cluster, id: &str, number: u32, bytes: &[u8]) -> PartInfo {
    let mut writer = c
        .client
        .create_part(
            &"/bkt/big".parse().unwrap(),
            id,
            number,
            CreateOptions::default(),
        )
        .await
        .unwrap();
    // Odd-sized writes, so chunks are cut inside them.
    for piece in bytes.chunks(300_001) {
        writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    writer
        .finish_part(FinishPartOptions::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_written_and_copied_complete_into_one_readable_object() {
    let c = cluster().await;
    // A source object whose bytes a part copy will share.
    let src = data(6 * MIB + 123, 1);
    let mut writer = c
        .client
        .create("/bkt/src", CreateOptions::default())
        .await
        .unwrap();
    writer.write(Bytes::from(src.clone())).await.unwrap();
    writer.finish(FinishOptions::default()).await.unwrap();

    let id = c
        .client
        .uploads()
        .create(&CreateUploadReq {
            path: "/bkt/big".parse().unwrap(),
            content_type: Some("application/x-test".into()),
            meta: vec![],
            checksum_algorithm: None,
            checksum_type: None,
            owner_key: None,
        })
        .await
        .unwrap()
        .upload_id;
    let part1 = data(5 * MIB + 3, 2);
    let p1 = write_part(&c, &id, 1, &part1).await;
    assert_eq!(p1.etag, etag_of(&part1));
    // Part 2: bytes 1000.. of the source, across chunk boundaries, hashed by the caller.
    let (first, last) = (1000u64, 1000 + 5 * MIB as u64 + 9);
    let range = &src[first as usize..=last as usize];
    let p2 = c
        .client
        .uploads()
        .copy_part(&CopyPartReq {
            upload_id: id.clone(),
            part_number: 2,
            path: Some("/bkt/big".parse().unwrap()),
            src: "/bkt/src".parse().unwrap(),
            range: Some((first, last)),
            src_if_match: None,
            src_if_none_match: None,
            src_if_modified_since_ms: None,
            src_if_unmodified_since_ms: None,
            etag: Some(etag_of(range)),
            checksum: None,
            src_inode: None,
        })
        .await
        .unwrap();
    assert_eq!(p2.src_etag, etag_of(&src));
    let part3 = data(777, 3);
    let p3 = write_part(&c, &id, 3, &part3).await;
    // An extra part left out of the completion.
    write_part(&c, &id, 4, &data(10, 4)).await;
    let listed = c
        .client
        .uploads()
        .list_parts(&ListPartsReq {
            upload_id: id.clone(),
            path: None,
            part_number_marker: 0,
            max_parts: 1000,
        })
        .await
        .unwrap();
    assert_eq!(listed.parts.len(), 4);

    let done = c
        .client
        .uploads()
        .complete(&CompleteUploadReq {
            upload_id: id.clone(),
            path: Some("/bkt/big".parse().unwrap()),
            parts: vec![(1, p1.etag), (2, p2.part.etag), (3, p3.etag)],
            if_none_match: true,
            if_match: None,
            checksum: None,
        })
        .await
        .unwrap();
    let mut expected = part1.clone();
    expected.extend_from_slice(range);
    expected.extend_from_slice(&part3);
    assert_eq!(done.entry.size, expected.len() as u64);
    assert!(done.etag.ends_with("-3\""), "{}", done.etag);
    assert_eq!(
        done.entry.part_sizes,
        [part1.len() as u64, range.len() as u64, 777]
    );
    let stat = c.client.stat("/bkt/big").await.unwrap();
    assert_eq!(stat, done.entry);
    assert!(read(&c.client, "/bkt/big", 0, u64::MAX).await == expected);
    // Part 2 alone, as a partNumber read would ask for it.
    let (start, end) = (part1.len() as u64, (part1.len() + range.len()) as u64);
    assert!(read(&c.client, "/bkt/big", start, end).await == range);
    // The source still reads whole after its chunks were shared.
    assert!(read(&c.client, "/bkt/src", 0, u64::MAX).await == src);
    let uploads = c
        .client
        .uploads()
        .list(&ListUploadsReq {
            bucket: "bkt".parse().unwrap(),
            prefix: String::new(),
            delimiter: None,
            key_marker: None,
            upload_id_marker: None,
            max_uploads: 1000,
        })
        .await
        .unwrap();
    assert!(uploads.uploads.is_empty());
    let gone = c
        .client
        .uploads()
        .abort(&AbortUploadReq {
            upload_id: id,
            path: None,
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code, ErrorCode::NotFound);

    for chunkd in c.chunkds {
        chunkd.stop().await;
    }
    c.metad.stop().await;
}

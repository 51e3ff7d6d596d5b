//! Files of every boundary size round trip through the `dfs` CLI against a real cluster.

use dfs_testkit::{test_bytes, Cluster, ClusterOptions};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_boundary_sizes_round_trip_byte_for_byte() {
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let chunk = cluster.options().chunk_size as usize;
    cluster.dfs_ok(&["mkdir", "/b"]);
    let sizes = [0, 1, chunk - 1, chunk, chunk + 1, 100 << 20];
    for (index, size) in sizes.into_iter().enumerate() {
        let data = test_bytes(size, index as u64);
        let local = cluster.dir().join(format!("in-{index}"));
        std::fs::write(&local, &data).unwrap();
        let remote = format!("/b/file-{index}");
        cluster.dfs_ok(&["put", local.to_str().unwrap(), &remote]);

        let back = cluster.dir().join(format!("out-{index}"));
        cluster.dfs_ok(&["get", &remote, back.to_str().unwrap()]);
        let read = std::fs::read(&back).unwrap();
        assert_eq!(read.len(), size, "size of {remote}");
        assert!(read == data, "content of {remote} differs");

        let entry = cluster.client().stat(&remote).await.unwrap();
        assert_eq!(entry.size, size as u64);
        assert_eq!(
            entry.chunk_count,
            size.div_ceil(chunk) as u64,
            "chunks of {remote}"
        );
        let md5 = format!("\"{}\"", md5_hex(&data));
        assert_eq!(entry.etag, md5, "ETag of {remote}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_reads_through_the_client_library() {
    use futures_util::StreamExt;
    let options = ClusterOptions {
        chunk_size: 1 << 20,
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await.unwrap();
    let client = cluster.client();
    client.mkdir("/r", false).await.unwrap();
    let data = test_bytes(3 * (1 << 20) + 12_345, 7);
    let local = cluster.dir().join("ranged");
    std::fs::write(&local, &data).unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/r/file"]);

    let reader = client.open("/r/file").await.unwrap();
    let cases = [
        (0, 1),
        (0, data.len()),
        (1 << 20, 2 << 20),
        ((1 << 20) - 5, (1 << 20) + 5),
        (data.len() - 1, data.len()),
    ];
    for (start, end) in cases {
        let mut got = Vec::new();
        let mut stream = Box::pin(reader.stream(start as u64, end as u64));
        while let Some(piece) = stream.next().await {
            got.extend_from_slice(&piece.unwrap());
        }
        assert!(got == data[start..end], "range {start}..{end}");
    }
}

/// `put --part-size` writes a multipart upload: the parts are the file's pieces in order (the
/// last one short, or none left over when the file ends on a part boundary), the object reads
/// back byte for byte with S3's multipart ETag, and no upload is left open. A part size S3
/// would refuse is a one-line error before anything is written, and so is a bucket whose
/// name is no S3 bucket name (a multipart upload needs one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_a_part_size_writes_a_multipart_object() {
    const MIB: usize = 1 << 20;
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    cluster.dfs_ok(&["mkdir", "/parts"]);
    for (index, size) in [12 * MIB + 3, 10 * MIB].into_iter().enumerate() {
        let data = test_bytes(size, 40 + index as u64);
        let local = cluster.dir().join(format!("parts-{index}"));
        std::fs::write(&local, &data).unwrap();
        let remote = format!("/parts/file-{index}");
        cluster.dfs_ok(&["put", "--part-size", "5M", local.to_str().unwrap(), &remote]);

        let back = cluster.dir().join(format!("parts-back-{index}"));
        cluster.dfs_ok(&["get", &remote, back.to_str().unwrap()]);
        assert!(std::fs::read(&back).unwrap() == data, "content of {remote}");
        let entry = cluster.client().stat(&remote).await.unwrap();
        let parts: Vec<&[u8]> = data.chunks(5 * MIB).collect();
        let sizes: Vec<u64> = parts.iter().map(|p| p.len() as u64).collect();
        assert_eq!(entry.part_sizes, sizes, "parts of {remote}");
        let digests: Vec<u8> = parts
            .iter()
            .flat_map(|p| {
                use md5::Digest;
                md5::Md5::digest(p).to_vec()
            })
            .collect();
        let etag = format!("\"{}-{}\"", md5_hex(&digests), parts.len());
        assert_eq!(entry.etag, etag, "ETag of {remote}");
    }
    assert_eq!(cluster.dfs_ok(&["uploads", "ls", "parts"]).trim(), "");

    let local = cluster.dir().join("parts-0");
    let err = cluster.dfs_err(&[
        "put",
        "--part-size",
        "1M",
        local.to_str().unwrap(),
        "/parts/small",
    ]);
    assert!(
        err.contains("--part-size must be between 5.0 MiB and"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(cluster.client().stat("/parts/small").await.is_err());
    cluster.dfs_ok(&["mkdir", "/b"]);
    let err = cluster.dfs_err(&["put", "--part-size", "5M", local.to_str().unwrap(), "/b/x"]);
    assert!(
        err.contains("multipart upload needs an S3 object path"),
        "{err}"
    );
    assert!(cluster.client().stat("/b/x").await.is_err());
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// A download that started before the object was overwritten reads the old object whole:
/// the chunks the overwrite released stay on the chunkds for the release grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_started_before_an_overwrite_reads_the_old_object_whole() {
    use futures_util::StreamExt;
    const MIB: usize = 1 << 20;
    let cluster = Cluster::start(ClusterOptions {
        chunk_size: MIB as u64,
        metad_toml: "release_grace_secs = 120\n".into(),
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let client = cluster.client();
    client.mkdir("/g", false).await.unwrap();
    let old = test_bytes(6 * MIB, 1);
    let local = cluster.dir().join("old");
    std::fs::write(&local, &old).unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/g/file"]);

    let reader = client.open("/g/file").await.unwrap();
    let mut stream = Box::pin(reader.stream(0, u64::MAX));
    let mut got = stream.next().await.unwrap().unwrap().to_vec();

    let new = test_bytes(6 * MIB, 2);
    std::fs::write(&local, &new).unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/g/file"]);
    // The old chunks are queued for collection; give the collector (which runs every
    // heartbeat, 200 ms here) many rounds to delete them, as it would without the grace.
    cluster
        .wait_for(
            "the old chunks to be queued",
            Duration::from_secs(30),
            || async { client.status().await.is_ok_and(|s| s.gc_queue >= 6) },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

    while let Some(piece) = stream.next().await {
        match piece {
            Ok(bytes) => got.extend_from_slice(&bytes),
            Err(e) => panic!(
                "the read broke after {} bytes: {e}\n{}",
                got.len(),
                cluster.log_tails()
            ),
        }
    }
    assert!(got == old, "the read mixed in other bytes");
}

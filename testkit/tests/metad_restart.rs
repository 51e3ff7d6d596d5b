//! metad restarts under load and no error reaches a user: a `dfs put` of 200 MiB and a loop of
//! S3 PUTs through the gateway both run across a SIGKILL and restart of metad, and every write
//! they acknowledge is there afterwards. What rides it out is the client library's one retry
//! policy, which the CLI and the gateway share.

use dfs_testkit::{s3_request, Cluster, ClusterOptions, REGION};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BIG: usize = 200 << 20;
const SMALL: usize = 64 << 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metad_restart_under_load_reaches_no_user() {
    let mut cluster = Cluster::start(ClusterOptions {
        chunkds: 3,
        gateway: true,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let (addr, key) = cluster.create_s3_bucket("restart");

    let local = cluster.dir().join("big.bin");
    std::fs::write(&local, dfs_testkit::test_bytes(BIG, 7)).unwrap();
    let put = cluster
        .dfs()
        .args(["put", local.to_str().unwrap(), "/restart/big.bin"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, addr, key) = (stop.clone(), addr.clone(), key.clone());
        std::thread::spawn(move || {
            let body = dfs_testkit::test_bytes(SMALL, 3);
            let mut stored = Vec::new();
            let mut refused = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 10_000 {
                let path = format!("/restart/small-{n:05}");
                match s3_request(&addr, &key, REGION, "PUT", &path, &body) {
                    Ok(answer) if answer.status == 200 => stored.push(path),
                    Ok(answer) => refused.push(format!("{path}: {}", answer.text)),
                    Err(e) => refused.push(format!("{path}: {e}")),
                }
                n += 1;
            }
            (stored, refused)
        })
    };

    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.kill_metad();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.restart_metad().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);

    let (stored, refused) = writer.join().unwrap();
    let put = tokio::task::spawn_blocking(move || put.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        refused.is_empty(),
        "S3 PUTs failed across the restart:\n{}\n{}",
        refused.join("\n"),
        cluster.log_tails()
    );
    assert!(
        put.status.success(),
        "dfs put failed across the restart: {}\n{}",
        String::from_utf8_lossy(&put.stderr),
        cluster.log_tails()
    );
    assert!(
        stored.len() > 3,
        "the S3 loop made too few PUTs: {}",
        stored.len()
    );

    let client = cluster.client();
    let big = client.stat("/restart/big.bin").await.unwrap();
    assert_eq!(big.size, BIG as u64);
    for path in &stored {
        let entry = client.stat(path).await.unwrap();
        assert_eq!(entry.size, SMALL as u64, "{path}");
    }
}

/// An S3 client that aborts a multipart upload while metad is down gets a 503 (the abort was
/// not done), and the gateway sends the abort again once metad is back: the upload does not
/// linger, holding its parts, until its expiry days later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_sent_while_metad_is_down_is_done_once_it_is_back() {
    let mut cluster = Cluster::start(ClusterOptions {
        chunkds: 2,
        gateway: true,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let (addr, key) = cluster.create_s3_bucket("aborts");
    let created = s3_request(&addr, &key, REGION, "POST", "/aborts/k?uploads=", b"").unwrap();
    assert_eq!(created.status, 200, "{}", created.text);
    let upload_id = created
        .body()
        .split_once("<UploadId>")
        .and_then(|(_, rest)| rest.split_once("</UploadId>"))
        .map(|(id, _)| id.to_owned())
        .expect("an upload id");
    let client = cluster.client();
    assert_eq!(open_uploads(&client, "aborts").await.unwrap(), 1);

    cluster.kill_metad();
    let abort = format!("/aborts/k?uploadId={upload_id}");
    let answer = tokio::task::spawn_blocking(move || {
        s3_request(&addr, &key, REGION, "DELETE", &abort, b"").unwrap()
    })
    .await
    .unwrap();
    assert_eq!(answer.status, 503, "{}", answer.text);
    cluster.restart_metad().await.unwrap();

    cluster
        .wait_for(
            "the abort to be sent again",
            Duration::from_secs(60),
            || async { open_uploads(&client, "aborts").await.is_ok_and(|n| n == 0) },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log_tails()));
    assert!(
        cluster
            .log(dfs_testkit::Role::Gateway)
            .contains("a pending abort is done"),
        "{}",
        cluster.log_tails()
    );
}

/// How many uploads are open in `bucket` (up to 10).
async fn open_uploads(
    client: &dfs_client::DfsClient,
    bucket: &str,
) -> Result<usize, dfs_common::RpcError> {
    let req = dfs_common::wire::ListUploadsReq {
        bucket: dfs_common::names::BucketName::new(bucket.to_owned()).unwrap(),
        prefix: String::new(),
        delimiter: None,
        key_marker: None,
        upload_id_marker: None,
        max_uploads: 10,
    };
    client
        .uploads()
        .list(&req)
        .await
        .map(|page| page.uploads.len())
}

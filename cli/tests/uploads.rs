//! Open multipart uploads through the real `dfs` binary: `uploads ls` and `uploads abort`.

use bytes::Bytes;
use dfs_client::{CreateOptions, FinishPartOptions};
use dfs_common::wire::CreateUploadReq;
use dfs_testkit::{test_bytes, Cluster, ClusterOptions};

/// Starts an upload of `/bucket/key` and returns its id.
async fn create_upload(cluster: &Cluster, path: &str) -> String {
    cluster
        .client()
        .uploads()
        .create(&CreateUploadReq {
            path: path.parse().unwrap(),
            content_type: None,
            meta: Vec::new(),
            checksum_algorithm: None,
            checksum_type: None,
            owner_key: None,
        })
        .await
        .unwrap()
        .upload_id
}

/// The line of `table` that mentions `needle`.
fn line_with<'a>(table: &'a str, needle: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle} in:\n{table}"))
}

/// Checks that neither `ls` nor `show` of the bucket shows anything of the uploads.
fn assert_bucket_looks_empty(cluster: &Cluster) {
    for args in [
        &["ls", "/bkt"][..],
        &["ls", "-l", "/bkt"],
        &["show", "/bkt"],
    ] {
        let out = cluster.dfs_ok(args);
        assert!(
            !out.contains("video") && !out.contains("logs"),
            "{args:?}:\n{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_abort_uploads_through_the_cli() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 1,
        replication: 1,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let client = cluster.client();
    client.mkdir("/bkt", false).await.unwrap();

    // No upload: no output at all.
    assert_eq!(cluster.dfs_ok(&["uploads", "ls", "bkt"]), "");
    assert_eq!(
        cluster.dfs_err(&["uploads", "ls", "nob"]),
        "error: no such bucket: nob\n"
    );

    // One upload with a part of 3000 bytes, one without parts.
    let path = "/bkt/videos/trip.mp4";
    let id = create_upload(&cluster, path).await;
    let mut writer = client
        .create_part(&path.parse().unwrap(), &id, 1, CreateOptions::default())
        .await
        .unwrap();
    writer
        .write(Bytes::from(test_bytes(3000, 7)))
        .await
        .unwrap();
    let part = writer
        .finish_part(FinishPartOptions::default())
        .await
        .unwrap();
    assert_eq!(part.size, 3000);
    let other = create_upload(&cluster, "/bkt/logs/today").await;
    assert_bucket_looks_empty(&cluster);

    let listed = cluster.dfs_ok(&["uploads", "ls", "bkt"]);
    assert!(listed.starts_with("KEY "), "{listed}");
    assert!(listed.contains("INITIATED (UTC)"), "{listed}");
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(line_with(&listed, &id).starts_with("videos/trip.mp4 "));
    assert!(line_with(&listed, &other).starts_with("logs/today "));

    let long = cluster.dfs_ok(&["uploads", "ls", "-l", "/bkt"]);
    assert!(
        line_with(&long, "KEY").trim_end().ends_with("PARTS  BYTES"),
        "{long}"
    );
    assert!(
        line_with(&long, &id).trim_end().ends_with(" 1   3000"),
        "{long}"
    );
    assert!(
        line_with(&long, &other).trim_end().ends_with(" 0      0"),
        "{long}"
    );

    let filtered = cluster.dfs_ok(&["uploads", "ls", "--prefix", "videos/", "bkt"]);
    assert!(
        filtered.contains(&id) && !filtered.contains(&other),
        "{filtered}"
    );

    // Abort: the upload goes; its id under another key is not found either.
    assert_eq!(
        cluster.dfs_err(&["uploads", "abort", "bkt", "logs/today", &id]),
        format!("error: no such upload: {id} of /bkt/logs/today\n")
    );
    assert_eq!(
        cluster.dfs_ok(&["uploads", "abort", "bkt", "videos/trip.mp4", &id]),
        ""
    );
    let listed = cluster.dfs_ok(&["uploads", "ls", "bkt"]);
    assert!(!listed.contains(&id), "{listed}");
    assert!(listed.contains(&other), "{listed}");
    assert_eq!(
        cluster.dfs_err(&["uploads", "abort", "bkt", "videos/trip.mp4", &id]),
        format!("error: no such upload: {id} of /bkt/videos/trip.mp4\n")
    );
    assert_bucket_looks_empty(&cluster);

    // The shell knows the commands too.
    let script = format!("help uploads\nuploads abort bkt logs/today {other}\nuploads ls bkt\n");
    let out = cluster.run_dfs_with_input(&["shell"], Some(&script));
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("usage: uploads ls [-l] [--prefix P] BUCKET"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("example: uploads abort "),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&other), "{}", out.stdout);
    assert_eq!(cluster.dfs_ok(&["uploads", "ls", "-l", "bkt"]), "");
    assert_bucket_looks_empty(&cluster);
}

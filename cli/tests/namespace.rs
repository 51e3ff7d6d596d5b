//! Directory operations against a real cluster: mkdir, ls, an atomic mv of a directory with many
//! files, rm -r and the garbage collection that follows.

use dfs_common::ErrorCode;
use dfs_testkit::{test_bytes, Cluster, ClusterOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const FILES: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_a_directory_is_atomic_and_rm_r_collects_everything() {
    let cluster = Cluster::start(ClusterOptions {
        chunk_size: 1 << 20,
        // Collected at once, to see the end of the collection.
        metad_toml: "release_grace_secs = 0\n".into(),
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let client = cluster.client();
    cluster.dfs_ok(&["mkdir", "-p", "/b/src/deep"]);
    let local = cluster.dir().join("seed");
    std::fs::write(&local, test_bytes(1_500_000, 1)).unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/b/src/deep/seed"]);
    // Copies share the seed's chunks, so many files cost only metadata.
    for index in 0..FILES {
        client
            .copy("/b/src/deep/seed", &format!("/b/src/f{index:04}"))
            .await
            .unwrap();
    }
    let listed = cluster.dfs_ok(&["ls", "/b/src"]);
    assert!(
        listed.lines().any(|l| l.trim_end() == "deep/"),
        "ls shows the subdirectory:\n{listed}"
    );
    assert!(listed.contains("f0299"), "ls shows the files:\n{listed}");

    // An observer lists both places while the rename happens: each listing must show the whole
    // directory or nothing, and the directory is never missing from both places.
    let done = Arc::new(AtomicBool::new(false));
    let observer = {
        let client = client.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut observations = 0;
            while !done.load(Ordering::SeqCst) || observations < 20 {
                let src = count_or_missing(&client, "/b/src").await;
                let dst = count_or_missing(&client, "/b/moved").await;
                for count in [src, dst].into_iter().flatten() {
                    assert_eq!(count, FILES + 1, "a listing saw part of the directory");
                }
                assert!(
                    src.is_some() || dst.is_some(),
                    "the directory vanished from both places"
                );
                observations += 1;
            }
            observations
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    cluster.dfs_ok(&["mv", "/b/src", "/b/moved"]);
    done.store(true, Ordering::SeqCst);
    assert!(observer.await.unwrap() >= 20);

    assert_eq!(
        client.stat("/b/src").await.unwrap_err().code,
        ErrorCode::NotFound
    );
    let out = cluster.dir().join("moved-seed");
    cluster.dfs_ok(&["get", "/b/moved/f0150", out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == test_bytes(1_500_000, 1));

    let err = cluster.dfs_err(&["rm", "/b/moved"]);
    assert!(
        err.contains("not empty"),
        "rm without -r on a full directory: {err}"
    );
    cluster.dfs_ok(&["rm", "-r", "/b/moved"]);
    assert_eq!(
        client.stat("/b/moved").await.unwrap_err().code,
        ErrorCode::NotFound
    );
    assert!(client.list_all("/b").await.unwrap().is_empty());

    // Every chunk lost its last reference: metad forgets them and the chunkds delete them.
    cluster
        .wait_for(
            "garbage collection of every chunk",
            Duration::from_secs(30),
            || async {
                client
                    .status()
                    .await
                    .map(|s| s.chunks == 0 && s.gc_queue == 0)
                    .unwrap_or(false)
            },
        )
        .await
        .unwrap();
}

async fn count_or_missing(client: &dfs_client::DfsClient, path: &str) -> Option<usize> {
    match client.list(path, None, 1000).await {
        Ok(page) => Some(page.entries.len()),
        Err(e) if e.code == ErrorCode::NotFound => None,
        Err(e) => panic!("listing {path}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_errors_for_namespace_mistakes() {
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    cluster.dfs_ok(&["mkdir", "/b"]);
    let local = cluster.dir().join("small");
    std::fs::write(&local, b"hello").unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/b/file"]);

    let err = cluster.dfs_err(&["ls", "/b/nothing"]);
    assert!(err.contains("no such file or directory"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let err = cluster.dfs_err(&["ls", "/b/file/x"]);
    assert!(
        err.contains("not a directory") || err.contains("no such file"),
        "{err}"
    );
    let err = cluster.dfs_err(&["mkdir", "/b"]);
    assert!(err.contains("already exists"), "{err}");
    let err = cluster.dfs_err(&["put", local.to_str().unwrap(), "/nobucket/x"]);
    assert!(err.contains("no such"), "{err}");

    // Keys `a` and `a/b` coexist, as in S3.
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/b/a"]);
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/b/a/b"]);
    let listed = cluster.dfs_ok(&["ls", "/b"]);
    assert!(listed.lines().any(|l| l.trim_end() == "a"), "{listed}");
    assert!(listed.lines().any(|l| l.trim_end() == "a/"), "{listed}");

    // stat names the chunk and its replicas.
    let stat = cluster.dfs_ok(&["stat", "/b/file"]);
    assert!(stat.contains("live"), "{stat}");

    // show prints the tree.
    let tree = cluster.dfs_ok(&["show", "/b"]);
    assert!(tree.contains("a/") && tree.contains("file"), "{tree}");

    let unreachable = cluster
        .dfs()
        .args(["ls", "/"])
        .env(
            "DFS_METAD",
            format!("127.0.0.1:{}", dfs_testkit::free_port().unwrap()),
        )
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    let err = String::from_utf8_lossy(&unreachable.stderr);
    assert!(err.contains("cannot reach metad"), "{err}");
    // The person is told once, at the first retry, why the command waits.
    assert_eq!(err.matches("retrying for up to").count(), 1, "{err}");
}

//! `dfs metad snapshot DIR`: an online snapshot of metad's database is a metad data folder as
//! of that instant. A second metad started on it knows every file written before the snapshot
//! and none written after.

use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
use dfs_common::ErrorCode;
use dfs_testkit::{free_port, Cluster, ClusterOptions};
use std::process::{Child, Command, Stdio};

/// A metad process started by this test, ended when dropped.
struct OwnMetad(Child);

impl Drop for OwnMetad {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restores_the_namespace_as_it_was() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 1,
        replication: 1,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let local = cluster.dir().join("f.bin");
    std::fs::write(&local, b"before the snapshot").unwrap();
    cluster.dfs_ok(&["mkdir", "/snap"]);
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/snap/before"]);

    let dir = cluster.dir().join("metad-snapshot");
    let dir = dir.to_str().unwrap();
    let out = cluster.dfs_ok(&["metad", "snapshot", dir]);
    assert!(
        out.starts_with(&format!("snapshot written to {dir} on metad's host: ")),
        "{out}"
    );
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/snap/after"]);

    // One clear line for a folder that exists, and for a relative path.
    let again = cluster.dfs_err(&["metad", "snapshot", dir]);
    assert!(again.contains("already exists"), "{again}");
    let relative = cluster.dfs_err(&["metad", "snapshot", "backups/x"]);
    assert!(relative.contains("absolute path"), "{relative}");

    // A metad started on the snapshot.
    let port = free_port().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let _restored = OwnMetad(
        Command::new(cluster.binary("metad"))
            .args(["--listen", &addr, "--data", dir, "--secret-file"])
            .arg(cluster.secret_file())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let secret = ClusterSecret::from_file(cluster.secret_file()).unwrap();
    let restored = DfsClient::new(addr, secret);
    let before = restored.stat("/snap/before").await.unwrap();
    assert_eq!(before.size, b"before the snapshot".len() as u64);
    let after = restored.stat("/snap/after").await.unwrap_err();
    assert_eq!(after.code, ErrorCode::NotFound);
}

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

/// A cluster of one chunkd, which is all these tests need.
async fn small_cluster() -> Cluster {
    Cluster::start(ClusterOptions {
        chunkds: 1,
        replication: 1,
        ..ClusterOptions::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restores_the_namespace_as_it_was() {
    let cluster = small_cluster().await;
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
    let _restored = own_metad(&cluster, &addr, dir, None);
    let secret = ClusterSecret::from_file(cluster.secret_file()).unwrap();
    let restored = DfsClient::new(addr, secret);
    let before = restored.stat("/snap/before").await.unwrap();
    assert_eq!(before.size, b"before the snapshot".len() as u64);
    let after = restored.stat("/snap/after").await.unwrap_err();
    assert_eq!(after.code, ErrorCode::NotFound);
}

/// Starts a metad process of this test.
fn own_metad(cluster: &Cluster, addr: &str, data: &str, group: Option<(u64, &str)>) -> OwnMetad {
    let mut command = Command::new(cluster.binary("metad"));
    command
        .args(["--listen", addr, "--data", data, "--secret-file"])
        .arg(cluster.secret_file())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((id, peers)) = group {
        command.args(["--id", &id.to_string(), "--peers", peers]);
    }
    OwnMetad(command.spawn().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restored_into_a_fresh_group_of_three_has_every_acknowledged_file() {
    let cluster = small_cluster().await;
    let local = cluster.dir().join("f.bin");
    std::fs::write(&local, b"acknowledged before the snapshot").unwrap();
    cluster.dfs_ok(&["mkdir", "/restore"]);
    for n in 0..20 {
        cluster.dfs_ok(&["put", local.to_str().unwrap(), &format!("/restore/f{n:02}")]);
    }
    let dir = cluster.dir().join("backup");
    let dir = dir.to_str().unwrap();
    cluster.dfs_ok(&["metad", "snapshot", dir]);
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/restore/after"]);

    // The backup restored as a group of one, then grown to three with `dfs metad add`.
    let addrs: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", free_port().unwrap()))
        .collect();
    let peers = dfs_testkit::peer_list(&addrs);
    let _first = own_metad(&cluster, &addrs[0], dir, None);
    let mut others = Vec::new();
    for id in [2u64, 3] {
        let data = cluster.dir().join(format!("member-{id}"));
        let addr = &addrs[id as usize - 1];
        others.push(own_metad(
            &cluster,
            addr,
            data.to_str().unwrap(),
            Some((id, &peers)),
        ));
    }
    let secret = ClusterSecret::from_file(cluster.secret_file()).unwrap();
    let first = DfsClient::new(addrs[0].clone(), secret.clone());
    first.stat("/restore/f00").await.unwrap();
    for id in [2u64, 3] {
        let addr = &addrs[id as usize - 1];
        let mut tries = 0;
        while let Err(e) = first.nodes().add_metad(id, addr).await {
            tries += 1;
            assert!(tries < 5, "member {id} was not added: {e}");
        }
    }
    let status = first.status().await.unwrap();
    assert_eq!(status.metad.len(), 3, "{:?}", status.metad);

    // Without the member the backup was restored on, the two added ones (which got the state
    // by snapshot) are a majority and serve every file of the backup.
    drop(_first);
    let two = DfsClient::new(addrs[1..].join(","), secret);
    for n in 0..20 {
        let path = format!("/restore/f{n:02}");
        let entry = two
            .stat(&path)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(entry.size, b"acknowledged before the snapshot".len() as u64);
    }
    let after = two.stat("/restore/after").await.unwrap_err();
    assert_eq!(after.code, ErrorCode::NotFound);
}

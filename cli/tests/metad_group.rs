//! `--metad` takes the metad group's members: any one of them is a first contact, so a list
//! whose first member is down still works, and a list that names nobody is refused where it is
//! typed. A chunkd keeps heartbeating through a metad restart instead of registering again.

use dfs_testkit::{free_port, http_get, Cluster, ClusterOptions, Role};
use std::time::Duration;

fn options() -> ClusterOptions {
    ClusterOptions {
        chunkds: 1,
        replication: 1,
        ..ClusterOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_member_of_the_list_is_a_first_contact() {
    let cluster = Cluster::start(options()).await.unwrap();
    let dead = format!("127.0.0.1:{}", free_port().unwrap());
    let list = format!("{dead}, {}", cluster.metad_addr());
    cluster.dfs_ok(&["--metad", &list, "mkdir", "/grp"]);
    let listed = cluster.dfs_ok(&["--metad", &list, "ls", "/"]);
    assert!(listed.lines().any(|l| l.trim_end() == "grp/"), "{listed}");

    // A single metad shows as a group of one.
    let status = cluster.dfs_ok(&["--metad", &list, "status"]);
    let member = status
        .lines()
        .find(|l| l.contains(cluster.metad_addr()))
        .unwrap_or_else(|| panic!("no metad line in:\n{status}"));
    assert!(
        member.trim_start().starts_with("1 ") && member.contains(" leader "),
        "{status}"
    );

    let refused = cluster.dfs_err(&["--metad", " , ", "ls", "/"]);
    assert!(refused.contains("no metad address"), "{refused}");
}

/// How many heartbeats metad has served since it started (from its `/metrics`).
async fn heartbeats_served(cluster: &Cluster) -> u64 {
    let metrics = http_get(cluster.metad_addr(), "/metrics")
        .await
        .unwrap_or_default();
    metrics
        .lines()
        .filter(|l| l.starts_with("dfs_metad_rpc_duration_seconds_count{"))
        .filter(|l| l.contains("method=\"heartbeat\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// How many times chunkd 0 has registered.
fn registrations(cluster: &Cluster) -> usize {
    cluster
        .log(Role::Chunkd(0))
        .lines()
        .filter(|line| line.contains(" registered ") && line.contains("metad="))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_heartbeats_do_not_cause_a_registration() {
    let mut cluster = Cluster::start(options()).await.unwrap();
    assert_eq!(
        registrations(&cluster),
        1,
        "{}",
        cluster.log(Role::Chunkd(0))
    );
    cluster.kill_metad();
    cluster
        .wait_for(
            "a heartbeat to fail while metad is down",
            Duration::from_secs(30),
            || async { cluster.log(Role::Chunkd(0)).contains("heartbeat failed") },
        )
        .await
        .unwrap();
    cluster.restart_metad().await.unwrap();
    // A heartbeat reached the restarted metad: had chunkd given up on heartbeats, it would
    // have registered again before sending one.
    cluster
        .wait_for(
            "a heartbeat to reach the restarted metad",
            Duration::from_secs(30),
            || async { heartbeats_served(&cluster).await > 0 },
        )
        .await
        .unwrap();
    cluster.dfs_ok(&["mkdir", "/after"]);
    let local = cluster.dir().join("one.bin");
    std::fs::write(&local, b"written after the restart").unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/after/one.bin"]);
    let listed = cluster.dfs_ok(&["ls", "/after"]);
    assert!(listed.contains("one.bin"), "{listed}");
    assert_eq!(
        registrations(&cluster),
        1,
        "{}",
        cluster.log(Role::Chunkd(0))
    );
}

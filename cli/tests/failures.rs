//! Crashes: a chunkd killed with SIGKILL, metad killed with SIGKILL, too few chunkds left.

use dfs_common::wire::NodeState;
use dfs_testkit::{test_bytes, Cluster, ClusterOptions, Role};
use std::time::Duration;

const MIB: usize = 1 << 20;

fn options() -> ClusterOptions {
    ClusterOptions {
        chunk_size: MIB as u64,
        ..ClusterOptions::default()
    }
}

/// Puts `count` files of a few chunks each under /b and returns their contents.
fn put_files(cluster: &Cluster, count: usize) -> Vec<(String, Vec<u8>)> {
    cluster.dfs_ok(&["mkdir", "-p", "/b"]);
    (0..count)
        .map(|index| {
            let data = test_bytes(3 * MIB + index * 1000, index as u64 + 100);
            let local = cluster.dir().join(format!("in-{index}"));
            std::fs::write(&local, &data).unwrap();
            let remote = format!("/b/f{index}");
            cluster.dfs_ok(&["put", local.to_str().unwrap(), &remote]);
            (remote, data)
        })
        .collect()
}

fn assert_reads_back(cluster: &Cluster, files: &[(String, Vec<u8>)]) {
    for (remote, data) in files {
        let out = cluster.dir().join("read-back");
        cluster.dfs_ok(&["get", remote, out.to_str().unwrap()]);
        assert!(
            std::fs::read(&out).unwrap() == *data,
            "{remote} reads back changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_chunkd_loses_nothing_and_replicas_are_restored() {
    let mut cluster = Cluster::start(options()).await.unwrap();
    let files = put_files(&cluster, 8);
    let killed_addr = cluster.chunkd_addr(0).to_owned();
    cluster.kill_chunkd(0);

    // At once, before metad noticed: reads fail over to the other replica.
    assert_reads_back(&cluster, &files);

    let client = cluster.client();
    cluster
        .wait_for(
            "metad to declare the chunkd dead and restore 2 live replicas",
            Duration::from_secs(60),
            || async {
                match client.status().await {
                    Ok(s) => {
                        s.under_replicated == 0
                            && s.repair_queue == 0
                            && s.nodes
                                .iter()
                                .any(|n| n.addr == killed_addr && n.state == NodeState::Dead)
                    }
                    Err(_) => false,
                }
            },
        )
        .await
        .unwrap();
    for (remote, _) in &files {
        let stat = client.stat_chunks(remote, 0, u64::MAX).await.unwrap();
        for chunk in &stat.chunks {
            let live: Vec<_> = chunk.replicas.iter().filter(|r| r.live).collect();
            assert_eq!(
                live.len(),
                2,
                "chunk {} of {remote}: {:?}",
                chunk.id,
                chunk.replicas
            );
            assert!(live.iter().all(|r| r.addr != killed_addr));
        }
    }
    let status = cluster.dfs_ok(&["status"]);
    assert!(
        status.contains("dead"),
        "dfs status shows the dead node:\n{status}"
    );
    assert_reads_back(&cluster, &files);

    // The node comes back: metad reconciles what it holds and nothing breaks.
    cluster.restart_chunkd(0).unwrap();
    cluster
        .wait_for(
            "the chunkd to come back",
            Duration::from_secs(30),
            || async { cluster.live_nodes().await.map(|n| n == 3).unwrap_or(false) },
        )
        .await
        .unwrap();
    assert_reads_back(&cluster, &files);
}

/// A chunk file deleted on a live chunkd (by hand, a failing disk) is found by the chunkd's
/// inventory pass without any read touching it, reported, and metad copies the chunk again:
/// it is back at two live replicas whose files are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_file_deleted_on_a_live_chunkd_is_copied_again() {
    let cluster = Cluster::start(ClusterOptions {
        chunkd_args: vec!["--inventory-interval-secs".into(), "1".into()],
        ..options()
    })
    .await
    .unwrap();
    let files = put_files(&cluster, 1);
    let client = cluster.client();
    let stat = client.stat_chunks(&files[0].0, 0, u64::MAX).await.unwrap();
    let id = stat.chunks[0].id;
    let chunkd_dir = |addr: &str| {
        let index = (0..3)
            .find(|i| cluster.chunkd_addr(*i) == addr)
            .expect("a chunkd of the cluster");
        cluster.dir().join(format!("chunkd-{}", index + 1))
    };
    let chunk_file = |addr: &str| {
        // chunkd's layout 2: the folder is named after the id's last two hex digits.
        let name = id.to_string();
        let folder = &name[name.len() - 2..];
        chunkd_dir(addr).join("chunks").join(folder).join(&name)
    };
    let lost_on = stat.chunks[0].replicas[0].addr.clone();
    std::fs::remove_file(chunk_file(&lost_on)).unwrap();

    let path = files[0].0.clone();
    let report = format!(
        "node reported a corrupt copy; repair queued node={}",
        stat.chunks[0].replicas[0].node
    );
    cluster
        .wait_for(
            "the loss to be found and the chunk copied again",
            Duration::from_secs(60),
            || async {
                let reported = cluster.log(Role::Metad).contains(&report);
                let Ok(stat) = client.stat_chunks(&path, 0, u64::MAX).await else {
                    return false;
                };
                let Some(chunk) = stat.chunks.iter().find(|c| c.id == id) else {
                    return false;
                };
                let live: Vec<_> = chunk.replicas.iter().filter(|r| r.live).collect();
                reported && live.len() == 2 && live.iter().all(|r| chunk_file(&r.addr).exists())
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log_tails()));
    let status = client.status().await.unwrap();
    assert_eq!(status.under_replicated, 0);
    assert_reads_back(&cluster, &files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_metad_kill() {
    let mut cluster = Cluster::start(options()).await.unwrap();
    let files = put_files(&cluster, 5);
    cluster.dfs_ok(&["rm", "/b/f4"]);
    cluster.dfs_ok(&["mkdir", "/b/kept"]);
    cluster.dfs_ok(&["mv", "/b/f3", "/b/kept/f3"]);
    cluster.kill_metad();
    cluster.restart_metad().await.unwrap();

    assert_reads_back(&cluster, &files[..3]);
    let out = cluster.dir().join("moved");
    cluster.dfs_ok(&["get", "/b/kept/f3", out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == files[3].1);
    let err = cluster.dfs_err(&["stat", "/b/f4"]);
    assert!(err.contains("no such file"), "{err}");
    // And the restarted metad takes new writes.
    let more = put_files(&cluster, 1);
    assert_reads_back(&cluster, &more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_with_fewer_live_chunkds_than_the_factor_fails_clearly() {
    let mut cluster = Cluster::start(options()).await.unwrap();
    cluster.dfs_ok(&["mkdir", "/b"]);
    cluster.kill_chunkd(0);
    cluster.kill_chunkd(1);
    cluster
        .wait_for(
            "two chunkds declared dead",
            Duration::from_secs(30),
            || async { cluster.live_nodes().await.map(|n| n == 1).unwrap_or(false) },
        )
        .await
        .unwrap();
    let local = cluster.dir().join("x");
    std::fs::write(&local, b"data").unwrap();
    let err = cluster.dfs_err(&["put", local.to_str().unwrap(), "/b/x"]);
    assert!(err.contains("not enough live chunkds"), "{err}");
    assert_eq!(
        cluster.client().stat("/b/x").await.unwrap_err().code,
        dfs_common::ErrorCode::NotFound
    );
}

/// Both chunkds holding a file's chunk die (issue 9, item 5): the data is lost until one
/// returns, and everything says so without retrying: `dfs status` counts the chunk apart,
/// `dfs fsck` names the file and fails, `dfs get` fails with one line, and an S3 GET answers
/// 410 DataLost (a status no SDK retries) without naming an internal address. A holder's
/// return brings the file back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_data_is_reported_as_lost_and_returns_with_its_chunkd() {
    let mut cluster = Cluster::start(ClusterOptions {
        gateway: true,
        ..options()
    })
    .await
    .unwrap();
    let (gateway, key) = cluster.create_s3_bucket("lost");
    let data = test_bytes(1000, 7);
    let put = dfs_testkit::s3_request(&gateway, &key, dfs_testkit::REGION, "PUT", "/lost/k", &data)
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text);
    let client = cluster.client();
    let stat = client.stat_chunks("/lost/k", 0, u64::MAX).await.unwrap();
    let holders: Vec<String> = stat.chunks[0]
        .replicas
        .iter()
        .map(|r| r.addr.clone())
        .collect();
    assert_eq!(holders.len(), 2);
    let indexes: Vec<usize> = (0..3)
        .filter(|i| holders.iter().any(|a| a == cluster.chunkd_addr(*i)))
        .collect();
    for index in &indexes {
        cluster.kill_chunkd(*index);
    }
    cluster
        .wait_for(
            "metad to count the chunk as lost",
            Duration::from_secs(60),
            || async { client.status().await.is_ok_and(|s| s.lost == 1) },
        )
        .await
        .unwrap();

    let status = cluster.dfs_ok(&["status"]);
    assert!(status.contains("(1 of them with no live copy)"), "{status}");
    assert!(status.contains("LOST DATA:"), "{status}");
    let fsck = cluster.run_dfs(&["fsck", "/lost"]);
    assert!(!fsck.success, "{}{}", fsck.stdout, fsck.stderr);
    assert!(
        fsck.stdout
            .contains("LOST   /lost/k  1 of 1 chunk(s) have no live copy"),
        "{}",
        fsck.stdout
    );
    assert!(fsck.stdout.contains("1 with lost data"), "{}", fsck.stdout);
    assert!(
        fsck.stderr
            .contains("error: 1 file(s) below /lost have lost data"),
        "{}",
        fsck.stderr
    );
    let get = cluster.dfs_err(&["get", "/lost/k", "-"]);
    assert!(get.contains("has no readable copy"), "{get}");
    assert_eq!(get.trim().lines().count(), 1, "{get}");

    let answer =
        dfs_testkit::s3_request(&gateway, &key, dfs_testkit::REGION, "GET", "/lost/k", b"")
            .unwrap();
    assert_eq!(answer.status, 410, "{}", answer.text);
    assert!(
        answer.body().contains("<Code>DataLost</Code>"),
        "{}",
        answer.text
    );
    for addr in &holders {
        assert!(!answer.text.contains(addr.as_str()), "{}", answer.text);
    }

    cluster.restart_chunkd(indexes[0]).unwrap();
    cluster
        .wait_for(
            "the chunk to be readable again",
            Duration::from_secs(60),
            || async { client.status().await.is_ok_and(|s| s.lost == 0) },
        )
        .await
        .unwrap();
    cluster.dfs_ok(&["fsck", "/lost"]);
    let answer =
        dfs_testkit::s3_request(&gateway, &key, dfs_testkit::REGION, "GET", "/lost/k", b"")
            .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
}

/// Every chunkd is alive but has no room (issue 9, item 5): a write fails at once with an
/// error that says the cluster is full, which no client retries: S3 507 StorageFull, and
/// `dfs put` one line saying so (not "not enough live chunkds", which sends an operator
/// looking for dead ones).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cluster_refuses_writes_as_full() {
    let cluster = Cluster::start(ClusterOptions {
        gateway: true,
        // Less room than one chunk of 1 MiB on every chunkd.
        chunkd_args: vec!["--capacity".into(), "65536".into()],
        ..options()
    })
    .await
    .unwrap();
    let (gateway, key) = cluster.create_s3_bucket("full");
    let put = dfs_testkit::s3_request(
        &gateway,
        &key,
        dfs_testkit::REGION,
        "PUT",
        "/full/k",
        &test_bytes(1000, 3),
    )
    .unwrap();
    assert_eq!(put.status, 507, "{}", put.text);
    assert!(
        put.body().contains("<Code>StorageFull</Code>"),
        "{}",
        put.text
    );
    assert!(put.body().contains("3 of them full"), "{}", put.text);

    let local = cluster.dir().join("small");
    std::fs::write(&local, b"small").unwrap();
    let err = cluster.dfs_err(&["put", local.to_str().unwrap(), "/full/small"]);
    assert!(err.starts_with("error: the cluster is full: "), "{err}");
    let listed =
        dfs_testkit::s3_request(&gateway, &key, dfs_testkit::REGION, "GET", "/full", b"").unwrap();
    assert!(!listed.body().contains("<Key>"), "{}", listed.text);
}

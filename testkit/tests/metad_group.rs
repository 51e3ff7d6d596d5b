//! metad as a group of three members (issue 8): the group outlives its leader, refuses
//! clearly without a majority and resumes when one is back, and a frozen leader acknowledges
//! nothing the group does not have. Real processes on loopback, real RocksDB.

use dfs_testkit::{s3_request, Cluster, ClusterOptions, REGION};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn group_of_three(gateway: bool) -> ClusterOptions {
    ClusterOptions {
        metads: 3,
        gateway,
        ..ClusterOptions::default()
    }
}

fn body_of(n: usize) -> String {
    format!("object {n} written through a group of three metads\n").repeat(1 + n % 7)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_outlives_its_leader_and_loses_no_acknowledged_object() {
    let mut cluster = Cluster::start(group_of_three(true)).await.unwrap();
    let (addr, key) = cluster.create_s3_bucket("group");
    let leader = cluster.metad_leader().await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, addr, key) = (stop.clone(), addr.clone(), key.clone());
        std::thread::spawn(move || {
            let (mut stored, mut refused) = (Vec::new(), Vec::new());
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 10_000 {
                let path = format!("/group/object-{n:05}");
                match s3_request(&addr, &key, REGION, "PUT", &path, body_of(n).as_bytes()) {
                    Ok(answer) if answer.status == 200 => stored.push(n),
                    Ok(answer) => refused.push((answer.status, format!("{path}: {}", answer.text))),
                    Err(e) => refused.push((0, format!("{path}: {e}"))),
                }
                n += 1;
            }
            (stored, refused)
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.kill_metad_member(leader);
    let new_leader = cluster
        .wait_for_metad_leader(Some(leader), Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let (stored, refused) = writer.join().unwrap();

    // Only a write in flight at the kill may fail (its session lived on the dead leader), and
    // then as "try again", never as a client mistake.
    assert!(
        refused.len() <= 1
            && refused
                .iter()
                .all(|(status, _)| *status == 503 || *status == 500),
        "S3 PUTs failed across the leader's death: {refused:?}\n{}",
        cluster.log_tails()
    );
    assert!(stored.len() > 5, "too few PUTs: {}", stored.len());
    for n in &stored {
        let path = format!("/group/object-{n:05}");
        let answer = s3_request(&addr, &key, REGION, "GET", &path, b"").unwrap();
        assert_eq!(answer.status, 200, "{path} was acknowledged and is gone");
        assert_eq!(answer.body(), body_of(*n), "{path} reads back other bytes");
    }

    // The dead member comes back and catches up with the new leader's log.
    cluster.restart_metad_member(leader).unwrap();
    let client = cluster.client();
    let back = cluster.metad_member_addr(leader).to_owned();
    cluster
        .wait_for("the old leader to catch up", Duration::from_secs(30), || async {
            let Ok(status) = client.status().await else {
                return false;
            };
            let lead = status.metad.iter().find(|m| m.id == new_leader as u64 + 1);
            let old = status.metad.iter().find(|m| m.addr == back);
            matches!((lead, old), (Some(l), Some(o)) if o.last_log_index >= l.applied_index && l.applied_index > 0)
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_majority_writes_fail_clearly_and_resume_when_it_is_back() {
    let mut cluster = Cluster::start(group_of_three(false)).await.unwrap();
    let client = cluster.client();
    client.mkdir("/before", false).await.unwrap();
    let leader = cluster.metad_leader().await.unwrap();
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    for index in &others {
        cluster.kill_metad_member(*index);
    }

    // Once the leader has heard from no majority for an election timeout (2 s here) it
    // refuses at once; before that a write waits for a majority and ends in doubt.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = cluster.dfs().args(["mkdir", "/during"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a write without a majority succeeded"
    );
    assert!(
        stderr.contains("majority"),
        "the failure does not say what is wrong: {stderr}"
    );
    let in_doubt = stderr.contains("may or may not");

    cluster.restart_metad_member(others[0]).unwrap();
    let out = cluster.dfs().args(["mkdir", "/after"]).output().unwrap();
    assert!(
        out.status.success(),
        "writes did not resume with a majority back: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.log_tails()
    );

    // The whole group restarts with everything it acknowledged.
    cluster.restart_metad_member(others[1]).unwrap();
    cluster.kill_metad();
    cluster.restart_metad().await.unwrap();
    let listing = cluster.dfs().args(["ls", "/"]).output().unwrap();
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(text.contains("before") && text.contains("after"), "{text}");
    if !in_doubt {
        assert!(!text.contains("during"), "a refused write is there: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_acknowledges_nothing_the_group_lacks() {
    let cluster = Cluster::start(group_of_three(false)).await.unwrap();
    cluster.client().mkdir("/base", false).await.unwrap();
    let leader = cluster.metad_leader().await.unwrap();
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    cluster.freeze_metad_member(leader).unwrap();

    // A write sent to the frozen leader alone waits for it ...
    let stale = cluster.client_of(&[leader]);
    let pending = tokio::spawn(async move { stale.mkdir("/base/via-old-leader", false).await });
    // ... while the others elect a leader and take writes.
    let live = cluster.client_of(&others);
    // A follower may first send the client to the frozen leader (it still believes in it):
    // that call waits for the RPC timeout; the next one goes elsewhere.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match live.mkdir("/base/via-new-leader", false).await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("the others took no write: {e}\n{}", cluster.log_tails())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    cluster.thaw_metad_member(leader).unwrap();
    let old = tokio::time::timeout(Duration::from_secs(60), pending)
        .await
        .expect("the write to the old leader never ended")
        .unwrap();

    // Whatever the old leader answered must be what the group holds.
    let after = cluster.client();
    let entries: Vec<String> = after
        .list_all("/base")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        entries.contains(&"via-new-leader/".to_owned()),
        "{entries:?}"
    );
    if old.is_ok() {
        let logs: String = (0..3)
            .map(|i| cluster.log(dfs_testkit::Role::MetadMember(i)))
            .collect();
        assert!(
            entries.contains(&"via-old-leader/".to_owned()),
            "the frozen leader acknowledged a write the group does not have: {entries:?} {old:?}\n{logs}"
        );
    }
}

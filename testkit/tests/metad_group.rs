//! metad as a group of three members (issue 8): the group outlives its leader, refuses
//! clearly without a majority and resumes when one is back, and a frozen leader acknowledges
//! nothing the group does not have. Real processes on loopback, real RocksDB.

use dfs_client::{CreateOptions, FinishOptions};
use dfs_testkit::{http_get, s3_request, Cluster, ClusterOptions, Role, REGION};
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

/// The names in directory `path` (directories end in `/`).
async fn names(client: &dfs_client::DfsClient, path: &str) -> Vec<String> {
    let entries = client.list_all(path).await.unwrap();
    entries.into_iter().map(|e| e.name).collect()
}

fn body_of(n: usize) -> String {
    format!("object {n} written through a group of three metads\n").repeat(1 + n % 7)
}

/// What an [`S3Writer`] did: the numbers of the objects acknowledged, and each refusal
/// (status, what).
type Written = (Vec<usize>, Vec<(u16, String)>);

/// A thread that PUTs objects `/BUCKET/object-NNNNN` through the gateway until stopped.
struct S3Writer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Written>,
}

impl S3Writer {
    fn start(addr: &str, key: &(String, String), bucket: &str) -> S3Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, addr, key) = (stop.clone(), addr.to_owned(), key.clone());
        let bucket = bucket.to_owned();
        let thread = std::thread::spawn(move || {
            let (mut stored, mut refused) = (Vec::new(), Vec::new());
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) && n < 10_000 {
                let path = format!("/{bucket}/object-{n:05}");
                match s3_request(&addr, &key, REGION, "PUT", &path, body_of(n).as_bytes()) {
                    Ok(answer) if answer.status == 200 => stored.push(n),
                    Ok(answer) => refused.push((answer.status, format!("{path}: {}", answer.text))),
                    Err(e) => refused.push((0, format!("{path}: {e}"))),
                }
                n += 1;
            }
            (stored, refused)
        });
        S3Writer { stop, thread }
    }

    /// Stops it; returns the objects acknowledged and the refusals.
    fn finish(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Checks that at most `allowed` PUTs failed, each as "try again" (a write in flight when its
/// session's leader went away), and that every acknowledged object reads back byte for byte.
fn check_acknowledged(
    cluster: &Cluster,
    (addr, key): (&str, &(String, String)),
    bucket: &str,
    (stored, refused): Written,
    allowed: usize,
) {
    assert!(
        refused.len() <= allowed
            && refused
                .iter()
                .all(|(status, _)| *status == 503 || *status == 500),
        "S3 PUTs failed: {refused:?}\n{}",
        cluster.log_tails()
    );
    assert!(stored.len() > 5, "too few PUTs: {}", stored.len());
    for n in &stored {
        let path = format!("/{bucket}/object-{n:05}");
        let answer = s3_request(addr, key, REGION, "GET", &path, b"").unwrap();
        assert_eq!(answer.status, 200, "{path} was acknowledged and is gone");
        assert_eq!(answer.body(), body_of(*n), "{path} reads back other bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_outlives_its_leader_and_loses_no_acknowledged_object() {
    let mut cluster = Cluster::start(group_of_three(true)).await.unwrap();
    let (addr, key) = cluster.create_s3_bucket("group");
    let leader = cluster.metad_leader().await.unwrap();

    let writer = S3Writer::start(&addr, &key, "group");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.kill_metad_member(leader);
    let new_leader = cluster
        .wait_for_metad_leader(Some(leader), Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Only a write in flight at the kill may fail (its session lived on the dead leader).
    check_acknowledged(&cluster, (&addr, &key), "group", writer.finish(), 1);
    // The new leader gave every chunkd a dead timeout to find it: none was declared dead.
    for member in 0..3 {
        let log = cluster.log(Role::MetadMember(member));
        assert!(
            !log.contains("is dead (no heartbeat"),
            "member {member}:\n{log}"
        );
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

    // A write sent at once is proposed and waits for a majority; it ends in doubt as soon as
    // the leader has heard from no majority for an election timeout (2 s here), with an
    // answer that says so (before, it waited 10 s for a timeout of its own).
    let in_flight = client.mkdir("/in-flight", false).await.unwrap_err();
    assert!(
        in_flight.message.contains("heard from no majority"),
        "{in_flight}"
    );
    // From then on the leader refuses at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
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
    // The group elects a leader with a majority again (on a loaded test host an election can
    // take several rounds), then takes writes.
    cluster
        .wait_for_metad_leader(None, Duration::from_secs(90))
        .await
        .unwrap();
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
    let old = tokio::time::timeout(Duration::from_secs(150), pending)
        .await
        .expect("the write to the old leader never ended")
        .unwrap();

    // Whatever the old leader answered must be what the group holds. The thawed member may
    // still believe it leads for a moment (and answer NoQuorum, which a client retries for
    // 5 s only): on a loaded host the listing is tried until the group has settled.
    let client = cluster.client();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let entries = loop {
        match client.list_all("/base").await {
            Ok(entries) => break entries.into_iter().map(|e| e.name).collect::<Vec<_>>(),
            Err(e) if std::time::Instant::now() > deadline => {
                panic!(
                    "the group never answered after the thaw: {e}\n{}",
                    cluster.log_tails()
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_both_followers_acknowledges_no_write() {
    let cluster = Cluster::start(group_of_three(false)).await.unwrap();
    let client = cluster.client();
    client.mkdir("/kept", false).await.unwrap();
    let leader = cluster.metad_leader().await.unwrap();
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    for index in &followers {
        cluster.freeze_metad_member(*index).unwrap();
    }
    // The leader alone: every write fails, at once once it noticed (not done), or after
    // waiting for a majority (in doubt); none succeeds.
    let alone = cluster.client_of(&[leader]);
    let mut outcomes = Vec::new();
    for n in 0..3 {
        let path = format!("/cut-off-{n}");
        outcomes.push((path.clone(), alone.mkdir(&path, false).await));
    }
    for index in &followers {
        cluster.thaw_metad_member(*index).unwrap();
    }
    for (path, outcome) in &outcomes {
        assert!(
            outcome.is_err(),
            "{path} was acknowledged by a leader without a majority"
        );
    }
    // Once the leader noticed, it says what is wrong instead of letting clients retry until
    // their deadline: no majority, and which members are not answering.
    for (path, outcome) in &outcomes[1..] {
        let err = outcome.as_ref().unwrap_err();
        assert!(err.is(dfs_common::ErrorDetail::NoQuorum), "{path}: {err}");
        for index in &followers {
            let addr = cluster.metad_member_addr(*index);
            assert!(
                err.message.contains(addr),
                "{path}: {err} does not name {addr}"
            );
        }
    }
    // Writes work again once the followers are back, and a write refused as "not done" never
    // appears.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while client.mkdir("/later", false).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            cluster.log_tails()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = names(&client, "/").await;
    for (path, outcome) in &outcomes {
        let doubt = outcome
            .as_ref()
            .is_err_and(|e| e.is(dfs_common::ErrorDetail::NoAnswer));
        let name = format!("{}/", path.trim_start_matches('/'));
        assert!(
            doubt || !listed.contains(&name),
            "{path}: {outcome:?} yet it is there: {listed:?}"
        );
    }
    assert!(listed.contains(&"kept/".to_owned()) && listed.contains(&"later/".to_owned()));
}

/// Waits until member `index` has matched the leader's log (as the leader reports it).
async fn wait_caught_up(cluster: &Cluster, index: usize) {
    let client = cluster.client();
    let addr = cluster.metad_member_addr(index).to_owned();
    cluster
        .wait_for("a member to catch up", Duration::from_secs(60), || async {
            let Ok(status) = client.status().await else {
                return false;
            };
            let leader = status
                .metad
                .iter()
                .find(|m| m.role == dfs_common::wire::MetadRole::Leader);
            let member = status.metad.iter().find(|m| m.addr == addr);
            matches!((leader, member), (Some(l), Some(m)) if m.last_log_index >= l.applied_index)
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_behind_the_purged_log_or_wiped_rejoin_by_snapshot() {
    let mut cluster = Cluster::start(ClusterOptions {
        metads: 3,
        // Snapshots every 20 entries and 5 kept behind: a member away for 40 writes needs one.
        metad_toml: "[raft]\nsnapshot_every = 20\nkeep_log = 5\n".into(),
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let client = cluster.client();
    let leader = cluster.metad_leader().await.unwrap();
    let (behind, wiped) = ((leader + 1) % 3, (leader + 2) % 3);

    cluster.kill_metad_member(behind);
    for n in 0..60 {
        client.mkdir(&format!("/d{n:03}"), false).await.unwrap();
    }
    cluster.restart_metad_member(behind).unwrap();
    wait_caught_up(&cluster, behind).await;
    let installed = "state snapshot installed";
    assert!(
        cluster.log(Role::MetadMember(behind)).contains(installed),
        "the member behind caught up without a snapshot\n{}",
        cluster.log_tails()
    );

    cluster.kill_metad_member(wiped);
    std::fs::remove_dir_all(cluster.metad_member_data(wiped)).unwrap();
    for n in 60..100 {
        client.mkdir(&format!("/d{n:03}"), false).await.unwrap();
    }
    cluster.restart_metad_member(wiped).unwrap();
    wait_caught_up(&cluster, wiped).await;
    assert!(cluster.log(Role::MetadMember(wiped)).contains(installed));

    // The two members that rejoined by snapshot are a majority without the leader: whichever
    // of them leads now serves every directory.
    cluster.kill_metad_member(leader);
    cluster
        .wait_for_metad_leader(Some(leader), Duration::from_secs(30))
        .await
        .unwrap();
    let expected: Vec<String> = (0..100).map(|n| format!("d{n:03}/")).collect();
    assert_eq!(names(&client, "/").await, expected);
}

/// Raft's safety rests on each member's disk: a member whose data was wiped forgot what it
/// acknowledged. Writes acknowledged by the leader and member W while member L lagged; the
/// leader dies and W comes back empty. L and W are two of three, but neither holds the
/// writes: W must not vote L in (L would then erase them from the old leader's log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_member_elects_no_leader_that_lacks_acknowledged_writes() {
    let mut cluster = Cluster::start(group_of_three(false)).await.unwrap();
    let client = cluster.client();
    client.mkdir("/before", false).await.unwrap();
    let leader = cluster.metad_leader().await.unwrap();
    let (wiped, lagging) = ((leader + 1) % 3, (leader + 2) % 3);
    cluster.freeze_metad_member(lagging).unwrap();
    let expected: Vec<String> = (0..20).map(|n| format!("acked-{n:02}/")).collect();
    for name in &expected {
        client
            .mkdir(&format!("/{}", name.trim_end_matches('/')), false)
            .await
            .unwrap();
    }
    cluster.kill_metad_member(leader);
    cluster.kill_metad_member(wiped);
    std::fs::remove_dir_all(cluster.metad_member_data(wiped)).unwrap();
    cluster.thaw_metad_member(lagging).unwrap();
    cluster.restart_metad_member(wiped).unwrap();

    // Several election timeouts (0.75-1.5 s each) in which L calls elections: none may win.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let status = cluster.client_of(&[wiped, lagging]).status().await;
    let leaders: Vec<_> = status
        .iter()
        .flat_map(|s| s.metad.iter())
        .filter(|m| m.role == dfs_common::wire::MetadRole::Leader)
        .collect();
    assert!(
        leaders.is_empty(),
        "an empty and a lagging member elected a leader: {leaders:?}\n{}",
        cluster.log_tails()
    );

    // The old leader comes back: it leads, and every acknowledged write is there.
    cluster.restart_metad_member(leader).unwrap();
    cluster
        .wait_for_metad_leader(None, Duration::from_secs(90))
        .await
        .unwrap();
    let listed = names(&client, "/").await;
    for name in &expected {
        assert!(listed.contains(name), "{name} was lost: {listed:?}");
    }
    // The wiped member caught up and votes again.
    cluster
        .wait_for(
            "the wiped member to vote again",
            Duration::from_secs(60),
            || async {
                cluster
                    .log(Role::MetadMember(wiped))
                    .contains("this member votes from now on")
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_added_and_removed_under_load() {
    let mut cluster = Cluster::start(group_of_three(true)).await.unwrap();
    let (addr, key) = cluster.create_s3_bucket("members");
    let writer = S3Writer::start(&addr, &key, "members");

    // A fourth member joins, then the leader leaves.
    let (id, member_addr) = cluster.spawn_metad_member().unwrap();
    let out = cluster.dfs_ok(&["metad", "add", &id.to_string(), &member_addr]);
    assert!(out.contains("joined the metad group"), "{out}");
    let status = cluster.client().status().await.unwrap();
    let voters = status
        .metad
        .iter()
        .filter(|m| m.role != dfs_common::wire::MetadRole::Learner)
        .count();
    assert_eq!(voters, 4, "{:?}", status.metad);

    let leader = cluster.metad_leader().await.unwrap();
    cluster.dfs_ok(&["metad", "remove", &(leader as u64 + 1).to_string()]);
    let new_leader = cluster
        .wait_for_metad_leader(Some(leader), Duration::from_secs(30))
        .await
        .unwrap();
    cluster.kill_metad_member(leader);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    check_acknowledged(&cluster, (&addr, &key), "members", writer.finish(), 2);
    let status = cluster.client().status().await.unwrap();
    let ids: Vec<u64> = status.metad.iter().map(|m| m.id).collect();
    assert!(!ids.contains(&(leader as u64 + 1)), "{ids:?}");
    assert!(
        ids.contains(&(new_leader as u64 + 1)) && ids.contains(&id),
        "{ids:?}"
    );
}

/// The sum of the samples of member `index`'s `/metrics` whose line starts with `prefix`
/// and contains `label` (0 when there is none).
async fn metric_sum(cluster: &Cluster, index: usize, prefix: &str, label: &str) -> u64 {
    let metrics = http_get(cluster.metad_member_addr(index), "/metrics")
        .await
        .unwrap_or_default();
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The leadership rounds member `index` has run.
async fn leadership_rounds(cluster: &Cluster, index: usize) -> u64 {
    metric_sum(cluster, index, "dfs_metad_leadership_rounds_total ", "").await
}

/// A write whose batch the group accepted is answered without another round of heartbeats
/// (the accepted batch proves the leadership), and so is a session step (opening a write,
/// a chunk); a read waits for a round begun after it arrived. Without that, every step of a
/// PUT in a group of three cost a round trip to the followers after its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_rest_on_their_own_commit_and_reads_on_a_round_of_heartbeats() {
    let cluster = Cluster::start(group_of_three(false)).await.unwrap();
    let leader = cluster.metad_leader().await.unwrap();
    let client = cluster.client_of(&[leader]);
    client.mkdir("/rounds", false).await.unwrap();
    let before = leadership_rounds(&cluster, leader).await;
    for n in 0..20u8 {
        client.mkdir(&format!("/rounds/d{n}"), false).await.unwrap();
        let path = format!("/rounds/f{n}");
        let mut writer = client
            .create(&path, CreateOptions::default())
            .await
            .unwrap();
        writer.write(vec![n; 100].into()).await.unwrap();
        writer.finish(FinishOptions::default()).await.unwrap();
    }
    let after_writes = leadership_rounds(&cluster, leader).await;
    // 80 RPCs (mkdir, begin_write, alloc_chunk, commit, one after the other) ran no round;
    // a few are allowed for chunkd calls that commit nothing.
    assert!(
        after_writes - before <= 4,
        "20 mkdirs and 20 file writes ran {} leadership rounds",
        after_writes - before
    );
    for n in 0..20u8 {
        let entry = client.stat(&format!("/rounds/f{n}")).await.unwrap();
        assert_eq!(entry.size, 100);
    }
    let after_reads = leadership_rounds(&cluster, leader).await;
    assert!(
        after_reads - after_writes >= 20,
        "20 stats one after the other ran {} leadership rounds",
        after_reads - after_writes
    );
}

/// The heartbeats member `index` has answered.
async fn heartbeats_answered(cluster: &Cluster, index: usize) -> u64 {
    let prefix = "dfs_metad_rpc_duration_seconds_count{";
    metric_sum(cluster, index, prefix, "\"heartbeat\"").await
}

/// Waits until member `index` has answered `n` more heartbeats.
async fn wait_heartbeats(cluster: &Cluster, index: usize, n: u64) {
    let from = heartbeats_answered(cluster, index).await;
    cluster
        .wait_for("chunkd heartbeats", Duration::from_secs(60), || async {
            heartbeats_answered(cluster, index).await >= from + n
        })
        .await
        .unwrap();
}

/// The leader's last log index, as the group reports it.
async fn leader_log_index(cluster: &Cluster, leader: usize) -> u64 {
    let status = cluster.client_of(&[leader]).status().await.unwrap();
    let addr = cluster.metad_member_addr(leader);
    let member = status.metad.iter().find(|m| m.addr == addr);
    member.map(|m| m.last_log_index).unwrap()
}

/// chunkd heartbeats stay in the leader's memory: an idle group answering dozens of them
/// appends nothing to its log. Were each one proposed, every member would fsync three
/// entries per heartbeat interval for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_append_nothing_to_the_log() {
    let cluster = Cluster::start(group_of_three(false)).await.unwrap();
    let leader = cluster.metad_leader().await.unwrap();
    // Let the registrations that follow the start settle (each is written through the log).
    wait_heartbeats(&cluster, leader, 15).await;
    let before = leader_log_index(&cluster, leader).await;
    wait_heartbeats(&cluster, leader, 30).await;
    assert_eq!(cluster.metad_leader().await.unwrap(), leader);
    let after = leader_log_index(&cluster, leader).await;
    assert_eq!(
        after,
        before,
        "30 heartbeats to an idle group appended {} log entries",
        after - before
    );
}

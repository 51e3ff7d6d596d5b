//! Linearizability of S3 PUT, GET and DELETE across metad crashes: four clients work on three
//! keys through the gateway while metad (a single one, or the leader of a group of three) is
//! killed with SIGKILL and restarted again and again;
//! each key's history must be explainable as a register (see
//! `dfs_testkit::linearizability`). A failed run keeps its history as JSON in
//! `$TMPDIR/dfs-linearizability-failures/` and names the file.
//!
//! This is the short form CI runs. `scripts/chaos` runs the long one: `DFS_CHAOS_ROUNDS`
//! rounds of this whole test (a fresh cluster and fresh keys each, so every key's history
//! stays small enough to check), and prints how long metad took to serve again after each
//! crash.

use dfs_testkit::linearizability::{check_register, Action, Op, MAX_OPS};
use dfs_testkit::{s3_request, Cluster, ClusterOptions, REGION};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;
const KEYS: usize = 3;
/// Operations per client; each client cycles through the keys, so every key gets
/// `CLIENTS * OPS_PER_CLIENT / KEYS` operations.
const OPS_PER_CLIENT: usize = 60;
const RESTARTS: usize = 3;

/// Rounds of the whole test: 1, or `DFS_CHAOS_ROUNDS` for the long run.
fn rounds() -> usize {
    std::env::var("DFS_CHAOS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// One recorded operation and the key it was on.
type Recorded = (usize, Op);

/// Runs one client: PUT, GET or DELETE in a fixed pseudo-random mix, recording each.
fn client(
    id: usize,
    addr: String,
    key: (String, String),
    start: Instant,
    history: Arc<Mutex<Vec<Recorded>>>,
    done: Arc<AtomicUsize>,
) {
    let now = || start.elapsed().as_micros() as u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (id as u64 + 1);
    for seq in 0..OPS_PER_CLIENT {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let which = (seq + id) % KEYS;
        let path = format!("/lin/k{which}");
        let invoke = now();
        let (action, complete) = match (seed >> 33) % 10 {
            0..=3 => {
                let value = (id as u64) << 32 | seq as u64;
                let answer = s3_request(
                    &addr,
                    &key,
                    REGION,
                    "PUT",
                    &path,
                    value.to_string().as_bytes(),
                );
                let ok = answer.is_ok_and(|a| a.status == 200);
                (Action::Put(value), ok.then(now))
            }
            4..=7 => {
                let Ok(answer) = s3_request(&addr, &key, REGION, "GET", &path, b"") else {
                    continue;
                };
                let seen = match answer.status {
                    200 => answer
                        .text
                        .split_once("\r\n\r\n")
                        .and_then(|(_, body)| body.parse::<u64>().ok()),
                    404 => None,
                    // A failed read says nothing about the register.
                    _ => continue,
                };
                if answer.status == 200 && seen.is_none() {
                    panic!(
                        "GET {path} answered a body no client wrote: {}",
                        answer.text
                    );
                }
                (Action::Get(seen), Some(now()))
            }
            _ => {
                let answer = s3_request(&addr, &key, REGION, "DELETE", &path, b"");
                let ok = answer.is_ok_and(|a| a.status == 204);
                (Action::Delete, ok.then(now))
            }
        };
        let op = Op {
            client: id,
            action,
            invoke,
            complete,
        };
        history.lock().unwrap().push((which, op));
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes a failed key's history where a person can find it; returns the file's path.
fn keep_history(key: usize, ops: &[Op]) -> String {
    let dir = std::env::temp_dir().join("dfs-linearizability-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let stamp = dfs_common::auth::unix_now();
    let path = dir.join(format!("{stamp}-k{key}.json"));
    let rows: Vec<serde_json::Value> = ops
        .iter()
        .map(|op| {
            serde_json::json!({
                "client": op.client,
                "action": format!("{:?}", op.action),
                "invoke_us": op.invoke,
                "complete_us": op.complete,
            })
        })
        .collect();
    std::fs::write(&path, serde_json::to_string_pretty(&rows).unwrap()).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_operations_stay_linearizable_across_metad_crashes() {
    let rounds = rounds();
    for round in 1..=rounds {
        one_round(round, rounds, 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_operations_stay_linearizable_across_leader_deaths() {
    let rounds = rounds();
    for round in 1..=rounds {
        one_round(round, rounds, 3).await;
    }
}

/// Kills metad (with a group, its leader) and brings it back; returns what to print.
async fn crash(cluster: &mut Cluster) -> String {
    if cluster.metad_count() == 1 {
        cluster.kill_metad();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let restarted = Instant::now();
        cluster.restart_metad().await.unwrap();
        return format!(
            "metad served again {} ms after its restart began",
            restarted.elapsed().as_millis()
        );
    }
    let leader = cluster.metad_leader().await.unwrap();
    let killed = Instant::now();
    cluster.kill_metad_member(leader);
    cluster
        .wait_for_metad_leader(Some(leader), Duration::from_secs(30))
        .await
        .unwrap();
    let elected = killed.elapsed().as_millis();
    cluster.restart_metad_member(leader).unwrap();
    format!(
        "a new leader {elected} ms after the leader (member {}) was killed",
        leader + 1
    )
}

async fn one_round(round: usize, rounds: usize, metads: usize) {
    let mut cluster = Cluster::start(ClusterOptions {
        chunkds: 2,
        metads,
        gateway: true,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let (addr, key) = cluster.create_s3_bucket("lin");

    let start = Instant::now();
    let history = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (addr, key) = (addr.clone(), key.clone());
            let (history, done) = (history.clone(), done.clone());
            std::thread::spawn(move || client(id, addr, key, start, history, done))
        })
        .collect();
    // Crash metad whenever the clients have made some progress since the last restart.
    let total = CLIENTS * OPS_PER_CLIENT;
    for crash_no in 1..=RESTARTS {
        let target = total * crash_no / (RESTARTS + 1);
        while done.load(Ordering::Relaxed) < target && !finished.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let what = crash(&mut cluster).await;
        eprintln!("round {round}/{rounds}, crash {crash_no}: {what}");
    }
    for handle in clients {
        handle.join().expect("a client thread panicked");
    }
    finished.store(true, Ordering::Relaxed);

    let history = history.lock().unwrap();
    let unknown = history
        .iter()
        .filter(|(_, op)| op.complete.is_none())
        .count();
    eprintln!(
        "{} operations recorded, {unknown} of unknown outcome, {RESTARTS} metad crashes \
         ({metads} members)",
        history.len()
    );
    for key in 0..KEYS {
        let ops: Vec<Op> = history
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, op)| *op)
            .collect();
        assert!(ops.len() <= MAX_OPS);
        if let Err(violation) = check_register(&ops) {
            let kept = keep_history(key, &ops);
            panic!(
                "key k{key} is not linearizable ({} operations; history kept in {kept}); \
                 the longest order found: {:?}",
                ops.len(),
                violation.longest
            );
        }
    }
}

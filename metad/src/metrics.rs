//! metad's metrics and readiness: RPC and commit latencies, and the cluster's gauges (queues,
//! chunks, chunkds), served on the RPC port without a signature (they reveal no data).
//!
//! Cost of a scrape: the chunkd counts are in memory; the chunk and queue counts need a scan
//! of `chunk_loc` (O(all chunks)), of both queues and of the background jobs (detached trees,
//! dead-node sweeps), the same work as `dfs status`. They are
//! therefore computed at most once per [`CLUSTER_GAUGES_TTL`] and cached, so scraping often
//! (or several Prometheus servers scraping) never turns into a scan per scrape.

use crate::nodes::{ChunkHealth, Nodes};
use crate::store::queue::{self, Queue};
use crate::store::Store;
use dfs_common::metrics::{latency_family, Counter, Gauge, LatencyFamily, Registry, Unit};
use dfs_common::RpcError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the scanned gauges (chunks, queues) are reused before being counted again.
pub(crate) const CLUSTER_GAUGES_TTL: Duration = Duration::from_secs(15);

/// Labels of an RPC latency: the method and `ok` or `error`.
type RpcLabels = [(&'static str, &'static str); 2];

/// Every metric of one metad.
pub(crate) struct Metrics {
    registry: Registry,
    rpc_seconds: LatencyFamily<RpcLabels>,
    repair_queue: Gauge,
    gc_queue: Gauge,
    detached_trees: Gauge,
    dead_node_sweeps: Gauge,
    chunks: Gauge,
    under_replicated: Gauge,
    lost: Gauge,
    alive: Gauge,
    dead: Gauge,
    /// When the scanned gauges were last counted.
    counted_at: Mutex<Option<Instant>>,
}

impl Metrics {
    /// Registers every metric; `store` provides the commit latency histogram, the group its
    /// count of leadership rounds.
    pub(crate) fn new(store: &Store, leadership_rounds: Counter) -> Metrics {
        let mut registry = Registry::default();
        let rpc_seconds = latency_family::<RpcLabels>();
        registry.register_with_unit(
            "dfs_metad_rpc_duration",
            "Time to handle an RPC after its body was read, by method and outcome",
            Unit::Seconds,
            rpc_seconds.clone(),
        );
        registry.register_with_unit(
            "dfs_metad_commit_duration",
            "Time a synced commit waited for the RocksDB WAL fsync (concurrent commits share one)",
            Unit::Seconds,
            store.commit_histogram(),
        );
        registry.register(
            "dfs_metad_leadership_rounds",
            "Rounds of heartbeats this member ran to confirm it still leads before answering (reads, and writes that committed nothing; one round serves every request waiting for it)",
            leadership_rounds,
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let repair_queue = gauge(
            &mut registry,
            "dfs_metad_repair_queue_chunks",
            "Chunks waiting in the repair queue",
        );
        let gc_queue = gauge(
            &mut registry,
            "dfs_metad_gc_queue_chunks",
            "Chunks waiting in the garbage-collection queue",
        );
        let detached_trees = gauge(
            &mut registry,
            "dfs_metad_detached_trees",
            "Directory trees removed by a recursive delete, and files of over 3000 slices deleted or replaced, whose rows are still being deleted",
        );
        let dead_node_sweeps = gauge(
            &mut registry,
            "dfs_metad_dead_node_sweeps",
            "Dead chunkds whose chunks are still being queued for repair",
        );
        let chunks = gauge(
            &mut registry,
            "dfs_metad_chunks",
            "Chunks referenced by files",
        );
        let under_replicated = gauge(
            &mut registry,
            "dfs_metad_chunks_under_replicated",
            "Chunks with fewer live replicas than the replication factor",
        );
        let lost = gauge(
            &mut registry,
            "dfs_metad_chunks_without_live_replica",
            "Chunks with no live replica (unreadable until a holder returns)",
        );
        let alive = gauge(
            &mut registry,
            "dfs_metad_chunkds_alive",
            "Registered chunkds that send heartbeats",
        );
        let dead = gauge(
            &mut registry,
            "dfs_metad_chunkds_dead",
            "Registered chunkds declared dead",
        );
        Metrics {
            registry,
            rpc_seconds,
            repair_queue,
            gc_queue,
            detached_trees,
            dead_node_sweeps,
            chunks,
            under_replicated,
            lost,
            alive,
            dead,
            counted_at: Mutex::new(None),
        }
    }

    /// Records one RPC's handling time.
    pub(crate) fn observe_rpc(&self, method: &'static str, ok: bool, started: Instant) {
        let outcome = if ok { "ok" } else { "error" };
        self.rpc_seconds
            .get_or_create(&[("method", method), ("outcome", outcome)])
            .observe(started.elapsed().as_secs_f64());
    }

    /// Brings the gauges up to date (blocking: may scan RocksDB) and renders the registry.
    pub(crate) fn render(&self, store: &Store, nodes: &Nodes, replication: u32) -> String {
        let (alive, dead) = nodes.alive_dead();
        self.alive.set(clamp(alive));
        self.dead.set(clamp(dead));
        let mut counted_at = self.counted_at.lock().unwrap_or_else(|e| e.into_inner());
        // (`Option::is_none_or` is newer than the workspace's rust-version.)
        let stale = match *counted_at {
            Some(at) => at.elapsed() >= CLUSTER_GAUGES_TTL,
            None => true,
        };
        if stale {
            match count(store, nodes, replication) {
                Ok(Counts {
                    health,
                    repair,
                    gc,
                    detached,
                    sweeps,
                }) => {
                    self.chunks.set(clamp(health.chunks));
                    self.under_replicated.set(clamp(health.under_replicated));
                    self.lost.set(clamp(health.lost));
                    self.repair_queue.set(clamp(repair));
                    self.gc_queue.set(clamp(gc));
                    self.detached_trees.set(clamp(detached));
                    self.dead_node_sweeps.set(clamp(sweeps));
                    *counted_at = Some(Instant::now());
                }
                // Keep the last values; the next scrape tries again.
                Err(e) => tracing::warn!("cannot count chunks for the metrics: {e}"),
            }
        }
        drop(counted_at);
        dfs_common::metrics::render(&self.registry)
    }
}

/// The gauges that need a scan.
struct Counts {
    health: ChunkHealth,
    repair: u64,
    gc: u64,
    detached: u64,
    sweeps: u64,
}

fn count(store: &Store, nodes: &Nodes, replication: u32) -> Result<Counts, RpcError> {
    let view = store.view();
    Ok(Counts {
        health: nodes.chunk_health(&view, replication)?,
        repair: queue::len(&view, Queue::Repair)?,
        gc: queue::len(&view, Queue::Gc)?,
        detached: crate::ns::detached::pending(&view)?,
        sweeps: crate::nodes::sweep::pending(&view)?,
    })
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Why metad is not ready, if it is not: its group member must not have stopped on a storage
/// failure, and the database must accept a write.
pub(crate) fn ready(store: &Store, group: &crate::group::raft::RaftGroup) -> Result<(), String> {
    group.health()?;
    store
        .check_writable()
        .map_err(|e| format!("the database refuses writes: {e}"))
}

//! chunkd's metrics and readiness, served on its port without a signature (they reveal no
//! data): space, chunk read/write and fsync latencies, scrub progress and errors.
//!
//! Every figure is a counter bumped where the work happens or a value the store keeps in
//! memory: a scrape never walks the data folder.

use crate::Node;
use dfs_common::metrics::{latency_histogram, Counter, Gauge, Histogram, Registry, Unit};
use std::sync::atomic::Ordering;

/// Every metric of one chunkd.
pub(crate) struct Metrics {
    registry: Registry,
    /// `GET /chunk/<id>`: from the request to the last byte sent (or the body dropped).
    pub read_seconds: Histogram,
    /// `PUT /chunk/<id>`: from the request to the answer (body received, fsynced, renamed).
    pub write_seconds: Histogram,
    /// Chunks the scrub verified.
    pub scrubbed: Counter,
    /// Chunks the scrub found corrupt or could not read.
    pub scrub_errors: Counter,
    stored: Gauge,
    free: Gauge,
    capacity: Gauge,
}

impl Metrics {
    /// Registers every metric; `fsync_seconds` is the store's fsync histogram.
    pub(crate) fn new(fsync_seconds: Histogram) -> Metrics {
        let mut registry = Registry::default();
        let read_seconds = latency_histogram();
        let write_seconds = latency_histogram();
        registry.register_with_unit(
            "dfs_chunkd_chunk_read_duration",
            "Time to serve a chunk read, from the request to the last byte sent",
            Unit::Seconds,
            read_seconds.clone(),
        );
        registry.register_with_unit(
            "dfs_chunkd_chunk_write_duration",
            "Time to receive, check and durably store a chunk, from the request to the answer",
            Unit::Seconds,
            write_seconds.clone(),
        );
        registry.register_with_unit(
            "dfs_chunkd_fsync_duration",
            "Time of each fsync of a chunk write (the file, and its folder after the rename)",
            Unit::Seconds,
            fsync_seconds,
        );
        let scrubbed = Counter::default();
        registry.register(
            "dfs_chunkd_scrubbed_chunks",
            "Chunks the background scrub has verified",
            scrubbed.clone(),
        );
        let scrub_errors = Counter::default();
        registry.register(
            "dfs_chunkd_scrub_errors",
            "Chunks the scrub found corrupt (then quarantined and reported) or could not read",
            scrub_errors.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register_with_unit(name, help, Unit::Bytes, gauge.clone());
            gauge
        };
        let stored = gauge(
            &mut registry,
            "dfs_chunkd_stored",
            "Bytes the chunk files use",
        );
        let free = gauge(
            &mut registry,
            "dfs_chunkd_free",
            "Bytes this node can still take: capacity left, and no more than the disk has free beyond a reserve",
        );
        let capacity = gauge(
            &mut registry,
            "dfs_chunkd_capacity",
            "The configured capacity (by default the size of the data filesystem)",
        );
        Metrics {
            registry,
            read_seconds,
            write_seconds,
            scrubbed,
            scrub_errors,
            stored,
            free,
            capacity,
        }
    }

    /// Updates the space gauges (in memory, cheap) and renders the registry.
    pub(crate) fn render(&self, node: &Node) -> String {
        let used = node.store.used();
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.stored.set(clamp(used));
        self.free.set(clamp(node.free_space()));
        self.capacity.set(clamp(node.capacity));
        dfs_common::metrics::render(&self.registry)
    }
}

/// Why chunkd is not ready, if it is not: it must be registered with metad (else no writer
/// is sent to it) and its data folder must take writes. Blocking (touches the disk).
pub(crate) fn ready(node: &Node) -> Result<(), String> {
    if !node.registered.load(Ordering::Relaxed) {
        return Err(format!("not registered with metad at {}", node.metad));
    }
    node.store
        .check_writable()
        .map_err(|e| format!("the data folder refuses writes: {e}"))
}

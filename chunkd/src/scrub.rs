//! The scrub: re-reads every chunk slowly in the background and checks every block CRC and the
//! whole-data CRC, so that bit rot is found (and repaired from another replica by metad) before
//! a client needs the data.
//!
//! A pass is spread over the configured interval: between two chunks it sleeps
//! `interval / chunk count`, and at least as long as the last chunk took to read, so the scrub
//! uses at most about half of the disk's time even when the interval is short.

use crate::store::StoreError;
use crate::{sleep_or_stop, Node};
use dfs_common::ChunkId;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long an empty node waits before looking for chunks to scrub again.
const IDLE_WAIT: Duration = Duration::from_secs(60);

/// Runs passes until the daemon stops; a zero interval disables the scrub.
pub async fn run(node: Arc<Node>, interval: Duration, mut stop: watch::Receiver<bool>) {
    if interval.is_zero() {
        return;
    }
    loop {
        let count = node.store.list().len();
        if count == 0 {
            if sleep_or_stop(interval.min(IDLE_WAIT), &mut stop).await {
                return;
            }
            continue;
        }
        let pause = interval / u32::try_from(count).unwrap_or(u32::MAX);
        let started = Instant::now();
        let Some(corrupt) = pass(&node, pause, &mut stop).await else {
            return;
        };
        tracing::info!(
            chunks = count,
            corrupt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "scrub pass done"
        );
    }
}

/// One pass over the chunks held now, sleeping `pause` (or longer, see the module doc) before
/// each. Returns the number of corrupt chunks found, or `None` if the daemon is stopping.
pub async fn pass(
    node: &Arc<Node>,
    pause: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Option<u64> {
    let mut corrupt = 0;
    let mut last_read = Duration::ZERO;
    for id in node.store.list() {
        if sleep_or_stop(pause.max(last_read), stop).await {
            return None;
        }
        let started = Instant::now();
        if check(node, id).await {
            corrupt += 1;
        }
        last_read = started.elapsed();
    }
    Some(corrupt)
}

/// Verifies one chunk; on corruption quarantines and reports it. `true` if it was corrupt.
async fn check(node: &Arc<Node>, id: ChunkId) -> bool {
    let scrub_node = Arc::clone(node);
    let result = tokio::task::spawn_blocking(move || {
        let metrics = &scrub_node.metrics;
        match scrub_node.store.verify_chunk(id) {
            Ok(()) => {
                metrics.scrubbed.inc();
                false
            }
            // Deleted since the list was taken.
            Err(StoreError::NotFound(_)) => false,
            Err(e @ StoreError::Corrupt { .. }) => {
                metrics.scrubbed.inc();
                metrics.scrub_errors.inc();
                scrub_node.corrupt_chunk(id, &e);
                true
            }
            Err(e) => {
                metrics.scrub_errors.inc();
                tracing::warn!(chunk = %id, error = %e, "scrub cannot read the chunk");
                false
            }
        }
    })
    .await;
    result.unwrap_or_else(|e| {
        tracing::warn!(chunk = %id, error = %e, "scrub of the chunk failed");
        false
    })
}

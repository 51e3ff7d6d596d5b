//! The inventory pass: every few minutes, checks that the file of every chunk held is there
//! and has the size it was written with: one `stat` per chunk, no read. A chunk file deleted or
//! truncated behind chunkd's back (by hand, by a failing disk) is then quarantined and reported
//! to metad like a corrupt copy, so metad re-replicates it from another copy within minutes,
//! even when no read touches it and long before the slow checksum scrub comes by.

use crate::store::StoreError;
use crate::{sleep_or_stop, Node};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs a pass every `interval` until the daemon stops; a zero interval disables it.
pub async fn run(node: Arc<Node>, interval: Duration, mut stop: watch::Receiver<bool>) {
    if interval.is_zero() {
        return;
    }
    loop {
        if sleep_or_stop(interval, &mut stop).await {
            return;
        }
        let pass_node = Arc::clone(&node);
        match tokio::task::spawn_blocking(move || pass(&pass_node)).await {
            Ok(0) => tracing::debug!("inventory pass: every chunk file is in place"),
            Ok(lost) => tracing::warn!(
                lost,
                "inventory pass: chunk files missing or resized; quarantined and reported to metad"
            ),
            Err(e) => tracing::warn!(error = %e, "inventory pass failed"),
        }
    }
}

/// Checks every chunk held now; returns how many were lost.
pub fn pass(node: &Arc<Node>) -> u64 {
    let mut lost = 0;
    for id in node.store.list() {
        match node.store.check_present(id) {
            // Deleted since the list was taken.
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e @ StoreError::Corrupt { .. }) => {
                node.metrics.scrub_errors.inc();
                node.corrupt_chunk(id, &e);
                lost += 1;
            }
            Err(e) => tracing::warn!(chunk = %id, error = %e, "inventory cannot check the chunk"),
        }
    }
    lost
}

//! Registration with metad and the periodic heartbeat.
//!
//! At start, and whenever metad says it does not know the node (`known = false`), chunkd
//! registers, then sends the ids of every chunk it holds in ascending pages so metad can
//! reconcile what it holds; it heartbeats between pages, so a big node stays alive while it
//! registers. metad may be down
//! for a while: registration retries with backoff, and failures are logged about once per
//! [`LOG_EVERY`] rather than on every attempt. A heartbeat that fails (metad restarting, a
//! new leader being elected) is simply sent again at the next beat: a registration costs
//! metad work proportional to the node's chunks, so only metad's own word triggers one.

use crate::{sleep_or_stop, Node};
use dfs_common::metad_group::call_group;
use dfs_common::wire::{HeartbeatReq, ReconcileReq, RegisterReq, MAX_RECONCILE_PAGE};
use dfs_common::{ChunkId, NodeId, RpcError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// First retry delay after a failed registration.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// Longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Repeated failures are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Runs until the daemon stops.
pub async fn run(node: Arc<Node>, initial_interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut interval = initial_interval;
    let mut registered = false;
    let mut backoff = MIN_BACKOFF;
    let mut limiter = LogLimiter::default();
    loop {
        if !registered {
            match register(&node).await {
                Ok(metad_interval) => {
                    registered = true;
                    node.registered.store(true, Ordering::Relaxed);
                    backoff = MIN_BACKOFF;
                    limiter = LogLimiter::default();
                    // metad decides the pace; the bounds only guard against a nonsense value.
                    interval =
                        metad_interval.clamp(Duration::from_millis(10), Duration::from_secs(60));
                }
                Err(e) => {
                    if limiter.should_log() {
                        tracing::warn!(metad = %node.metad, error = %e, "cannot register (retrying)");
                    }
                    if sleep_or_stop(backoff, &mut stop).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        if sleep_or_stop(interval, &mut stop).await {
            return;
        }
        match heartbeat(&node).await {
            Ok(true) => limiter = LogLimiter::default(),
            Ok(false) => {
                tracing::info!(metad = %node.metad, "metad does not know this node; registering again");
                registered = false;
                node.registered.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                if limiter.should_log() {
                    tracing::warn!(metad = %node.metad, error = %e, "heartbeat failed (sent again at the next beat)");
                }
            }
        }
    }
}

/// Registers once; returns the heartbeat interval metad asks for.
async fn register(node: &Arc<Node>) -> Result<Duration, RpcError> {
    let old_id = node.node_id();
    let req = RegisterReq {
        node_id: old_id,
        addr: node.advertise.clone(),
        capacity: node.capacity,
        used: node.reported_used(),
        chunks: Vec::new(),
        paged: true,
    };
    let resp = call_group(&node.client, &node.metad, &req).await?;
    if old_id != Some(resp.node_id) {
        if let Some(old) = old_id {
            tracing::warn!(node = %resp.node_id, old = %old, "metad gave this node a new id");
        }
        // On disk before it is used: a node that restarts must come back under the same id.
        let store_node = Arc::clone(node);
        let new_id = resp.node_id;
        tokio::task::spawn_blocking(move || store_node.store.set_node_id(new_id))
            .await
            .map_err(|e| RpcError::internal(format!("saving the node id failed: {e}")))?
            .map_err(|e| e.to_rpc())?;
    }
    *node.node_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(resp.node_id);
    let interval = Duration::from_millis(resp.heartbeat_interval_ms);
    // Listed after registering: a chunk written meanwhile is in the list or newer than the
    // registration, and metad counts neither as lost.
    let held = node.store.list();
    let unreferenced = reconcile(node, resp.node_id, &held, interval).await?;
    tracing::info!(
        metad = %node.metad,
        node = %resp.node_id,
        chunks = held.len(),
        unreferenced,
        "registered"
    );
    Ok(interval)
}

/// Sends `held` (sorted) to metad in pages, deleting what metad does not reference and
/// heartbeating between pages; returns how many chunks were deleted.
async fn reconcile(
    node: &Arc<Node>,
    id: NodeId,
    held: &[ChunkId],
    interval: Duration,
) -> Result<usize, RpcError> {
    let mut pages: Vec<&[ChunkId]> = held.chunks(MAX_RECONCILE_PAGE).collect();
    if pages.is_empty() {
        pages.push(&[]);
    }
    let (count, mut after, mut deleted) = (pages.len(), None, 0);
    let mut beat = Instant::now();
    for (index, page) in pages.into_iter().enumerate() {
        let req = ReconcileReq {
            node_id: id,
            after,
            chunks: page.to_vec(),
            last: index + 1 == count,
        };
        let resp = call_group(&node.client, &node.metad, &req).await?;
        deleted += resp.delete.len();
        if !resp.delete.is_empty() {
            delete_orphans(node, resp.delete).await;
        }
        after = page.last().copied().or(after);
        if beat.elapsed() >= interval {
            // A failed beat is not fatal here: the next page or beat tries again.
            let _ = heartbeat(node).await;
            beat = Instant::now();
        }
    }
    Ok(deleted)
}

/// Deletes the chunks metad does not reference.
async fn delete_orphans(node: &Arc<Node>, ids: Vec<ChunkId>) {
    let store_node = Arc::clone(node);
    let result = tokio::task::spawn_blocking(move || {
        for e in store_node.store.delete_many(&ids) {
            tracing::warn!(error = %e, "cannot delete an unreferenced chunk");
        }
    })
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "deleting unreferenced chunks failed");
    }
}

/// One heartbeat; `Ok(false)` when metad does not know the node.
async fn heartbeat(node: &Arc<Node>) -> Result<bool, RpcError> {
    let Some(node_id) = node.node_id() else {
        return Ok(false);
    };
    let req = HeartbeatReq {
        node_id,
        addr: node.advertise.clone(),
        capacity: node.capacity,
        used: node.reported_used(),
    };
    Ok(call_group(&node.client, &node.metad, &req).await?.known)
}

/// Lets a repeated failure through to the log at most once per [`LOG_EVERY`].
#[derive(Default)]
struct LogLimiter {
    last: Option<Instant>,
}

impl LogLimiter {
    fn should_log(&mut self) -> bool {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

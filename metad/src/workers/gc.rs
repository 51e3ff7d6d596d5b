//! Garbage collection: deletes chunks no file references any more from their chunkds, then
//! forgets them.
//!
//! An item names a chunk and nodes that may hold a copy. What gets deleted is decided from the
//! chunk's current record, never from the item alone: an unreferenced chunk goes from every
//! node; a referenced one only from nodes outside its replica list (stray copies). Dead nodes
//! are skipped; when they return, registration tells them what to delete.

use super::{blocking, Ctx, Step, Worker};
use crate::store::queue::{self, Queue, Work};
use crate::store::values::ChunkLoc;
use crate::store::{keys, Cf, Reader};
use dfs_common::auth::NO_CONTENT;
use dfs_common::wire::CHUNK_PATH_PREFIX;
use dfs_common::{ErrorCode, NodeId, RpcError};
use http::Method;
use std::time::Duration;
use tokio::task::JoinSet;

/// Items handled per step.
const BATCH: usize = 64;
/// How long one chunk deletion may take.
const DELETE_TIMEOUT: Duration = Duration::from_secs(30);

/// The GC worker.
pub struct Collector {
    ctx: Ctx,
}

impl Collector {
    /// A collector over the shared context.
    pub fn new(ctx: Ctx) -> Self {
        Collector { ctx }
    }
}

/// The result of one item: the nodes where deletion failed.
struct Outcome {
    work: Work,
    failed: Vec<NodeId>,
}

impl Worker for Collector {
    const NAME: &'static str = "gc";

    fn period(&self) -> Duration {
        self.ctx.heartbeat_interval.max(Duration::from_millis(100))
    }

    async fn step(&mut self) -> Result<Step, RpcError> {
        let store = self.ctx.store.clone();
        // Every item waits out the release grace past its due time: a read that started before
        // a delete or an overwrite still finds the old chunks (orphans wait that much longer).
        let grace_ms = self.ctx.release_grace.as_millis() as u64;
        let items = blocking(move || {
            let now = crate::clock::steady_ms();
            queue::rebase_future(&store, Queue::Gc, now, BATCH)?;
            Ok(queue::due(
                &store.view(),
                Queue::Gc,
                now.saturating_sub(grace_ms),
                BATCH,
            )?)
        })
        .await?;
        if items.is_empty() {
            return Ok(Step::Idle);
        }
        let full = items.len() == BATCH;
        let mut tasks = JoinSet::new();
        for work in items {
            let ctx = self.ctx.clone();
            tasks.spawn(async move { collect(ctx, work).await });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(outcome)) => outcomes.push(outcome),
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot record a collection"),
                Err(e) => tracing::error!(error = %e, "gc task failed"),
            }
        }
        let ctx = self.ctx.clone();
        blocking(move || finish(&ctx, outcomes)).await?;
        Ok(if full { Step::Busy } else { Step::Idle })
    }
}

/// Deletes one chunk from the nodes it should leave.
async fn collect(ctx: Ctx, work: Work) -> Result<Outcome, RpcError> {
    let store = ctx.store.clone();
    let chunk = work.chunk;
    let loc = blocking(move || {
        Ok(store
            .view()
            .get::<ChunkLoc>(Cf::ChunkLoc, &keys::chunk_loc(chunk))?)
    })
    .await?;
    let mut targets: Vec<NodeId> = match &loc {
        // Allocated in an open session: a writer may still commit it, so it is not garbage.
        None if ctx.sessions.has_chunk(chunk) => Vec::new(),
        None => work.item.nodes.clone(),
        Some(loc) if loc.refcount == 0 => {
            let mut all = work.item.nodes.clone();
            all.extend(loc.replicas.iter().filter(|n| !work.item.nodes.contains(n)));
            all
        }
        Some(loc) => work
            .item
            .nodes
            .iter()
            .filter(|n| !loc.replicas.contains(n))
            .copied()
            .collect(),
    };
    targets.dedup();
    let mut failed = Vec::new();
    for node in targets {
        if !ctx.nodes.is_live(node) {
            continue;
        }
        let addr = ctx.nodes.replica(node).addr;
        let path = format!("{CHUNK_PATH_PREFIX}{chunk}");
        let request = ctx.client.send_ok(
            Method::DELETE,
            &addr,
            &path,
            NO_CONTENT,
            dfs_common::http::empty(),
        );
        match tokio::time::timeout(DELETE_TIMEOUT, request).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.code == ErrorCode::NotFound => {}
            Ok(Err(e)) => {
                tracing::warn!(%chunk, %node, %addr, error = %e, "cannot delete the chunk");
                failed.push(node);
            }
            Err(_) => {
                tracing::warn!(%chunk, %node, %addr, "deleting the chunk timed out");
                failed.push(node);
            }
        }
    }
    Ok(Outcome { work, failed })
}

/// Records the outcomes in one batch: finished chunks leave the tables, failures back off.
fn finish(ctx: &Ctx, outcomes: Vec<Outcome>) -> Result<(), RpcError> {
    let now = crate::clock::steady_ms();
    let mut txn = ctx.store.begin();
    for Outcome { work, failed } in outcomes {
        if !failed.is_empty() {
            let due = queue::retry_later(&mut txn, Queue::Gc, &work, failed, now)?;
            tracing::debug!(chunk = %work.chunk, due_ms = due, "collection retried later");
            continue;
        }
        queue::remove(&mut txn, Queue::Gc, &work);
        let key = keys::chunk_loc(work.chunk);
        if let Some(loc) = txn.get::<ChunkLoc>(Cf::ChunkLoc, &key)? {
            if loc.refcount == 0 {
                txn.delete(Cf::ChunkLoc, &key);
                for node in &loc.replicas {
                    txn.delete(Cf::NodeChunk, &keys::node_chunk(*node, work.chunk));
                }
            }
        }
    }
    // Losing this batch in a crash only repeats deletions, which chunkds answer with 404.
    txn.commit(false)?;
    Ok(())
}

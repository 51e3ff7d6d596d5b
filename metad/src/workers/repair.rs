//! Re-replication: brings chunks back to the replication factor by ordering a live holder to
//! copy them to a new node (`POST /replicate/<id>?to=<addr>` on the holder).
//!
//! Decisions are taken from the chunk's current record, re-read under the write lock before
//! anything is recorded, so a file deleted or a node returning meanwhile is never undone.
//! Dead replicas stay listed until the chunk has enough live ones again: a dead node may come
//! back, and until then it is the only other place the data might be.

use super::{blocking, Ctx, Step, Worker};
use crate::placement;
use crate::store::queue::{self, Queue, Work};
use crate::store::values::{ChunkLoc, Present};
use crate::store::{keys, Cf, Reader, StoreError, Txn};
use dfs_common::auth::NO_CONTENT;
use dfs_common::wire::REPLICATE_PATH_PREFIX;
use dfs_common::{ChunkId, ErrorCode, NodeId, RpcError};
use http::Method;
use rand::seq::SliceRandom;
use std::collections::HashSet;
use std::time::Duration;
use tokio::task::JoinSet;

/// Chunks repaired at the same time.
const CONCURRENCY: usize = 4;
/// How long one copy may take (a chunk is a few MiB).
const COPY_TIMEOUT: Duration = Duration::from_secs(120);

/// The repair worker.
pub struct Repairer {
    ctx: Ctx,
}

impl Repairer {
    /// A repairer over the shared context.
    pub fn new(ctx: Ctx) -> Self {
        Repairer { ctx }
    }
}

/// How the repair of one chunk ended.
enum Outcome {
    /// Enough live replicas (or nothing left to repair): the item is done.
    Done,
    /// Try again later.
    Retry,
}

impl Worker for Repairer {
    const NAME: &'static str = "repair";

    fn period(&self) -> Duration {
        self.ctx.heartbeat_interval.max(Duration::from_millis(100))
    }

    async fn step(&mut self) -> Result<Step, RpcError> {
        let store = self.ctx.store.clone();
        let due = blocking(move || {
            let now = crate::clock::steady_ms();
            queue::rebase_future(&store, Queue::Repair, now, CONCURRENCY * 4)?;
            Ok(queue::due(
                &store.view(),
                Queue::Repair,
                now,
                CONCURRENCY * 4,
            )?)
        })
        .await?;
        if due.is_empty() {
            return Ok(Step::Idle);
        }
        // One item per chunk at a time: two concurrent repairs of a chunk would over-replicate.
        let mut chunks = HashSet::new();
        let batch: Vec<Work> = due
            .into_iter()
            .filter(|w| chunks.insert(w.chunk))
            .take(CONCURRENCY)
            .collect();
        let mut tasks = JoinSet::new();
        let mut failed = false;
        for work in batch {
            let ctx = self.ctx.clone();
            tasks.spawn(async move {
                let outcome = repair(&ctx, work.chunk).await;
                let ctx2 = ctx.clone();
                blocking(move || finish(&ctx2, &work, outcome)).await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot record a repair outcome");
                    failed = true;
                }
                Err(e) => {
                    tracing::error!(error = %e, "repair task failed");
                    failed = true;
                }
            }
        }
        // After a failure to record an outcome, pause rather than spin on the same items.
        Ok(if failed { Step::Idle } else { Step::Busy })
    }
}

/// Copies `chunk` until it has enough live replicas.
async fn repair(ctx: &Ctx, chunk: ChunkId) -> Outcome {
    let factor = ctx.replication as usize;
    // Bounded: each round adds a replica or gives up.
    for _ in 0..=factor {
        let store = ctx.store.clone();
        let loc = blocking(move || {
            Ok(store
                .view()
                .get::<ChunkLoc>(Cf::ChunkLoc, &keys::chunk_loc(chunk))?)
        })
        .await;
        let loc = match loc {
            Ok(Some(loc)) if loc.refcount > 0 => loc,
            Ok(_) => return Outcome::Done,
            Err(e) => {
                tracing::warn!(%chunk, error = %e, "cannot read the chunk's location for repair");
                return Outcome::Retry;
            }
        };
        let live: Vec<NodeId> = loc
            .replicas
            .iter()
            .filter(|n| ctx.nodes.is_live(**n))
            .copied()
            .collect();
        if live.len() >= factor {
            return Outcome::Done;
        }
        let Some(source) = live.choose(&mut rand::thread_rng()).copied() else {
            tracing::error!(
                %chunk,
                holders = ?loc.replicas,
                "chunk has no live replica: its data is unavailable until one returns"
            );
            return Outcome::Retry;
        };
        let target = match placement::choose(
            &ctx.nodes.candidates(),
            1,
            &loc.replicas,
            loc.len,
            &mut rand::thread_rng(),
        ) {
            Ok(nodes) if !nodes.is_empty() => nodes[0],
            Ok(_) => return Outcome::Retry,
            Err(e) => {
                tracing::warn!(%chunk, error = %e, "no node to repair the chunk onto");
                return Outcome::Retry;
            }
        };
        if let Err(e) = copy(ctx, chunk, source, target).await {
            if matches!(e.code, ErrorCode::NotFound | ErrorCode::Corrupt) {
                // The source has no good copy (its file is gone or damaged): it is a replica
                // no more, and the next round picks another source instead of this one again.
                let store = ctx.store.clone();
                let reason = format!("node {source} has no good copy: {e}");
                let forget = move || crate::nodes::forget_bad_copy(&store, source, chunk, &reason);
                match blocking(forget).await {
                    Ok(()) => {
                        tracing::warn!(%chunk, %source, error = %e, "repair source has no good copy; it is no longer a replica");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(%chunk, %source, error = %e, "cannot forget a bad repair source");
                        return Outcome::Retry;
                    }
                }
            }
            tracing::warn!(%chunk, %source, %target, error = %e, "chunk copy failed");
            return Outcome::Retry;
        }
        let ctx2 = ctx.clone();
        if let Err(e) = blocking(move || add_replica(&ctx2, chunk, target)).await {
            tracing::warn!(%chunk, %target, error = %e, "cannot record the new replica");
            return Outcome::Retry;
        }
        tracing::info!(%chunk, %source, %target, "chunk copied to a new replica");
    }
    Outcome::Retry
}

/// Orders `source` to copy `chunk` to `target`.
async fn copy(ctx: &Ctx, chunk: ChunkId, source: NodeId, target: NodeId) -> Result<(), RpcError> {
    let from = ctx.nodes.replica(source).addr;
    let to = ctx.nodes.replica(target).addr;
    let path = format!("{REPLICATE_PATH_PREFIX}{chunk}?to={to}");
    let request = ctx.client.send_ok(
        Method::POST,
        &from,
        &path,
        NO_CONTENT,
        dfs_common::http::empty(),
    );
    match tokio::time::timeout(COPY_TIMEOUT, request).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(RpcError::unavailable(format!(
            "node {source} at {from} did not copy within {} s",
            COPY_TIMEOUT.as_secs()
        ))),
    }
}

/// Records a new copy on `target`.
fn add_replica(ctx: &Ctx, chunk: ChunkId, target: NodeId) -> Result<(), RpcError> {
    let mut txn = ctx.store.begin();
    let key = keys::chunk_loc(chunk);
    match txn.get::<ChunkLoc>(Cf::ChunkLoc, &key)? {
        Some(mut loc) if loc.refcount > 0 => {
            if !loc.replicas.contains(&target) {
                loc.replicas.push(target);
            }
            txn.put(Cf::ChunkLoc, &key, &loc)?;
            txn.put(Cf::NodeChunk, &keys::node_chunk(target, chunk), &Present)?;
            prune_dead(ctx, &mut txn, chunk)?;
        }
        // The file went away while we copied: the new copy is garbage.
        _ => queue::push(
            &mut txn,
            Queue::Gc,
            crate::clock::steady_ms(),
            chunk,
            &[target],
            "copied while released",
        )?,
    }
    txn.commit(true)?;
    Ok(())
}

/// Once a chunk has enough live replicas, forgets its dead ones.
fn prune_dead(ctx: &Ctx, txn: &mut Txn<'_>, chunk: ChunkId) -> Result<(), StoreError> {
    let key = keys::chunk_loc(chunk);
    let Some(mut loc) = txn.get::<ChunkLoc>(Cf::ChunkLoc, &key)? else {
        return Ok(());
    };
    let (live, dead): (Vec<NodeId>, Vec<NodeId>) =
        loc.replicas.iter().partition(|n| ctx.nodes.is_live(**n));
    if live.len() < ctx.replication as usize || dead.is_empty() {
        return Ok(());
    }
    for node in &dead {
        txn.delete(Cf::NodeChunk, &keys::node_chunk(*node, chunk));
    }
    loc.replicas = live;
    txn.put(Cf::ChunkLoc, &key, &loc)
}

/// Removes a finished item (pruning dead replicas) or reschedules it with backoff.
fn finish(ctx: &Ctx, work: &Work, outcome: Outcome) -> Result<(), RpcError> {
    let mut txn = ctx.store.begin();
    match outcome {
        Outcome::Done => {
            queue::remove(&mut txn, Queue::Repair, work);
            prune_dead(ctx, &mut txn, work.chunk)?;
        }
        Outcome::Retry => {
            queue::retry_later(
                &mut txn,
                Queue::Repair,
                work,
                Vec::new(),
                crate::clock::steady_ms(),
            )?;
        }
    }
    txn.commit(true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns::tests::{chunk_ids, fixture, loc, put, queued, register, Fixture};
    use crate::ns::{Namespace, NsSettings, Sessions};
    use dfs_common::auth::ClusterSecret;
    use dfs_common::http::InternalClient;
    use std::sync::Arc;

    fn ctx(f: &Fixture) -> Ctx {
        let sessions = Arc::new(Sessions::load(&f.store).unwrap());
        let settings = NsSettings {
            replication: 2,
            chunk_size: 1 << 20,
            orphan_grace_ms: 0,
            slice_caps: Default::default(),
        };
        let ns = Namespace::new(f.store.clone(), f.nodes.clone(), sessions.clone(), settings);
        Ctx {
            store: f.store.clone(),
            nodes: f.nodes.clone(),
            sessions,
            ns: Arc::new(ns),
            client: InternalClient::new(ClusterSecret::new("test-secret-0123456789").unwrap()),
            replication: 2,
            heartbeat_interval: Duration::from_secs(1),
            dead_timeout: Duration::from_secs(10),
            session_timeout: Duration::from_secs(60),
            release_grace: Duration::ZERO,
            upload_expiry: Duration::from_secs(60),
            leading: Arc::new(|| true),
        }
    }

    /// A node declared dead registers again before its chunks were copied: the repair items
    /// queued meanwhile end without any copy (a copy would fail: no chunkd of the fixture
    /// listens) and the returning node stays a replica.
    #[tokio::test]
    async fn repairing_a_chunk_whose_replicas_all_returned_does_nothing() {
        let f = fixture();
        put(&f.ns, "/b/f", 1).unwrap();
        let chunk = chunk_ids(&f.ns, "/b/f")[0];
        let replicas = loc(&f.store, chunk).unwrap().replicas;
        let victim = replicas[0];
        assert!(f.nodes.mark_dead(&f.store, victim, Duration::ZERO).unwrap());
        f.nodes.sweep_dead(&f.store, 100).unwrap();
        assert_eq!(queued(&f.store, Queue::Repair), [chunk]);
        register(&f.store, &f.nodes, &f.ns, Some(victim), 9, vec![chunk]);
        let ctx = ctx(&f);
        let work = queue::due(&f.store.view(), Queue::Repair, u64::MAX, 10)
            .unwrap()
            .remove(0);
        let outcome = repair(&ctx, chunk).await;
        assert!(matches!(outcome, Outcome::Done));
        finish(&ctx, &work, outcome).unwrap();
        assert!(queued(&f.store, Queue::Repair).is_empty());
        assert_eq!(loc(&f.store, chunk).unwrap().replicas, replicas);
    }
}

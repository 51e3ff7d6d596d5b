//! Chunk reconciliation of a registering chunkd, in bounded pages.
//!
//! A chunkd registers (its id, address and space: one small commit), then sends the ids of the
//! chunks it holds in ascending pages of at most [`MAX_RECONCILE_PAGE`] ([`ReconcileReq`]). Each
//! page is one transaction that compares the page with what metad believes the node holds in
//! the same id range: a chunk metad does not reference is to be deleted, a copy of a chunk short
//! of replicas is used again, and a copy metad expected but the page lacks is lost (repaired
//! from another replica). No transaction grows with the node's size, other commits interleave
//! with the pages, and the chunkd heartbeats between them.
//!
//! Writes go on during a registration, so a chunk may reach the node after it listed its
//! chunks. Such a chunk is never counted lost: only chunks allocated before the registration
//! began (ids below its watermark) and not being written then may be.

use crate::nodes::{forget_replica, Nodes};
use crate::ns::Sessions;
use crate::store::values::{ChunkLoc, Present};
use crate::store::{keys, Cf, IdKind, Reader, Store, Txn};
use dfs_common::wire::{ReconcileReq, ReconcileResp, MAX_RECONCILE_PAGE};
use dfs_common::{ChunkId, ErrorDetail, NodeId, RpcError};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Which of a node's expected chunks a registration may declare lost.
#[derive(Debug)]
pub(crate) struct Scope {
    /// Chunk ids from this one on were allocated after the registration began.
    watermark: ChunkId,
    /// Chunks of the write sessions open when it began.
    writing: HashSet<ChunkId>,
}

impl Scope {
    /// The scope of a registration beginning now.
    pub(crate) fn begin(store: &Store, sessions: &Sessions) -> Result<Scope, RpcError> {
        // Taken before the sessions: a chunk allocated in between is above the watermark.
        let watermark = ChunkId(store.next_id(IdKind::Chunk)?);
        Ok(Scope {
            watermark,
            writing: sessions.allocated_chunks(),
        })
    }

    fn may_be_lost(&self, chunk: ChunkId) -> bool {
        chunk < self.watermark && !self.writing.contains(&chunk)
    }
}

/// What reconciling some chunks found.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Chunks metad knew the node holds.
    pub kept: u64,
    /// Copies used again (their chunk was short of replicas).
    pub readded: u64,
    /// Expected copies the node no longer has.
    pub lost: u64,
    /// Chunks the node must delete.
    pub delete: Vec<ChunkId>,
}

/// Stages the reconciliation of node `id`'s chunks in `(after, upper]` (`upper` `None`: to the
/// end) with `held`, the sorted ids the node holds in that range.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reconcile_range(
    txn: &mut Txn<'_>,
    nodes: &Nodes,
    sessions: &Sessions,
    factor: usize,
    id: NodeId,
    held: &[ChunkId],
    after: Option<ChunkId>,
    upper: Option<ChunkId>,
    scope: &Scope,
) -> Result<Tally, RpcError> {
    let mut tally = Tally::default();
    for &chunk in held {
        match txn.get::<ChunkLoc>(Cf::ChunkLoc, &keys::chunk_loc(chunk))? {
            Some(loc) if loc.replicas.contains(&id) => tally.kept += 1,
            Some(mut loc) if loc.refcount > 0 && nodes.live_count(&loc.replicas) < factor => {
                // A copy came back while the chunk is short of replicas: use it again.
                loc.replicas.push(id);
                txn.put(Cf::ChunkLoc, &keys::chunk_loc(chunk), &loc)?;
                txn.put(Cf::NodeChunk, &keys::node_chunk(id, chunk), &Present)?;
                tally.readded += 1;
            }
            Some(_) => tally.delete.push(chunk),
            // Being written: its session will record it.
            None if scope.writing.contains(&chunk) || sessions.has_chunk(chunk) => tally.kept += 1,
            None => tally.delete.push(chunk),
        }
    }
    // Copies metad expects in the range that the node did not list.
    let held: HashSet<ChunkId> = held.iter().copied().collect();
    let mut missing = Vec::new();
    let start = after.map(|a| keys::node_chunk(id, a));
    txn.scan_raw(
        Cf::NodeChunk,
        &keys::node_chunk_prefix(id),
        start.as_ref().map(|k| k.as_slice()),
        &mut |key, _| {
            let Some((_, chunk)) = keys::parse_node_chunk(key) else {
                return Ok(true);
            };
            if upper.is_some_and(|u| chunk > u) {
                return Ok(false);
            }
            if !held.contains(&chunk) && scope.may_be_lost(chunk) {
                missing.push(chunk);
            }
            Ok(true)
        },
    )?;
    let (now_ms, reason) = (
        crate::clock::steady_ms(),
        format!("node {id} lost its copy"),
    );
    for chunk in missing {
        forget_replica(txn, id, chunk, &reason, now_ms)?;
        tally.lost += 1;
    }
    Ok(tally)
}

/// A registration whose pages are arriving.
struct InProgress {
    scope: Scope,
    /// The last chunk id of the pages done so far.
    after: Option<ChunkId>,
    /// Counts over the pages done so far: kept, re-added, lost, to delete.
    counts: [u64; 4],
    started: Instant,
}

/// The registrations in progress, by node. Kept in memory: after a metad restart a chunkd
/// whose next page is refused registers again from the start.
#[derive(Default)]
pub struct Registrations {
    map: Mutex<HashMap<NodeId, InProgress>>,
}

impl Registrations {
    fn lock(&self) -> MutexGuard<'_, HashMap<NodeId, InProgress>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Begins (or begins again) the paged reconciliation of node `id`.
    pub(crate) fn begin(&self, id: NodeId, scope: Scope) {
        self.lock().insert(
            id,
            InProgress {
                scope,
                after: None,
                counts: [0; 4],
                started: Instant::now(),
            },
        );
    }

    /// Reconciles one page. A page out of order (a lost answer, a metad restart) is refused
    /// with `NoSuchSession`: the chunkd registers again.
    pub(crate) fn page(
        &self,
        store: &Store,
        nodes: &Nodes,
        sessions: &Sessions,
        replication: u32,
        req: &ReconcileReq,
    ) -> Result<ReconcileResp, RpcError> {
        check_page(req)?;
        // One page at a time per node; other nodes' pages and all other commits interleave.
        let mut txn = store.begin();
        let mut map = self.lock();
        let Some(reg) = map.get_mut(&req.node_id) else {
            return Err(RpcError::detailed(
                ErrorDetail::NoSuchSession,
                format!("no registration of node {} in progress", req.node_id),
            ));
        };
        if reg.after != req.after {
            let expected = reg.after;
            map.remove(&req.node_id);
            return Err(RpcError::detailed(
                ErrorDetail::NoSuchSession,
                format!(
                    "page of node {} after {:?}, expected after {expected:?}: register again",
                    req.node_id, req.after
                ),
            ));
        }
        let upper = if req.last {
            None
        } else {
            req.chunks.last().copied()
        };
        let tally = reconcile_range(
            &mut txn,
            nodes,
            sessions,
            replication as usize,
            req.node_id,
            &req.chunks,
            req.after,
            upper,
            &reg.scope,
        )?;
        txn.commit(true)?;
        reg.after = upper.or(reg.after);
        let added = [
            tally.kept,
            tally.readded,
            tally.lost,
            tally.delete.len() as u64,
        ];
        for (count, more) in reg.counts.iter_mut().zip(added) {
            *count += more;
        }
        if req.last {
            let [kept, readded, lost, delete] = reg.counts;
            tracing::info!(
                node = %req.node_id,
                kept,
                readded,
                lost,
                delete,
                elapsed_ms = reg.started.elapsed().as_millis() as u64,
                "node reconciled"
            );
            map.remove(&req.node_id);
        }
        Ok(ReconcileResp {
            delete: tally.delete,
        })
    }
}

/// Checks a page's shape: bounded, strictly ascending, after the previous page.
fn check_page(req: &ReconcileReq) -> Result<(), RpcError> {
    if req.chunks.len() > MAX_RECONCILE_PAGE {
        return Err(RpcError::invalid(format!(
            "a reconcile page holds at most {MAX_RECONCILE_PAGE} chunks, not {}",
            req.chunks.len()
        )));
    }
    let ascending = req.chunks.windows(2).all(|w| w[0] < w[1]);
    let after_previous = match (req.after, req.chunks.first()) {
        (Some(after), Some(first)) => *first > after,
        _ => true,
    };
    if !ascending || !after_previous {
        return Err(RpcError::invalid(
            "reconcile page: chunk ids must ascend strictly and follow the previous page",
        ));
    }
    if !req.last && req.chunks.is_empty() {
        return Err(RpcError::invalid(
            "reconcile page: only the last page may be empty",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

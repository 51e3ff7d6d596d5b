//! The sweep of a dead chunkd: every chunk it held is queued for repair, in bounded batches.
//!
//! Declaring a node dead is one small transaction (its state and a [`NodeSweep`] item); the
//! dead detector then calls [`Nodes::sweep_dead`] until no sweep is left. Each batch queues
//! the next chunks of the node's `node_chunk` rows (in chunk order) and moves the item's cursor
//! in the same transaction, so a restart resumes after the last committed batch. Queueing a
//! chunk twice is harmless: the repair worker decides from the chunk's current record.
//!
//! A node that registers again while its sweep is pending cancels it (see `Nodes::register`):
//! registration reconciles everything the node holds, and the repair items already queued find
//! chunks with enough live replicas and end without copying anything.

use super::Nodes;
use crate::store::queue::{self, Queue};
use crate::store::values::{NodeSweep, Value};
use crate::store::{keys, Cf, Reader, Store, StoreError, Txn};
use dfs_common::{NodeId, RpcError};

/// Most rows one sweep batch writes: the repair items and the sweep's own item.
pub const BATCH_ROWS: usize = 10_000;

/// What one sweep batch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepStep {
    /// The dead node.
    pub node: NodeId,
    /// Chunks queued for repair by this batch.
    pub queued: usize,
    /// Whether every chunk of the node is now queued (the item is gone).
    pub finished: bool,
}

/// Stages the start of the sweep of `node`, just declared dead.
pub(super) fn start(txn: &mut Txn<'_>, node: NodeId, now_ms: u64) -> Result<(), StoreError> {
    let sweep = NodeSweep {
        after: None,
        queued: 0,
        started_ms: now_ms,
    };
    txn.put(Cf::NodeSweep, &keys::node(node), &sweep)
}

/// Stages the end of a pending sweep of `node`, if any: it registered again. Returns the
/// chunks the sweep had queued, or `None` when there was none.
pub(super) fn cancel(txn: &mut Txn<'_>, node: NodeId) -> Result<Option<u64>, StoreError> {
    let key = keys::node(node);
    let Some(raw) = txn.get_raw(Cf::NodeSweep, &key)? else {
        return Ok(None);
    };
    txn.delete(Cf::NodeSweep, &key);
    Ok(Some(NodeSweep::decode(&raw).map_or(0, |s| s.queued)))
}

/// Number of dead nodes whose sweep is pending (for `status` and the metrics).
pub fn pending(reader: &impl Reader) -> Result<u64, StoreError> {
    let mut count = 0u64;
    reader.scan_raw(Cf::NodeSweep, &[], None, &mut |_, _| {
        count += 1;
        Ok(true)
    })?;
    Ok(count)
}

impl Nodes {
    /// Queues the next chunks of one pending sweep (the first in the `node_sweep` table) for
    /// repair: at most `limit` rows (never fewer than 2) in one synced transaction. `None`
    /// when no sweep is pending.
    pub fn sweep_dead(&self, store: &Store, limit: usize) -> Result<Option<SweepStep>, RpcError> {
        let limit = limit.max(2);
        // Most calls find nothing: they must not take the write lock for that.
        if !store.view().any_with_prefix(Cf::NodeSweep, &[])? {
            return Ok(None);
        }
        let mut txn = store.begin();
        let mut first = None;
        txn.scan_raw(Cf::NodeSweep, &[], None, &mut |key, value| {
            first = Some((key.to_vec(), value.to_vec()));
            Ok(false)
        })?;
        let Some((key, value)) = first else {
            return Ok(None);
        };
        let Some(node) = keys::parse_node(&key) else {
            // Nothing can be done with it, and keeping it would stall every sweep behind it.
            tracing::error!(key = ?key, "malformed node-sweep key dropped");
            txn.delete(Cf::NodeSweep, &key);
            txn.commit(true)?;
            return Ok(Some(SweepStep {
                node: NodeId(0),
                queued: 0,
                finished: true,
            }));
        };
        let mut sweep = NodeSweep::decode(&value).unwrap_or_else(|e| {
            // Sweeping again from the start only queues some chunks twice.
            tracing::error!(node = %node, "node sweep unreadable ({e}); starting it over");
            NodeSweep {
                after: None,
                queued: 0,
                started_ms: crate::clock::steady_ms(),
            }
        });
        // One row is kept for the sweep's own item.
        let room = limit - 1;
        let after = sweep.after.map(|chunk| keys::node_chunk(node, chunk));
        let mut chunks = Vec::new();
        let mut more = false;
        txn.scan_raw(
            Cf::NodeChunk,
            &keys::node_chunk_prefix(node),
            after.as_ref().map(|k| k.as_slice()),
            &mut |key, _| {
                if chunks.len() == room {
                    more = true;
                    return Ok(false);
                }
                match keys::parse_node_chunk(key) {
                    Some((_, chunk)) => chunks.push(chunk),
                    None => tracing::error!(node = %node, "skipping malformed node_chunk key {key:02x?}"),
                }
                Ok(true)
            },
        )?;
        let now = crate::clock::steady_ms();
        let reason = format!("node {node} dead");
        for chunk in &chunks {
            queue::push(&mut txn, Queue::Repair, now, *chunk, &[], &reason)?;
        }
        sweep.queued = sweep.queued.saturating_add(chunks.len() as u64);
        sweep.after = chunks.last().copied().or(sweep.after);
        if more {
            txn.put(Cf::NodeSweep, &key, &sweep)?;
        } else {
            txn.delete(Cf::NodeSweep, &key);
        }
        txn.commit(true)?;
        if more {
            tracing::debug!(node = %node, batch = chunks.len(), queued = sweep.queued, "dead node sweep: batch queued for repair");
        } else {
            let addr = self.replica(node).addr;
            tracing::warn!(
                node = %node,
                %addr,
                chunks = sweep.queued,
                "dead node swept: {} chunks queued for repair",
                sweep.queued
            );
        }
        Ok(Some(SweepStep {
            node,
            queued: chunks.len(),
            finished: !more,
        }))
    }
}

//! The persistent work queues (`gc_queue`, `repair_queue`), keyed by due time ‖ chunk id.
//!
//! Rescheduling inserts the new item and deletes the old one in the same batch, so a crash
//! never loses work; at worst a chunk is processed twice, which both workers tolerate.

use super::keys;
use super::values::{QueueItem, Value};
use super::{Cf, Reader, StoreError, Txn};
use dfs_common::{ChunkId, NodeId};
use std::time::Duration;

/// Which queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// Chunks to delete from chunkds.
    Gc,
    /// Chunks to re-replicate.
    Repair,
}

impl Queue {
    fn cf(self) -> Cf {
        match self {
            Queue::Gc => Cf::GcQueue,
            Queue::Repair => Cf::RepairQueue,
        }
    }
}

/// One queued piece of work.
#[derive(Clone, Debug)]
pub struct Work {
    /// Its key (to delete it once done).
    pub key: Vec<u8>,
    /// The chunk.
    pub chunk: ChunkId,
    /// Attempts, nodes and reason.
    pub item: QueueItem,
}

/// Queues work for `chunk` at `due_ms`. An item already at the same key gains the nodes.
pub fn push(
    txn: &mut Txn<'_>,
    queue: Queue,
    due_ms: u64,
    chunk: ChunkId,
    nodes: &[NodeId],
    reason: &str,
) -> Result<(), StoreError> {
    let key = keys::queue(due_ms, chunk);
    let mut item = txn
        .get::<QueueItem>(queue.cf(), &key)?
        .unwrap_or(QueueItem {
            attempts: 0,
            nodes: Vec::new(),
            reason: reason.to_owned(),
        });
    for node in nodes {
        if !item.nodes.contains(node) {
            item.nodes.push(*node);
        }
    }
    txn.put(queue.cf(), &key, &item)
}

/// Marks `work` done.
pub fn remove(txn: &mut Txn<'_>, queue: Queue, work: &Work) {
    txn.delete(queue.cf(), &work.key);
}

/// Moves `work` to `now_ms` plus an exponential backoff, keeping only `nodes` (for GC: those
/// still to be done). Returns the new due time.
pub fn retry_later(
    txn: &mut Txn<'_>,
    queue: Queue,
    work: &Work,
    nodes: Vec<NodeId>,
    now_ms: u64,
) -> Result<u64, StoreError> {
    let attempts = work.item.attempts.saturating_add(1);
    let due = now_ms.saturating_add(backoff(attempts).as_millis() as u64);
    let item = QueueItem {
        attempts,
        nodes,
        reason: work.item.reason.clone(),
    };
    // Insert before delete (same batch): the work is never absent from the queue.
    txn.put(queue.cf(), &keys::queue(due, work.chunk), &item)?;
    if keys::queue(due, work.chunk).as_slice() != work.key.as_slice() {
        txn.delete(queue.cf(), &work.key);
    }
    Ok(due)
}

/// Delay before attempt `attempts + 1`: 1 s doubling up to 5 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 1u64 << attempts.min(9);
    Duration::from_secs(secs.min(300))
}

/// Up to `limit` items due at `now_ms`, earliest first. An item that does not decode is
/// returned with no nodes (the workers then act on the chunk's current state), so one bad value
/// cannot wedge a queue.
pub fn due(
    reader: &impl Reader,
    queue: Queue,
    now_ms: u64,
    limit: usize,
) -> Result<Vec<Work>, StoreError> {
    let mut out = Vec::new();
    reader.scan_raw(queue.cf(), &[], None, &mut |key, value| {
        let Some((due_ms, chunk)) = keys::parse_queue(key) else {
            tracing::error!("malformed {:?} queue key {key:02x?}; skipped", queue);
            return Ok(true);
        };
        if due_ms > now_ms || out.len() >= limit {
            return Ok(false);
        }
        let item = QueueItem::decode(value).unwrap_or_else(|e| {
            tracing::error!("{queue:?} queue item for chunk {chunk}: {e}");
            QueueItem {
                attempts: 0,
                nodes: Vec::new(),
                reason: "undecodable item".into(),
            }
        });
        out.push(Work {
            key: key.to_vec(),
            chunk,
            item,
        });
        Ok(true)
    })?;
    Ok(out)
}

/// Number of items in a queue (for `status`).
pub fn len(reader: &impl Reader, queue: Queue) -> Result<u64, StoreError> {
    let mut count = 0u64;
    reader.scan_raw(queue.cf(), &[], None, &mut |_, _| {
        count += 1;
        Ok(true)
    })?;
    Ok(count)
}

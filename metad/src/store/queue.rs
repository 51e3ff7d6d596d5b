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

/// How far ahead of now an item may be due: the longest backoff, with room to spare. One due
/// later was queued by a clock that was ahead (a member's, or this one's before a step back).
pub const MAX_AHEAD: Duration = Duration::from_secs(600);

/// Moves up to `limit` items due more than [`MAX_AHEAD`] after `now_ms` to `now_ms`, in one
/// synced batch; returns how many. Without this, a wall clock stepped back by an hour would
/// leave the work queued before the step waiting an hour.
pub fn rebase_future(
    store: &super::Store,
    queue: Queue,
    now_ms: u64,
    limit: usize,
) -> Result<usize, StoreError> {
    let horizon = now_ms.saturating_add(MAX_AHEAD.as_millis() as u64);
    let after = keys::queue(horizon, ChunkId(u64::MAX));
    let mut future = Vec::new();
    store
        .view()
        .scan_raw(queue.cf(), &[], Some(&after), &mut |key, value| {
            future.push((key.to_vec(), value.to_vec()));
            Ok(future.len() < limit)
        })?;
    if future.is_empty() {
        return Ok(0);
    }
    let mut txn = store.begin();
    for (key, value) in &future {
        let Some((due_ms, chunk)) = keys::parse_queue(key) else {
            continue;
        };
        tracing::warn!(
            ?queue,
            %chunk,
            ahead_ms = due_ms - now_ms,
            "queue item due far in the future (queued by a clock that was ahead); due now"
        );
        txn.put_raw(queue.cf(), &keys::queue(now_ms, chunk), value);
        txn.delete(queue.cf(), key);
    }
    txn.commit(true)?;
    Ok(future.len())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::temp_store;

    fn chunks_due(store: &super::super::Store, now_ms: u64) -> Vec<ChunkId> {
        due(&store.view(), Queue::Repair, now_ms, 100)
            .unwrap()
            .into_iter()
            .map(|w| w.chunk)
            .collect()
    }

    /// Work queued by a clock an hour ahead (a member's, or this one's before it was stepped
    /// back) is due now, not in an hour; work due within the longest backoff stays put.
    #[test]
    fn work_queued_by_a_clock_that_was_ahead_is_due_now() {
        let (_dir, store) = temp_store();
        let now = 1_800_000_000_000;
        let mut txn = store.begin();
        push(
            &mut txn,
            Queue::Repair,
            now + 3_600_000,
            ChunkId(1),
            &[],
            "ahead",
        )
        .unwrap();
        push(
            &mut txn,
            Queue::Repair,
            now + 60_000,
            ChunkId(2),
            &[],
            "backoff",
        )
        .unwrap();
        txn.commit(true).unwrap();
        assert!(chunks_due(&store, now).is_empty());

        assert_eq!(rebase_future(&store, Queue::Repair, now, 100).unwrap(), 1);
        assert_eq!(chunks_due(&store, now), [ChunkId(1)]);
        assert_eq!(len(&store.view(), Queue::Repair).unwrap(), 2);
        assert_eq!(rebase_future(&store, Queue::Repair, now, 100).unwrap(), 0);
    }
}

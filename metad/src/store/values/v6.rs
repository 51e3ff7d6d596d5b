//! Values of schema version 6, all new. Frozen: never change these types, add to a later
//! version instead.
//!
//! Version 6 made the work that grows with the data run in bounded batches, as persistent
//! work items: a directory subtree cut from the namespace by a recursive delete
//! ([`DetachedTree`]) waits in the `detached` table until the background deleter has removed
//! it, a few thousand rows per transaction; a chunkd declared dead waits in the `node_sweep`
//! table ([`NodeSweep`]) until every chunk it held is queued for repair, likewise in batches.

use dfs_common::ChunkId;
use serde::{Deserialize, Serialize};

/// A directory subtree detached from the namespace by a recursive delete (`detached` table,
/// keyed by the directory's inode). No path leads to it any more; its rows (entries, chunk
/// rows, the directory's own payload) are deleted in bounded batches, and the item goes with
/// the last of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetachedTree {
    /// The path the directory had, for logs and the reasons of GC items.
    pub path: String,
    /// When it was detached, Unix milliseconds.
    pub detached_ms: u64,
    /// Rows deleted or rewritten so far (progress, for logs).
    pub rows_done: u64,
}

/// A dead chunkd whose chunks are being queued for repair (`node_sweep` table, keyed by the
/// node id). Each batch queues the next chunks of its `node_chunk` rows and moves the cursor
/// in the same transaction; the item goes with the last batch, or when the node registers
/// again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSweep {
    /// The last chunk queued: the sweep goes on after it (`None`: from the node's first).
    pub after: Option<ChunkId>,
    /// Chunks queued so far.
    pub queued: u64,
    /// When the node was declared dead, Unix milliseconds.
    pub started_ms: u64,
}

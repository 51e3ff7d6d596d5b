//! Values of schema version 6, all new. Frozen: never change these types, add to a later
//! version instead.
//!
//! Version 6 made the work that grows with the data run in bounded batches, as persistent
//! work items: a directory subtree cut from the namespace by a recursive delete
//! ([`DetachedTree`]) waits in the `detached` table until the background deleter has removed
//! it, a few thousand rows per transaction.

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

//! Recursive deletes in bounded batches.
//!
//! `delete` of a non-empty directory with `recursive` does not stage the whole subtree: it
//! removes the directory's entry from its parent and records the subtree in the `detached`
//! table, both in one small transaction. From then on no path leads into the subtree, so no
//! lookup, listing, write, rename or copy can reach it, exactly as if it were gone. The
//! background deleter ([`Namespace::drain_detached`], run by `workers::detached`) then removes
//! its rows depth first, in transactions of at most [`BATCH_ROWS`] rows that other commits
//! interleave with: each file's chunk rows are released as by a one-shot delete (a chunk goes to
//! GC when its last slice goes, so chunks shared with copies outside the tree stay), then its
//! entry; an emptied directory's payload, then its entry; the work item goes with the last row.
//!
//! Nothing but the tables themselves says how far a deletion got: every batch removes what it
//! released, so after a restart the next batch simply starts from what is left.

use super::{map_share, now_ms, release_slices, Namespace};
use crate::store::values::{Dentry, DetachedTree, FileChunk, Value};
use crate::store::{keys, Cf, Reader, StoreError, Txn};
use dfs_common::path::DfsPath;
use dfs_common::{InodeId, RpcError};
use std::collections::HashSet;

/// Most rows one background deletion step writes (entry and chunk row deletions, chunk
/// location updates, GC items, the work item). Every metad transaction will become one
/// replicated log entry, so none may grow with the data; 10,000 rows is a few hundred KiB.
pub const BATCH_ROWS: usize = 10_000;

/// Rows the costliest unit of work may write: releasing one slice deletes its chunk row,
/// rewrites its chunk's location and may queue the chunk for GC.
const SLICE_ROWS: usize = 3;

/// The smallest batch limit honoured: one slice plus the work item, so that every step makes
/// progress.
const MIN_BATCH_ROWS: usize = SLICE_ROWS + 1;

/// What one background deletion step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrainStep {
    /// The detached directory worked on.
    pub tree: InodeId,
    /// Rows the step's transaction wrote.
    pub rows: usize,
    /// Whether the tree is now entirely gone (its work item too).
    pub finished: bool,
}

/// Stages the detachment of directory `inode` (whose entry the caller removes from its parent
/// in the same transaction): its subtree is recorded for the background deleter.
pub(super) fn detach(txn: &mut Txn<'_>, inode: InodeId, path: &DfsPath) -> Result<(), StoreError> {
    let item = DetachedTree {
        path: path.to_string(),
        detached_ms: now_ms(),
        rows_done: 0,
    };
    txn.put(Cf::Detached, &keys::detached(inode), &item)
}

/// Number of detached trees still being deleted (for `status` and the metrics).
pub fn pending(reader: &impl Reader) -> Result<u64, StoreError> {
    let mut count = 0u64;
    reader.scan_raw(Cf::Detached, &[], None, &mut |_, _| {
        count += 1;
        Ok(true)
    })?;
    Ok(count)
}

impl Namespace {
    /// Deletes the next rows of one detached tree (the first in the `detached` table), at most
    /// `limit` of them (never fewer than 4, so that a step always progresses), in one synced
    /// transaction. `None` when no tree waits.
    pub fn drain_detached(&self, limit: usize) -> Result<Option<DrainStep>, RpcError> {
        let limit = limit.max(MIN_BATCH_ROWS);
        // Most calls find nothing: they must not take the write lock for that.
        if !self.store.view().any_with_prefix(Cf::Detached, &[])? {
            return Ok(None);
        }
        let mut txn = self.store.begin();
        let mut first = None;
        txn.scan_raw(Cf::Detached, &[], None, &mut |key, value| {
            first = Some((key.to_vec(), value.to_vec()));
            Ok(false)
        })?;
        let Some((key, value)) = first else {
            return Ok(None);
        };
        let Some(tree) = keys::parse_detached(&key) else {
            // Nothing can be done with it, and keeping it would stall every tree behind it.
            tracing::error!(key = ?key, "malformed detached-tree key dropped");
            txn.delete(Cf::Detached, &key);
            txn.commit(true)?;
            return Ok(Some(DrainStep {
                tree: InodeId(0),
                rows: 1,
                finished: true,
            }));
        };
        let mut item = DetachedTree::decode(&value).unwrap_or_else(|e| {
            tracing::error!(tree = %tree, "detached-tree item unreadable ({e}); deleting the tree anyway");
            DetachedTree {
                path: format!("(detached directory {tree})"),
                detached_ms: 0,
                rows_done: 0,
            }
        });
        // One row is kept for the work item itself.
        let finished = drain(&mut txn, tree, &item.path, limit - 1)?;
        let rows = txn.staged() + 1;
        item.rows_done = item.rows_done.saturating_add(rows as u64);
        if finished {
            txn.delete(Cf::Detached, &key);
        } else {
            txn.put(Cf::Detached, &key, &item)?;
        }
        txn.commit(true)?;
        if finished {
            tracing::info!(tree = %tree, path = %item.path, rows = item.rows_done, "detached tree deleted");
        } else {
            tracing::debug!(tree = %tree, path = %item.path, rows, total = item.rows_done, "detached tree: batch deleted");
        }
        Ok(Some(DrainStep {
            tree,
            rows,
            finished,
        }))
    }
}

/// A directory being emptied.
struct Frame {
    /// Its inode.
    inode: InodeId,
    /// Its entry in its parent; `None` for the detached directory, whose entry is gone.
    entry: Option<Vec<u8>>,
    /// The last of its entries removed by this step: the next one sorts after it.
    after: Option<Vec<u8>>,
}

/// What a directory entry of the tree is.
enum Child {
    Dir(InodeId),
    File(InodeId),
    /// An entry whose value does not decode: it is removed without releasing anything.
    Unreadable(StoreError),
}

/// Whether a unit of work writing up to `rows` rows fits in the step. The first always does.
fn fits(txn: &Txn<'_>, rows: usize, limit: usize) -> bool {
    let staged = txn.staged();
    staged == 0 || staged + rows <= limit
}

/// Stages the deletion of the rows below `top`, depth first, while they fit in `limit` rows.
/// Returns whether the whole tree (the payload of `top` included) is gone.
fn drain(txn: &mut Txn<'_>, top: InodeId, owner: &str, limit: usize) -> Result<bool, StoreError> {
    let mut stack = vec![Frame {
        inode: top,
        entry: None,
        after: None,
    }];
    let mut on_stack = HashSet::from([top]);
    while let Some(frame) = stack.last() {
        if !fits(txn, 1, limit) {
            return Ok(false);
        }
        let (dir, after) = (frame.inode, frame.after.clone());
        match next_child(txn, dir, after.as_deref())? {
            Some((key, Child::Dir(inode))) if !on_stack.contains(&inode) => {
                on_stack.insert(inode);
                stack.push(Frame {
                    inode,
                    entry: Some(key),
                    after: None,
                });
            }
            Some((key, Child::Dir(inode))) => {
                // Only a corrupt table can hold a loop; dropping the entry breaks it.
                tracing::error!(tree = %top, dir = %dir, child = %inode, "directory entry loops back into its own tree; removed");
                remove_entry(txn, &mut stack, key);
            }
            Some((key, Child::File(inode))) => {
                // A chunk map other files still share stays; only this holder goes.
                let shared = map_share::drop_holder(txn, inode)?;
                if !shared && (!release_some(txn, inode, owner, limit)? || !fits(txn, 1, limit)) {
                    return Ok(false);
                }
                remove_entry(txn, &mut stack, key);
            }
            Some((key, Child::Unreadable(e))) => {
                tracing::error!(tree = %top, dir = %dir, "unreadable directory entry removed: {e}");
                remove_entry(txn, &mut stack, key);
            }
            None => {
                // Empty: its own payload (a directory object's data) goes, then its entry.
                if !release_some(txn, dir, owner, limit)? || !fits(txn, 1, limit) {
                    return Ok(false);
                }
                let done = stack.pop();
                on_stack.remove(&dir);
                match done.and_then(|f| f.entry) {
                    Some(entry) => remove_entry(txn, &mut stack, entry),
                    None => return Ok(true),
                }
            }
        }
    }
    Ok(true)
}

/// Stages the deletion of entry `key` of the directory on top of `stack`, which then goes on
/// after it.
fn remove_entry(txn: &mut Txn<'_>, stack: &mut [Frame], key: Vec<u8>) {
    txn.delete(Cf::Dentry, &key);
    if let Some(parent) = stack.last_mut() {
        parent.after = Some(key);
    }
}

/// The first entry of `dir` after `after`.
fn next_child(
    txn: &Txn<'_>,
    dir: InodeId,
    after: Option<&[u8]>,
) -> Result<Option<(Vec<u8>, Child)>, StoreError> {
    let mut found = None;
    txn.scan_raw(
        Cf::Dentry,
        &keys::dentry_prefix(dir),
        after,
        &mut |key, value| {
            let child = match Dentry::decode(value) {
                Ok(Dentry::Dir(d)) => Child::Dir(d.inode),
                Ok(Dentry::File(f)) => Child::File(f.inode),
                Err(e) => Child::Unreadable(e),
            };
            found = Some((key.to_vec(), child));
            Ok(false)
        },
    )?;
    Ok(found)
}

/// Releases the chunk rows of `inode` (a file, or a directory's payload) from the first one,
/// as many as fit in `limit` rows, exactly as a one-shot delete does (`release_slices`).
/// Returns whether none is left.
fn release_some(
    txn: &mut Txn<'_>,
    inode: InodeId,
    owner: &str,
    limit: usize,
) -> Result<bool, StoreError> {
    let room = limit.saturating_sub(txn.staged()) / SLICE_ROWS;
    let wanted = room.max(1);
    let mut rows: Vec<(Vec<u8>, Option<FileChunk>)> = Vec::new();
    let mut more = false;
    txn.scan_raw(
        Cf::Chunks,
        &keys::file_chunk_prefix(inode),
        None,
        &mut |key, value| {
            if rows.len() == wanted {
                more = true;
                return Ok(false);
            }
            let row = FileChunk::decode(value)
                .map_err(|e| tracing::error!(inode = %inode, "unreadable chunk row removed: {e}"))
                .ok();
            rows.push((key.to_vec(), row));
            Ok(true)
        },
    )?;
    for (key, row) in rows {
        if !fits(txn, SLICE_ROWS, limit) {
            return Ok(false);
        }
        txn.delete(Cf::Chunks, &key);
        if let Some(row) = row {
            release_slices(txn, &[row], owner)?;
        }
    }
    Ok(!more)
}

#[cfg(test)]
mod tests;

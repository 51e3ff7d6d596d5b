//! Commits are idempotent: the batch that commits a write session (a file, a directory object
//! or a part) also records its outcome in the `session` table, so that the same commit sent
//! again (its answer was lost to a metad crash, a dropped connection or a change of leader, and
//! the client library resent it) gets the first answer rather than "no such session", which
//! the gateway could only turn into a 503 for an object that was in fact stored.
//!
//! The record also closes the session for good: a session whose mirror row outlived its commit
//! (a crash after the log's fsync but before the apply wrote the node-local row) is not loaded
//! as open again, so it can never be committed a second time, which would release the chunks
//! the first commit references.
//!
//! Records are kept for [`CLOSED_SESSION_RETENTION`], far longer than any client retries a
//! call, then dropped by the session reaper in bounded batches.

use super::Namespace;
use crate::store::values::{ClosedAnswer, ClosedSession, Value};
use crate::store::{keys, Cf, Reader, StoreError};
use dfs_common::wire::{CommitPartReq, CommitReq, Entry, EntryKind, PartInfo};
use dfs_common::{RpcError, SessionId};
use std::time::Duration;

/// How long the outcome of a commit is kept to answer a repeat of it.
pub const CLOSED_SESSION_RETENTION: Duration = Duration::from_secs(600);

/// Rows one purge transaction looks at, and deletes at most.
const PURGE_BATCH: usize = 10_000;

/// The record of a committed file or directory object, made from the entry answered.
pub(super) fn closed_object(entry: &Entry, now_ms: u64) -> ClosedSession {
    ClosedSession {
        closed_ms: now_ms,
        size: entry.size,
        etag: entry.etag.clone(),
        checksum: entry.checksum.clone().map(Into::into),
        answer: ClosedAnswer::Object {
            name: entry.name.clone(),
            directory: entry.kind == EntryKind::Dir,
            inode: entry.inode,
            mtime_ms: entry.mtime_ms,
            chunk_count: entry.chunk_count,
        },
    }
}

/// The record of a committed part, made from the answer.
pub(super) fn closed_part(info: &PartInfo, now_ms: u64) -> ClosedSession {
    ClosedSession {
        closed_ms: now_ms,
        size: info.size,
        etag: info.etag.clone(),
        checksum: info.checksum.clone().map(Into::into),
        answer: ClosedAnswer::Part {
            part_number: info.part_number,
            mtime_ms: info.mtime_ms,
        },
    }
}

/// Whether session `id` was committed (recently): its mirror row, if any, is stale.
pub(super) fn is_closed(r: &impl Reader, id: SessionId) -> Result<bool, StoreError> {
    Ok(r.get_raw(Cf::Session, &keys::closed_session(id))?.is_some())
}

impl Namespace {
    /// The recorded outcome of session `id`, read through the commits not applied yet.
    fn closed(&self, id: SessionId) -> Result<Option<ClosedSession>, RpcError> {
        let txn = self.store.begin();
        Ok(txn.get(Cf::Session, &keys::closed_session(id))?)
    }

    /// The first answer to `req` if its session was committed with the same size and ETag;
    /// `None` if there is no record of it (never committed, aborted, expired, or long ago).
    pub(super) fn repeated_commit(&self, req: &CommitReq) -> Result<Option<Entry>, RpcError> {
        let Some(closed) = self.closed(req.session)? else {
            return Ok(None);
        };
        check_same(req.session, &closed, req.size, &req.etag)?;
        let ClosedAnswer::Object {
            name,
            directory,
            inode,
            mtime_ms,
            chunk_count,
        } = closed.answer
        else {
            return Err(other_kind(req.session, "a part", "commit_part"));
        };
        tracing::info!(session = %req.session, "a commit was repeated; answering its first outcome");
        Ok(Some(Entry {
            name,
            kind: if directory {
                EntryKind::Dir
            } else {
                EntryKind::File
            },
            inode,
            size: closed.size,
            mtime_ms,
            etag: closed.etag,
            // The repeat carries what the first commit stored.
            content_type: req.content_type.clone(),
            meta: req.meta.clone(),
            checksum: closed.checksum.map(Into::into),
            explicit: directory,
            chunk_count,
            part_sizes: Vec::new(),
        }))
    }

    /// Like [`repeated_commit`](Self::repeated_commit), for a part; `etag` is the request's,
    /// normalized as stored.
    pub(super) fn repeated_part_commit(
        &self,
        req: &CommitPartReq,
        etag: &str,
    ) -> Result<Option<PartInfo>, RpcError> {
        let Some(closed) = self.closed(req.session)? else {
            return Ok(None);
        };
        check_same(req.session, &closed, req.size, etag)?;
        let ClosedAnswer::Part {
            part_number,
            mtime_ms,
        } = closed.answer
        else {
            return Err(other_kind(req.session, "an object", "commit"));
        };
        tracing::info!(session = %req.session, part_number, "a part commit was repeated; answering its first outcome");
        Ok(Some(PartInfo {
            part_number,
            size: closed.size,
            etag: closed.etag,
            checksum: closed.checksum.map(Into::into),
            mtime_ms,
        }))
    }

    /// Drops the records of sessions committed before `before_ms`, in batches of at most
    /// [`PURGE_BATCH`] rows; returns how many went.
    pub fn purge_closed_sessions(&self, before_ms: u64) -> Result<usize, RpcError> {
        let mut after: Option<Vec<u8>> = None;
        let mut purged = 0;
        loop {
            let mut seen = 0;
            let mut old = Vec::new();
            let mut last = None;
            self.store.view().scan_raw(
                Cf::Session,
                keys::CLOSED_SESSION_PREFIX,
                after.as_deref(),
                &mut |key, value| {
                    seen += 1;
                    let closed = ClosedSession::decode(value)?;
                    if closed.closed_ms < before_ms {
                        old.push(key.to_vec());
                    }
                    if seen == PURGE_BATCH {
                        last = Some(key.to_vec());
                    }
                    Ok(seen < PURGE_BATCH)
                },
            )?;
            if !old.is_empty() {
                let mut txn = self.store.begin();
                for key in &old {
                    txn.delete(Cf::Session, key);
                }
                txn.commit(false)?;
                purged += old.len();
            }
            if seen < PURGE_BATCH {
                return Ok(purged);
            }
            after = last;
        }
    }
}

/// A repeat must be the same commit: the same session ending with other bytes is a client bug,
/// not a retry.
fn check_same(
    id: SessionId,
    closed: &ClosedSession,
    size: u64,
    etag: &str,
) -> Result<(), RpcError> {
    if closed.size == size && closed.etag == etag {
        return Ok(());
    }
    Err(RpcError::invalid(format!(
        "write session {id} was already committed with {} bytes and ETag {}, not {size} bytes \
         and ETag {etag}",
        closed.size, closed.etag
    )))
}

fn other_kind(id: SessionId, what: &str, rpc: &str) -> RpcError {
    RpcError::invalid(format!(
        "write session {id} already committed {what} (with {rpc})"
    ))
}

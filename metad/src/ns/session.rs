//! Open write sessions: in memory for speed, mirrored (unsynced) in the node-local `local`
//! table so that a restart still knows which chunks are being written and can collect them
//! later. Sessions are soft state of the metad that opened them, never replicated: the mirror
//! is written directly, and deleted in the batch that commits or drops the session.
//!
//! The mirror is one row for the session (path, time, part) and one row per chunk
//! (`keys::local::session_chunk`), so allocating the n-th chunk writes one small row, not the
//! whole list again (which made a 10,000-chunk upload write about 10,000²/2 chunk records).
//! A session row written before this holds its chunks itself; later chunk rows extend it.
//!
//! A session idle for the session timeout (no chunk allocated, no commit tried) is reaped: an
//! upload of any size that makes progress is never cut off.
//!
//! A session being committed, aborted or reaped is marked `closing` first: allocations into it
//! are refused from then on, so no chunk can be added to a session after its final state was
//! read (such a chunk would be neither committed nor collected).

use crate::store::keys;
use crate::store::values::{PartTarget, Session, SessionChunk, Value};
use crate::store::{Cf, IdKind, Reader, Store, StoreError, Txn};
use dfs_common::{ChunkId, ErrorDetail, NodeId, RpcError, SessionId};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct OpenSession {
    record: Session,
    closing: bool,
    /// When the session last made a step (opened, a chunk or a replica added, a commit that
    /// failed), or this process started for a session loaded from the mirror: an upload
    /// expires when idle, not when old. Monotonic: a step of the wall clock reaps nothing.
    active: Instant,
}

impl OpenSession {
    /// A session active now and not closing.
    fn new(record: Session) -> OpenSession {
        OpenSession {
            record,
            closing: false,
            active: Instant::now(),
        }
    }
}

/// The open write sessions.
pub struct Sessions {
    map: Mutex<HashMap<SessionId, OpenSession>>,
}

impl Sessions {
    /// Loads the sessions a previous run left open. A mirror row whose session was committed
    /// (its node-local deletion was lost in a crash, see `closed`) is deleted instead: that
    /// session must never be committed twice.
    pub fn load(store: &Store) -> Result<Sessions, RpcError> {
        let mut records: HashMap<SessionId, Session> = HashMap::new();
        let mut chunk_rows: HashMap<SessionId, Vec<(u32, SessionChunk)>> = HashMap::new();
        let view = store.view();
        view.scan_raw(
            Cf::Local,
            keys::local::SESSION_PREFIX,
            None,
            &mut |key, value| {
                match keys::local::parse_session_row(key) {
                    Some((id, None)) => match Session::decode(value) {
                        Ok(record) => {
                            records.insert(id, record);
                        }
                        Err(e) => tracing::error!(session = %id, "skipping session: {e}"),
                    },
                    Some((id, Some(index))) => match SessionChunk::decode(value) {
                        Ok(chunk) => chunk_rows.entry(id).or_default().push((index, chunk)),
                        Err(e) => {
                            tracing::error!(session = %id, index, "skipping session chunk: {e}")
                        }
                    },
                    None => tracing::error!("skipping malformed session key {key:02x?}"),
                }
                Ok(true)
            },
        )?;
        let mut map = HashMap::new();
        let mut stale = Vec::new();
        for (id, mut record) in records {
            let rows = chunk_rows.remove(&id).unwrap_or_default();
            merge_chunk_rows(&mut record, rows);
            if super::closed::is_closed(&view, id)? {
                stale.push((id, record.chunks.len()));
                continue;
            }
            map.insert(id, OpenSession::new(record));
        }
        drop(view);
        for (id, chunks) in stale {
            tracing::info!(session = %id, "write session was committed before a crash; its mirror rows go");
            delete_mirror_now(store, id, chunks)?;
        }
        // Chunk rows whose session row is gone: left by nothing this build does, but harmless
        // to drop (their session can no longer be committed).
        for (id, rows) in chunk_rows {
            tracing::warn!(session = %id, rows = rows.len(), "dropping chunk rows of a session without its row");
            for (index, _) in rows {
                store.delete_local(&keys::local::session_chunk(id, index))?;
            }
        }
        Ok(Sessions {
            map: Mutex::new(map),
        })
    }

    /// Forgets every open session, here and in the node-local mirror (a new leader of a group
    /// of several: another leader may have run since they were opened). Their writers get
    /// "no such session" at commit; their chunks are orphans the chunkds' reconciliation
    /// removes.
    pub fn forget_all(&self, store: &Store) -> Result<(), RpcError> {
        let mut map = self.lock();
        if map.is_empty() {
            return Ok(());
        }
        tracing::info!(
            sessions = map.len(),
            "a new leader forgets the open write sessions"
        );
        for (id, open) in map.iter() {
            delete_mirror_now(store, *id, open.record.chunks.len())?;
        }
        map.clear();
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, OpenSession>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session for `path`, writing a file or, with `part`, a part of an upload.
    pub fn open(
        &self,
        store: &Store,
        path: String,
        part: Option<PartTarget>,
        now_ms: u64,
    ) -> Result<SessionId, RpcError> {
        let id = SessionId(store.next_id(IdKind::Session)?);
        let record = Session {
            path,
            created_ms: now_ms,
            chunks: Vec::new(),
            part,
        };
        let mut map = self.lock();
        store.put_local(&keys::local::session(id), &record)?;
        map.insert(id, OpenSession::new(record));
        Ok(id)
    }

    /// Runs `change` on an open session that is not closing; it returns the index of the one
    /// chunk it added or changed, whose row is then written.
    fn update_chunk(
        &self,
        store: &Store,
        id: SessionId,
        change: impl FnOnce(&mut Session) -> Result<usize, RpcError>,
    ) -> Result<(), RpcError> {
        let mut map = self.lock();
        let open = map.get_mut(&id).ok_or_else(|| no_session(id))?;
        if open.closing {
            return Err(closing(id));
        }
        let index = change(&mut open.record)?;
        let chunk = &open.record.chunks[index];
        let index = u32::try_from(index)
            .map_err(|_| RpcError::internal(format!("session {id} has over 2^32 chunks")))?;
        store.put_local(&keys::local::session_chunk(id, index), chunk)?;
        open.active = Instant::now();
        Ok(())
    }

    /// Records a newly allocated chunk; refuses one more than `cap` (`SliceCaps::session`).
    pub fn add_chunk(
        &self,
        store: &Store,
        id: SessionId,
        chunk: ChunkId,
        nodes: Vec<NodeId>,
        cap: usize,
    ) -> Result<(), RpcError> {
        self.update_chunk(store, id, |s| {
            if s.chunks.len() >= cap {
                return Err(RpcError::detailed(
                    ErrorDetail::EntityTooLarge,
                    format!(
                        "write session {id} of {} already holds {cap} chunks, the most one session \
                         may hold: write a larger file as a multipart upload (dfs put does so by \
                         itself)",
                        s.path
                    ),
                ));
            }
            s.chunks.push(SessionChunk { id: chunk, nodes });
            Ok(s.chunks.len() - 1)
        })
    }

    /// The nodes already chosen for `chunk` of session `id`.
    pub fn chunk_nodes(&self, id: SessionId, chunk: ChunkId) -> Result<Vec<NodeId>, RpcError> {
        let map = self.lock();
        let open = map.get(&id).ok_or_else(|| no_session(id))?;
        open.record
            .chunks
            .iter()
            .find(|c| c.id == chunk)
            .map(|c| c.nodes.clone())
            .ok_or_else(|| foreign_chunk(id, chunk))
    }

    /// Records a replacement node for `chunk`.
    pub fn add_replica(
        &self,
        store: &Store,
        id: SessionId,
        chunk: ChunkId,
        node: NodeId,
    ) -> Result<(), RpcError> {
        self.update_chunk(store, id, |s| {
            let index = s
                .chunks
                .iter()
                .position(|c| c.id == chunk)
                .ok_or_else(|| foreign_chunk(id, chunk))?;
            let entry = &mut s.chunks[index];
            if !entry.nodes.contains(&node) {
                entry.nodes.push(node);
            }
            Ok(index)
        })
    }

    /// Marks a session closing and returns its state. The caller ends with
    /// [`finish_close`](Self::finish_close) or [`cancel_close`](Self::cancel_close).
    pub fn begin_close(&self, id: SessionId) -> Result<Session, RpcError> {
        let mut map = self.lock();
        let open = map.get_mut(&id).ok_or_else(|| no_session(id))?;
        if open.closing {
            return Err(closing(id));
        }
        open.closing = true;
        Ok(open.record.clone())
    }

    /// The session is gone (its row was deleted by the closing batch).
    pub fn finish_close(&self, id: SessionId) {
        self.lock().remove(&id);
    }

    /// Closing failed: the session stays open.
    pub fn cancel_close(&self, id: SessionId) {
        if let Some(open) = self.lock().get_mut(&id) {
            open.closing = false;
            open.active = Instant::now();
        }
    }

    /// Every chunk allocated in an open session (they may be on chunkds without `chunk_loc`).
    pub fn allocated_chunks(&self) -> HashSet<ChunkId> {
        self.lock()
            .values()
            .flat_map(|s| s.record.chunks.iter().map(|c| c.id))
            .collect()
    }

    /// Whether `chunk` was allocated in an open session.
    pub fn has_chunk(&self, chunk: ChunkId) -> bool {
        self.lock()
            .values()
            .any(|s| s.record.chunks.iter().any(|c| c.id == chunk))
    }

    /// Sessions idle for longer than `idle` that are not being closed.
    pub fn expired(&self, idle: Duration) -> Vec<SessionId> {
        self.lock()
            .iter()
            .filter(|(_, s)| !s.closing && s.active.elapsed() > idle)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Puts chunk rows (index, chunk) into the session's list: a row replaces the chunk at its
/// index (a replica added to a chunk a legacy session row holds), or extends the list.
fn merge_chunk_rows(record: &mut Session, mut rows: Vec<(u32, SessionChunk)>) {
    rows.sort_by_key(|(index, _)| *index);
    for (index, chunk) in rows {
        match record.chunks.get_mut(index as usize) {
            Some(slot) => *slot = chunk,
            None => record.chunks.push(chunk),
        }
    }
}

/// Stages the deletion of a session's mirror: its row and its `chunks` chunk rows (in the
/// batch that commits or drops the session, so both happen or neither).
pub(crate) fn delete_mirror(txn: &mut Txn<'_>, id: SessionId, chunks: usize) {
    txn.delete(Cf::Local, &keys::local::session(id));
    for index in 0..chunks {
        txn.delete(Cf::Local, &keys::local::session_chunk(id, index as u32));
    }
}

/// Deletes a session's mirror at once (unsynced, like every write of it).
fn delete_mirror_now(store: &Store, id: SessionId, chunks: usize) -> Result<(), StoreError> {
    store.delete_local(&keys::local::session(id))?;
    for index in 0..chunks {
        store.delete_local(&keys::local::session_chunk(id, index as u32))?;
    }
    Ok(())
}

fn no_session(id: SessionId) -> RpcError {
    RpcError::detailed(
        ErrorDetail::NoSuchSession,
        format!("no open write session {id} (it was committed, aborted or expired)"),
    )
}

/// Retryable: a commit repeated while the first is still being written then gets its outcome.
fn closing(id: SessionId) -> RpcError {
    RpcError::unavailable(format!(
        "write session {id} is being committed or aborted; try again"
    ))
}

fn foreign_chunk(id: SessionId, chunk: ChunkId) -> RpcError {
    RpcError::invalid(format!(
        "chunk {chunk} was not allocated in write session {id}"
    ))
}

//! Creating things: `mkdir`, the write session (`begin_write`, `alloc_chunk`, `replace_replica`,
//! `commit`, `abort`), and `copy`. A write session or a copy whose path ends in `/` stores the
//! payload of the directory object `x/` (see `target`).

use super::target::{payload_of, Target};
use super::{
    already_exists, bucket, check_object_path, collect_uncommitted, dir_object, file_chunks,
    find_entry, get_dentry, last_inode, map_share, no_such_entry, now_ms, root_entry, to_entry,
    unreachable_kind, walk_dirs, Namespace,
};
use crate::placement;
use crate::store::queue::{self, Queue};
use crate::store::values::{
    BucketRecord, ChunkLoc, Dentry, Dir, DirObject, FileChunk, Present, Session,
};
use crate::store::{keys, Cf, IdKind, Txn};
use dfs_common::path::DfsPath;
use dfs_common::wire::{
    AbortReq, AllocChunkReq, AllocChunkResp, BeginWriteReq, CommitReq, CopyReq, Entry, MkdirReq,
    ReplaceReplicaReq, Replica, WriteSession, WrittenChunk,
};
use dfs_common::{ChunkId, ErrorCode, ErrorDetail, NodeId, RpcError, SessionId};
use std::collections::{HashMap, HashSet};

/// The chunks of a commit, checked against their session: each with its distinct
/// acknowledged replicas.
pub(super) type Written<'r> = Vec<(&'r WrittenChunk, Vec<NodeId>)>;

impl Namespace {
    /// Creates a directory (a bucket at the top level), explicitly.
    pub fn mkdir(&self, req: &MkdirReq) -> Result<Entry, RpcError> {
        let path = req.path.clone();
        if path.is_root() {
            return if req.parents {
                Ok(root_entry())
            } else {
                Err(already_exists(&path))
            };
        }
        if let Some(object) = &req.object {
            return self.mkdir_object(&path, object);
        }
        let now = now_ms();
        let mut txn = self.store.begin();
        let mut parent = dfs_common::InodeId::ROOT;
        let last = path.components.len() - 1;
        for (i, name) in path.components.iter().enumerate() {
            let key_name = keys::entry_name(name, true);
            let key = keys::dentry(parent, &key_name);
            match get_dentry(&txn, parent, &key_name)? {
                Some(Dentry::Dir(mut dir)) if i == last => {
                    if dir.explicit {
                        return if req.parents {
                            Ok(to_entry(parent, &key_name, &Dentry::Dir(dir)))
                        } else {
                            Err(already_exists(&path))
                        };
                    }
                    // An implicit directory becomes explicit: it now outlives its children.
                    dir.explicit = true;
                    dir.mtime_ms = now;
                    let dentry = Dentry::Dir(dir);
                    txn.put(Cf::Dentry, &key, &dentry)?;
                    txn.commit(true)?;
                    return Ok(to_entry(parent, &key_name, &dentry));
                }
                Some(Dentry::Dir(dir)) => parent = dir.inode,
                Some(Dentry::File(_)) => return unreachable_kind(&key_name),
                None if i < last && !req.parents => {
                    let missing = DfsPath {
                        components: path.components[..=i].to_vec(),
                        trailing_slash: true,
                    };
                    return Err(RpcError::not_found(format!(
                        "cannot create {path}: {missing} does not exist"
                    )));
                }
                None => {
                    let dentry = Dentry::Dir(Dir {
                        inode: self.new_inode()?,
                        mtime_ms: now,
                        explicit: true,
                        object: None,
                        // A top-level directory is a bucket.
                        bucket: (i == 0).then_some(BucketRecord {
                            created_ms: now,
                            owner: None,
                        }),
                    });
                    txn.put(Cf::Dentry, &key, &dentry)?;
                    if i == last {
                        txn.commit(true)?;
                        return Ok(to_entry(parent, &key_name, &dentry));
                    }
                    if let Dentry::Dir(dir) = dentry {
                        parent = dir.inode;
                    }
                }
            }
        }
        Err(RpcError::internal(format!("mkdir {path}: empty walk")))
    }

    /// Starts writing a file, or for a path ending in `/` the payload of a directory object.
    pub fn begin_write(&self, req: &BeginWriteReq) -> Result<WriteSession, RpcError> {
        let path = req.path.clone();
        check_object_path(&path)?;
        bucket(&self.store.view(), &path)?;
        let session = self
            .sessions
            .open(&self.store, path.to_string(), None, now_ms())?;
        Ok(WriteSession {
            session,
            chunk_size: self.settings.chunk_size,
            replication: self.settings.replication,
        })
    }

    /// A new chunk id and the nodes to write it to.
    pub fn alloc_chunk(&self, req: &AllocChunkReq) -> Result<AllocChunkResp, RpcError> {
        let nodes = self.place(self.settings.replication as usize, &req.exclude)?;
        let chunk_id = ChunkId(self.store.next_id(IdKind::Chunk)?);
        let cap = self.settings.slice_caps.session;
        self.sessions
            .add_chunk(&self.store, req.session, chunk_id, nodes.clone(), cap)?;
        Ok(AllocChunkResp {
            chunk_id,
            replicas: nodes.into_iter().map(|n| self.nodes.replica(n)).collect(),
        })
    }

    /// One more node for a chunk whose replica write failed.
    pub fn replace_replica(&self, req: &ReplaceReplicaReq) -> Result<Replica, RpcError> {
        // Every node already chosen for the chunk holds it or failed it: never choose it again.
        let mut exclude = self.sessions.chunk_nodes(req.session, req.chunk_id)?;
        exclude.extend_from_slice(&req.exclude);
        let node = self
            .place(1, &exclude)?
            .first()
            .copied()
            .ok_or_else(|| RpcError::internal("placement returned no node"))?;
        self.sessions
            .add_replica(&self.store, req.session, req.chunk_id, node)?;
        Ok(self.nodes.replica(node))
    }

    fn place(&self, count: usize, exclude: &[NodeId]) -> Result<Vec<NodeId>, RpcError> {
        let candidates = self.nodes.candidates();
        placement::choose(
            &candidates,
            count,
            exclude,
            self.settings.chunk_size,
            &mut rand::thread_rng(),
        )
        .map_err(|e| match e.is_full() {
            true => RpcError::detailed(
                ErrorDetail::StorageFull,
                format!("the cluster is full: {e}"),
            ),
            false => RpcError::new(ErrorCode::NotEnoughNodes, e.to_string()),
        })
    }

    /// Makes a written file visible, replacing any file at its path, in one synced batch. For a
    /// path ending in `/` the data becomes the payload of the directory object `x/` (made
    /// explicit, created if missing), replacing its previous payload.
    /// A commit repeated after its answer was lost gets the first answer (see `closed`).
    pub fn commit(&self, req: &CommitReq) -> Result<Entry, RpcError> {
        let session = match self.sessions.begin_close(req.session) {
            Ok(session) => session,
            Err(e) if e.detail == ErrorDetail::NoSuchSession => {
                return self.repeated_commit(req)?.ok_or(e);
            }
            Err(e) => return Err(e),
        };
        match self.commit_session(&session, req) {
            Ok(entry) => {
                self.sessions.finish_close(req.session);
                Ok(entry)
            }
            Err(e) => {
                self.sessions.cancel_close(req.session);
                Err(e)
            }
        }
    }

    fn commit_session(&self, session: &Session, req: &CommitReq) -> Result<Entry, RpcError> {
        if let Some(part) = &session.part {
            return Err(RpcError::invalid(format!(
                "write session {} writes part {} of upload {}: end it with commit_part",
                req.session, part.part_number, part.upload_id
            )));
        }
        let path = DfsPath::parse(&session.path)?;
        let chunks = self.check_written(session, req.session, req.size, &req.chunks, &path)?;
        if path.trailing_slash {
            let step = self.settings.slice_caps.step;
            super::target::check_directory_object(&path, chunks.len() as u64, step)?;
        }
        let now = now_ms();
        let mut txn = self.store.begin();
        let target = Target::at_path(self, &mut txn, &path, now)?;
        target.check_preconditions(req.if_match.as_deref(), req.if_none_match, &path)?;
        let owner = path.to_string();
        let slices = self.record_written(&mut txn, &chunks, &owner, now)?;
        let payload = DirObject {
            etag: req.etag.clone(),
            content_type: req.content_type.clone(),
            meta: req.meta.clone(),
            checksum: req.checksum.clone().map(Into::into),
            size: req.size,
            chunk_count: slices.len() as u64,
            part_sizes: Vec::new(),
        };
        let entry = target.replace(&mut txn, payload, &slices, &path, now)?;
        self.close_written(&mut txn, req.session, session, &chunks, &owner)?;
        let closed = super::closed::closed_object(&entry, now);
        txn.put(Cf::Session, &keys::closed_session(req.session), &closed)?;
        txn.commit(true)?;
        Ok(entry)
    }

    /// Records the location of freshly written chunks (one reference each: the slice
    /// returned for it) and queues the repair of those already short of live replicas.
    pub(super) fn record_written(
        &self,
        txn: &mut Txn<'_>,
        chunks: &Written<'_>,
        owner: &str,
        now: u64,
    ) -> Result<Vec<FileChunk>, RpcError> {
        let factor = self.settings.replication as usize;
        let mut slices = Vec::with_capacity(chunks.len());
        for (chunk, replicas) in chunks {
            slices.push(FileChunk {
                chunk: chunk.id,
                chunk_offset: 0,
                len: chunk.len,
                crc32c: chunk.crc32c,
                chunk_len: chunk.len,
            });
            let loc = ChunkLoc {
                replicas: replicas.clone(),
                len: chunk.len,
                crc32c: chunk.crc32c,
                refcount: 1,
            };
            txn.put(Cf::ChunkLoc, &keys::chunk_loc(chunk.id), &loc)?;
            for node in replicas {
                txn.put(Cf::NodeChunk, &keys::node_chunk(*node, chunk.id), &Present)?;
            }
            // A replica's node may have died since it acknowledged: its death did not see
            // this chunk, so queue the repair here.
            if self.nodes.live_count(replicas) < factor {
                let reason = format!("committed under-replicated by {owner}");
                queue::push(txn, Queue::Repair, now, chunk.id, &[], &reason)?;
            }
        }
        Ok(slices)
    }

    /// Stages the end of a committed session: its row goes, and the chunks allocated but not
    /// committed, and nodes chosen but not acknowledged (failed writes may have left a copy
    /// there), are collected.
    pub(super) fn close_written(
        &self,
        txn: &mut Txn<'_>,
        id: SessionId,
        session: &Session,
        chunks: &Written<'_>,
        owner: &str,
    ) -> Result<(), RpcError> {
        super::session::delete_mirror(txn, id, session.chunks.len());
        let used: HashMap<ChunkId, &Vec<NodeId>> = chunks.iter().map(|(c, r)| (c.id, r)).collect();
        let leftovers: Vec<(ChunkId, Vec<NodeId>)> = session
            .chunks
            .iter()
            .filter_map(|c| {
                let nodes: Vec<NodeId> = match used.get(&c.id) {
                    None => c.nodes.clone(),
                    Some(acked) => c
                        .nodes
                        .iter()
                        .filter(|n| !acked.contains(n))
                        .copied()
                        .collect(),
                };
                (!nodes.is_empty()).then_some((c.id, nodes))
            })
            .collect();
        let reason = format!("not committed in {owner}");
        collect_uncommitted(self, txn, &leftovers, &reason)?;
        Ok(())
    }

    /// Checks a commit's chunk list against its session. Returns each chunk with its distinct
    /// acknowledged replicas.
    pub(super) fn check_written<'r>(
        &self,
        session: &Session,
        id: SessionId,
        size: u64,
        written: &'r [WrittenChunk],
        path: &DfsPath,
    ) -> Result<Written<'r>, RpcError> {
        let allocated: HashMap<ChunkId, &Vec<NodeId>> =
            session.chunks.iter().map(|c| (c.id, &c.nodes)).collect();
        let mut seen = HashSet::new();
        let mut total = 0u64;
        let mut out = Vec::with_capacity(written.len());
        for chunk in written {
            let nodes = allocated.get(&chunk.id).ok_or_else(|| {
                RpcError::invalid(format!(
                    "commit {path}: chunk {} was not allocated in session {id}",
                    chunk.id
                ))
            })?;
            if !seen.insert(chunk.id) {
                return Err(RpcError::invalid(format!(
                    "commit {path}: chunk {} is listed twice",
                    chunk.id
                )));
            }
            // A chunk no chunkd could hold was never written: refusing it keeps sizes near
            // u64::MAX (which later range arithmetic would have to survive) out of the namespace.
            if chunk.len > crate::MAX_CHUNK_SIZE {
                return Err(RpcError::invalid(format!(
                    "commit {path}: chunk {} claims {} bytes, more than the {} a chunk may hold",
                    chunk.id,
                    chunk.len,
                    crate::MAX_CHUNK_SIZE
                )));
            }
            total = total.checked_add(chunk.len).ok_or_else(|| {
                RpcError::invalid(format!("commit {path}: chunk lengths overflow"))
            })?;
            let mut replicas: Vec<NodeId> = Vec::new();
            for node in &chunk.replicas {
                if !nodes.contains(node) {
                    return Err(RpcError::invalid(format!(
                        "commit {path}: node {node} was never chosen for chunk {}",
                        chunk.id
                    )));
                }
                if !replicas.contains(node) {
                    replicas.push(*node);
                }
            }
            if replicas.len() < self.settings.replication as usize {
                return Err(RpcError::invalid(format!(
                    "commit {path}: chunk {} has {} distinct replicas, {} needed",
                    chunk.id,
                    replicas.len(),
                    self.settings.replication
                )));
            }
            out.push((chunk, replicas));
        }
        if total != size {
            return Err(RpcError::invalid(format!(
                "commit {path}: size {size} differs from the sum of chunk lengths {total}"
            )));
        }
        Ok(out)
    }

    /// Gives up a write session; its chunks are collected after the grace period.
    pub fn abort(&self, req: &AbortReq) -> Result<(), RpcError> {
        let session = self.sessions.begin_close(req.session)?;
        let result = self.drop_session(req.session, &session, "aborted");
        match &result {
            Ok(()) => self.sessions.finish_close(req.session),
            Err(_) => self.sessions.cancel_close(req.session),
        }
        result
    }

    /// Removes a session's row and queues its chunks for GC, in one batch.
    pub(crate) fn drop_session(
        &self,
        id: dfs_common::SessionId,
        session: &Session,
        why: &str,
    ) -> Result<(), RpcError> {
        let mut txn = self.store.begin();
        super::session::delete_mirror(&mut txn, id, session.chunks.len());
        let chunks: Vec<(ChunkId, Vec<NodeId>)> = session
            .chunks
            .iter()
            .map(|c| (c.id, c.nodes.clone()))
            .collect();
        let reason = format!("write of {} {why}", session.path);
        collect_uncommitted(self, &mut txn, &chunks, &reason)?;
        txn.commit(true)?;
        Ok(())
    }

    /// Copies an object by sharing its chunks, optionally with new metadata and under S3
    /// preconditions, in one synced batch. Either path may end in `/`: the object is then the
    /// payload of a directory object `x/`. A copy onto itself keeps the object's chunks and
    /// only refreshes its metadata and mtime.
    pub fn copy(&self, req: &CopyReq) -> Result<Entry, RpcError> {
        let src = req.src.clone();
        let dst = req.dst.clone();
        check_object_path(&dst)?;
        let now = now_ms();
        let mut txn = self.store.begin();
        let src_name = src.name().ok_or_else(|| is_a_directory(&src))?;
        let steps = walk_dirs(&txn, src.parent_components(), &src)?;
        let src_parent = last_inode(&steps);
        let (src_key, src_inode, source, src_is_file) =
            match find_entry(&txn, src_parent, src_name, src.trailing_slash)? {
                Some((key, Dentry::File(file))) => (key, file.inode, payload_of(&file), true),
                // Only a path ending in `/` names the object `x/`; and only an explicit
                // directory is one.
                Some((key, Dentry::Dir(dir))) if src.trailing_slash => {
                    match dir_object(src_parent, &dir) {
                        Some(object) => (key, dir.inode, object.into_owned(), false),
                        None => return Err(is_a_directory(&src)),
                    }
                }
                Some((_, Dentry::Dir(_))) => return Err(is_a_directory(&src)),
                None => return Err(no_such_entry(&src)),
            };
        if let Some(want) = &req.src_if_match {
            if !super::etag_matches(&source.etag, want) {
                return Err(RpcError::new(
                    ErrorCode::PreconditionFailed,
                    format!(
                        "{src} has ETag {} (copy source If-Match {want})",
                        source.etag
                    ),
                ));
            }
        }
        let target = Target::at_path(self, &mut txn, &dst, now)?;
        target.check_preconditions(req.if_match.as_deref(), req.if_none_match, &dst)?;
        let payload = match &req.replace_meta {
            Some(new) => DirObject {
                content_type: new.content_type.clone(),
                meta: new.meta.clone(),
                checksum: new.checksum.clone().map(Into::into),
                ..source
            },
            None => source,
        };
        if target.is(src_parent, &src_key) {
            let entry = target.refresh(&mut txn, payload, now)?;
            txn.commit(true)?;
            return Ok(entry);
        }
        // A file of many slices: the copy holds the source's chunk map itself (a few rows,
        // whatever the size; see `map_share`). The holder is added before the destination's
        // old data is released, which may be the same map.
        let step = self.settings.slice_caps.step;
        if src_is_file && !dst.trailing_slash && payload.chunk_count > step as u64 {
            map_share::add_holder(&mut txn, src_inode)?;
            let entry = target.link(&mut txn, payload, src_inode, &dst, now)?;
            txn.commit(true)?;
            return Ok(entry);
        }
        // A directory object (source or copy) is rewritten in one transaction: bounded.
        let bounded = if dst.trailing_slash { &dst } else { &src };
        super::target::check_directory_object(bounded, payload.chunk_count, step)?;
        let rows = file_chunks(&txn, src_inode)?;
        // Shared before the destination's old data is released: a chunk both use never
        // drops to zero references on the way.
        super::share_slices(&mut txn, &rows, &src.to_string())?;
        let entry = target.replace(&mut txn, payload, &rows, &dst, now)?;
        txn.commit(true)?;
        Ok(entry)
    }
}

fn is_a_directory(path: &DfsPath) -> RpcError {
    RpcError::new(ErrorCode::IsADirectory, format!("{path} is a directory"))
}

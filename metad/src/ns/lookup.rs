//! Read-only operations: `stat` and `list`, from a consistent snapshot and without the write
//! lock, so readers never wait for a commit's fsync.

use super::{
    dir_object, file_chunks, find_entry, get_dentry, last_inode, no_such_entry, root_entry,
    to_entry, walk_dirs, Namespace,
};
use crate::store::values::{ChunkLoc, Dentry};
use crate::store::{keys, Cf, Reader, View};
use dfs_common::wire::{ChunkInfo, ListReq, ListResp, StatReq, StatResp};
use dfs_common::{ErrorCode, InodeId, RpcError};

/// Most entries one `list` call returns.
pub const MAX_LIST: u32 = 1000;

impl Namespace {
    /// The entry at a path; with `with_chunks`, the chunks and their replicas of a file or of a
    /// directory object's payload.
    pub fn stat(&self, req: &StatReq) -> Result<StatResp, RpcError> {
        let path = req.path.clone();
        let Some(name) = path.name() else {
            return Ok(StatResp {
                entry: root_entry(),
                chunks: Vec::new(),
            });
        };
        let view = self.store.view();
        let steps = walk_dirs(&view, path.parent_components(), &path)?;
        let parent = last_inode(&steps);
        let (key_name, dentry) = find_entry(&view, parent, name, path.trailing_slash)?
            .ok_or_else(|| no_such_entry(&path))?;
        let chunks = match &dentry {
            _ if !req.with_chunks => Vec::new(),
            Dentry::File(file) => self.chunk_infos(&view, file.inode)?,
            Dentry::Dir(dir) if dir_object(parent, dir).is_some() => {
                self.chunk_infos(&view, dir.inode)?
            }
            Dentry::Dir(_) => Vec::new(),
        };
        Ok(StatResp {
            entry: to_entry(parent, &key_name, &dentry),
            chunks,
        })
    }

    /// The chunk slices of a file (or directory payload) in order, with offsets and replicas
    /// (live ones first).
    fn chunk_infos(&self, view: &View<'_>, inode: InodeId) -> Result<Vec<ChunkInfo>, RpcError> {
        let mut offset = 0u64;
        let mut out = Vec::new();
        for row in file_chunks(view, inode)? {
            let loc = view.get::<ChunkLoc>(Cf::ChunkLoc, &keys::chunk_loc(row.chunk))?;
            let mut replicas: Vec<_> = loc
                .map(|l| l.replicas)
                .unwrap_or_default()
                .into_iter()
                .map(|node| self.nodes.replica(node))
                .collect();
            replicas.sort_by_key(|r| !r.live);
            out.push(ChunkInfo {
                id: row.chunk,
                offset,
                len: row.len,
                crc32c: row.crc32c,
                replicas,
                chunk_offset: row.chunk_offset,
                chunk_len: row.chunk_len,
            });
            offset = offset.saturating_add(row.len);
        }
        Ok(out)
    }

    /// One page of a directory's entries in key order.
    pub fn list(&self, req: &ListReq) -> Result<ListResp, RpcError> {
        let path = req.path.clone();
        let view = self.store.view();
        let dir = match path.name() {
            None => InodeId::ROOT,
            Some(name) => {
                let steps = walk_dirs(&view, path.parent_components(), &path)?;
                let parent = last_inode(&steps);
                match get_dentry(&view, parent, &keys::entry_name(name, true))? {
                    Some(Dentry::Dir(dir)) => dir.inode,
                    _ if !path.trailing_slash && get_dentry(&view, parent, name)?.is_some() => {
                        return Err(RpcError::new(
                            ErrorCode::NotADirectory,
                            format!("{path} is a file, not a directory"),
                        ))
                    }
                    _ => return Err(no_such_entry(&path)),
                }
            }
        };
        let limit = match req.limit {
            0 => MAX_LIST,
            n => n.min(MAX_LIST),
        } as usize;
        let prefix = keys::dentry_prefix(dir);
        let after = req.start_after.as_deref().map(|s| keys::dentry(dir, s));
        let mut entries = Vec::new();
        let mut truncated = false;
        view.scan_raw(Cf::Dentry, &prefix, after.as_deref(), &mut |key, value| {
            if entries.len() == limit {
                truncated = true;
                return Ok(false);
            }
            use crate::store::values::Value;
            match (keys::parse_dentry(key), Dentry::decode(value)) {
                (Some((_, name)), Ok(dentry)) => entries.push(to_entry(dir, &name, &dentry)),
                (_, Err(e)) => tracing::error!("list {path}: skipping entry {key:02x?}: {e}"),
                (None, _) => tracing::error!("list {path}: skipping malformed key {key:02x?}"),
            }
            Ok(true)
        })?;
        Ok(ListResp { entries, truncated })
    }
}

//! Read-only operations: `stat` and `list`, from a consistent snapshot and without the write
//! lock, so readers never wait for a commit's fsync.

use super::{
    chunk_map, dir_object, find_entry, get_dentry, last_inode, no_such_entry, root_entry, to_entry,
    walk_dirs, Namespace,
};
use crate::store::values::{ChunkLoc, Dentry};
use crate::store::{keys, Cf, Reader, View};
use dfs_common::path::DfsPath;
use dfs_common::wire::{
    ChunkInfo, ListReq, ListResp, StatReq, StatResp, MAX_CHUNK_PAGE, MAX_WHOLE_CHUNK_MAP,
};
use dfs_common::{ErrorCode, InodeId, RpcError};

/// Most entries one `list` call returns.
pub const MAX_LIST: u32 = 1000;

impl Namespace {
    /// The entry at a path; with `with_chunks`, the chunks and their replicas of a file or of a
    /// directory object's payload: one page of them with `chunks_from`, else all of them (up to
    /// [`MAX_WHOLE_CHUNK_MAP`]).
    pub fn stat(&self, req: &StatReq) -> Result<StatResp, RpcError> {
        let path = req.path.clone();
        let Some(name) = path.name() else {
            return Ok(StatResp {
                entry: root_entry(),
                chunks: Vec::new(),
                chunks_next: None,
            });
        };
        let view = self.store.view();
        let steps = walk_dirs(&view, path.parent_components(), &path)?;
        let parent = last_inode(&steps);
        let (key_name, dentry) = find_entry(&view, parent, name, path.trailing_slash)?
            .ok_or_else(|| no_such_entry(&path))?;
        let data = match &dentry {
            _ if !req.with_chunks => None,
            Dentry::File(file) => Some((file.inode, file.chunk_count)),
            Dentry::Dir(dir) => dir_object(parent, dir).map(|o| (dir.inode, o.chunk_count)),
        };
        let (chunks, chunks_next) = match data {
            Some((inode, count)) => self.chunk_infos(&view, inode, count, req, &path)?,
            None => (Vec::new(), None),
        };
        Ok(StatResp {
            entry: to_entry(parent, &key_name, &dentry),
            chunks,
            chunks_next,
        })
    }

    /// The chunk slices (of `count`) of a file or directory payload that `req` asks for, in
    /// order, with offsets and replicas (live ones first), and where the next page starts.
    fn chunk_infos(
        &self,
        view: &View<'_>,
        inode: InodeId,
        count: u64,
        req: &StatReq,
        path: &DfsPath,
    ) -> Result<(Vec<ChunkInfo>, Option<u64>), RpcError> {
        let page = match req.chunks_from {
            Some(from) => {
                let until = req.chunks_until.unwrap_or(u64::MAX);
                chunk_map::page(view, inode, count, from, until, MAX_CHUNK_PAGE)?
            }
            None if count > MAX_WHOLE_CHUNK_MAP => {
                return Err(RpcError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "{path} has {count} chunk slices, more than the {MAX_WHOLE_CHUNK_MAP} \
                         sent in one answer: this client is too old to read it (it must ask \
                         for the chunk list in pages)"
                    ),
                ))
            }
            None => chunk_map::page(view, inode, count, 0, u64::MAX, usize::MAX)?,
        };
        let mut out = Vec::with_capacity(page.rows.len());
        for (offset, row) in page.rows {
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
        }
        Ok((out, page.next))
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

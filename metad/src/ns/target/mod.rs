//! Where a write stores an object: the file `x`, or the payload of the explicit directory `x/`
//! (an S3 key ending in `/`). Commits, multipart completions, copies and `mkdir` of a
//! directory object all go through [`Target`], so both kinds of object follow one set of
//! rules: the preconditions look at the object there now, its data is released (to GC unless
//! shared), the new chunk rows go under the target's inode and one entry is written.
//!
//! A file gets a fresh inode at every write; a directory object keeps the directory's inode
//! (its children are keyed by it), so a new payload's chunk rows replace the old ones under
//! the same keys: the old ones are released first, then the new ones staged over them.

use super::chunk_map::put_rows;
use super::{
    bucket, check_object_path, check_preconditions, dir_object, ensure_dirs, get_dentry,
    release_file, release_rows, to_entry, Namespace,
};
use crate::store::values::{Dentry, Dir, DirObject, File, FileChunk};
use crate::store::{keys, Cf, Txn};
use dfs_common::path::DfsPath;
use dfs_common::wire::Entry;
use dfs_common::{InodeId, RpcError};

/// The place of an object about to be written, with what is there now.
#[derive(Debug)]
pub(super) struct Target {
    /// The directory holding the entry.
    pub(super) parent: InodeId,
    /// The entry's key-form name (ends in `/` for a directory object).
    pub(super) key_name: String,
    /// The entry there now.
    existing: Option<Dentry>,
    /// The inode the new object's chunk rows go under: a fresh one for a file, the
    /// directory's own for a directory object.
    pub(super) inode: InodeId,
}

impl Target {
    /// The target of `path` (`/bucket/key`, the key possibly ending in `/`), creating its
    /// missing parents as implicit directories.
    pub(super) fn at_path(
        ns: &Namespace,
        txn: &mut Txn<'_>,
        path: &DfsPath,
        now: u64,
    ) -> Result<Target, RpcError> {
        check_object_path(path)?;
        let bucket = bucket(txn, path)?;
        let names = path.components.get(1..).unwrap_or(&[]);
        Target::locate(ns, txn, bucket.inode, names, path.trailing_slash, now)
    }

    /// The target of the key whose components are `names` in bucket `bucket` (`dir`: the key
    /// ends in `/`), creating its missing parents as implicit directories.
    pub(super) fn locate(
        ns: &Namespace,
        txn: &mut Txn<'_>,
        bucket: InodeId,
        names: &[String],
        dir: bool,
        now: u64,
    ) -> Result<Target, RpcError> {
        let Some((name, parents)) = names.split_last() else {
            return Err(RpcError::invalid("an object needs a key inside its bucket"));
        };
        let parent = ensure_dirs(ns, txn, bucket, parents, now)?;
        let key_name = keys::entry_name(name, dir);
        let existing = get_dentry(txn, parent, &key_name)?;
        let inode = match &existing {
            Some(Dentry::Dir(dir)) => dir.inode,
            _ => ns.new_inode()?,
        };
        Ok(Target {
            parent,
            key_name,
            existing,
            inode,
        })
    }

    /// The ETag of the object there now; `None` when there is none (an implicit directory is
    /// no object).
    pub(super) fn current_etag(&self) -> Option<String> {
        match &self.existing {
            Some(Dentry::File(file)) => Some(file.etag.clone()),
            Some(Dentry::Dir(dir)) => dir_object(self.parent, dir).map(|o| o.etag.clone()),
            None => None,
        }
    }

    /// Checks the S3 write preconditions against the object there now.
    pub(super) fn check_preconditions(
        &self,
        if_match: Option<&str>,
        if_none_match: bool,
        path: &DfsPath,
    ) -> Result<(), RpcError> {
        check_preconditions(
            self.current_etag().as_deref(),
            if_match,
            if_none_match,
            path,
        )
    }

    /// Whether the object is the one at `parent` ‖ `key_name`.
    pub(super) fn is(&self, parent: InodeId, key_name: &str) -> bool {
        (self.parent, self.key_name.as_str()) == (parent, key_name)
    }

    /// Stages the new object in place of the current one: releases the current object's
    /// chunk rows (their chunks go to GC unless something else uses them), writes `rows` under
    /// [`Target::inode`] and the entry. Each row must already hold its reference on its chunk.
    /// Returns the entry as clients see it.
    pub(super) fn replace(
        self,
        txn: &mut Txn<'_>,
        payload: DirObject,
        rows: &[FileChunk],
        path: &DfsPath,
        now: u64,
    ) -> Result<Entry, RpcError> {
        self.release_existing(txn, path)?;
        put_rows(txn, self.inode, 0, 0, rows)?;
        let payload = DirObject {
            chunk_count: rows.len() as u64,
            ..payload
        };
        self.put_entry(txn, payload, now)
    }

    /// Stages, in place of the current object, the file whose chunk rows (`payload.chunk_count`
    /// of them) are already written under `inode`: a completion made in steps. Only for a
    /// file target (a directory object's rows live under the directory's own inode).
    pub(super) fn link(
        mut self,
        txn: &mut Txn<'_>,
        payload: DirObject,
        inode: InodeId,
        path: &DfsPath,
        now: u64,
    ) -> Result<Entry, RpcError> {
        if self.key_name.ends_with('/') || matches!(self.existing, Some(Dentry::Dir(_))) {
            return Err(RpcError::internal(format!(
                "{path}: only a file can be linked to rows written beforehand"
            )));
        }
        self.release_existing(txn, path)?;
        self.inode = inode;
        self.put_entry(txn, payload, now)
    }

    /// Stages the release of the current object's chunk rows.
    fn release_existing(&self, txn: &mut Txn<'_>, path: &DfsPath) -> Result<(), RpcError> {
        match &self.existing {
            Some(Dentry::File(old)) => release_file(txn, old, path)?,
            Some(Dentry::Dir(old)) => release_rows(txn, old.inode, &path.to_string())?,
            None => {}
        }
        Ok(())
    }

    /// Stages the entry of the new object, whose rows are under [`Target::inode`].
    fn put_entry(self, txn: &mut Txn<'_>, payload: DirObject, now: u64) -> Result<Entry, RpcError> {
        let dentry = match self.existing {
            Some(Dentry::Dir(dir)) => Dentry::Dir(Dir {
                mtime_ms: now,
                explicit: true,
                object: Some(payload),
                ..dir
            }),
            None if self.key_name.ends_with('/') => Dentry::Dir(Dir {
                inode: self.inode,
                mtime_ms: now,
                explicit: true,
                object: Some(payload),
                bucket: None,
            }),
            Some(Dentry::File(_)) | None => Dentry::File(file_of(self.inode, now, payload)),
        };
        txn.put(
            Cf::Dentry,
            &keys::dentry(self.parent, &self.key_name),
            &dentry,
        )?;
        Ok(to_entry(self.parent, &self.key_name, &dentry))
    }

    /// Stages a new entry for the object there now that keeps its inode and chunk rows (a
    /// copy onto itself: new metadata and mtime). `payload` must describe the same data.
    pub(super) fn refresh(
        self,
        txn: &mut Txn<'_>,
        payload: DirObject,
        now: u64,
    ) -> Result<Entry, RpcError> {
        let dentry = match self.existing {
            Some(Dentry::File(file)) => Dentry::File(file_of(file.inode, now, payload)),
            Some(Dentry::Dir(dir)) => Dentry::Dir(Dir {
                mtime_ms: now,
                explicit: true,
                object: Some(payload),
                ..dir
            }),
            None => {
                return Err(RpcError::internal(format!(
                    "no object {:?} in directory {} to refresh",
                    self.key_name, self.parent
                )))
            }
        };
        txn.put(
            Cf::Dentry,
            &keys::dentry(self.parent, &self.key_name),
            &dentry,
        )?;
        Ok(to_entry(self.parent, &self.key_name, &dentry))
    }
}

/// What a file holds besides its inode and mtime, in the shape of a directory's payload.
pub(super) fn payload_of(file: &File) -> DirObject {
    DirObject {
        etag: file.etag.clone(),
        content_type: file.content_type.clone(),
        meta: file.meta.clone(),
        checksum: file.checksum.clone(),
        size: file.size,
        chunk_count: file.chunk_count,
        part_sizes: file.part_sizes.clone(),
    }
}

/// The file holding `payload`.
pub(super) fn file_of(inode: InodeId, mtime_ms: u64, payload: DirObject) -> File {
    File {
        inode,
        size: payload.size,
        etag: payload.etag,
        mtime_ms,
        content_type: payload.content_type,
        meta: payload.meta,
        checksum: payload.checksum,
        chunk_count: payload.chunk_count,
        part_sizes: payload.part_sizes,
    }
}

/// Refuses a payload of more than `cap` (`SliceCaps::step`) slices for the directory object
/// `path`: its rows are rewritten under the directory's own inode in one transaction, so they
/// cannot be written in steps or shared like a file's.
pub(crate) fn check_directory_object(
    path: &DfsPath,
    slices: u64,
    cap: usize,
) -> Result<(), RpcError> {
    if slices <= cap as u64 {
        return Ok(());
    }
    Err(RpcError::detailed(
        dfs_common::ErrorDetail::InvalidRequest,
        format!(
            "a directory object (a key ending in /, here {path}) holds at most {cap} slices of chunks, and this one would take {slices} (a key without the trailing / has no such limit)"
        ),
    ))
}

#[cfg(test)]
mod tests;

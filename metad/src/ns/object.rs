//! S3 objects that are directories: `PUT x/` with an empty body makes `x/` an explicit
//! directory carrying the object's payload (ETag, content type, metadata); deleting the object
//! `x/` clears it again.

use super::{
    bucket, ensure_dirs, get_dentry, last_inode, now_ms, release_file, remove_empty_implicit,
    to_entry, unreachable_kind, walk_dirs, Namespace,
};
use crate::store::values::{Dentry, Dir, DirObject};
use crate::store::{keys, Cf, Reader};
use dfs_common::path::DfsPath;
use dfs_common::wire::{self, Entry};
use dfs_common::RpcError;

impl Namespace {
    /// Makes `path` an explicit directory with the object payload `object`, creating missing
    /// parents implicitly (as a commit does) and replacing the payload of an existing one.
    pub(super) fn mkdir_object(
        &self,
        path: &DfsPath,
        object: &wire::DirObject,
    ) -> Result<Entry, RpcError> {
        let Some((name, parents)) = path.components.split_last() else {
            return Err(not_below_bucket(path));
        };
        if parents.is_empty() {
            return Err(not_below_bucket(path));
        }
        let now = now_ms();
        let mut txn = self.store.begin();
        let bucket = bucket(&txn, path)?;
        let parent = ensure_dirs(self, &mut txn, bucket.inode, &parents[1..], now)?;
        let key_name = keys::entry_name(name, true);
        let payload = DirObject {
            etag: object.etag.clone(),
            content_type: object.content_type.clone(),
            meta: object.meta.clone(),
        };
        let dir = match get_dentry(&txn, parent, &key_name)? {
            Some(Dentry::Dir(dir)) => Dir {
                mtime_ms: now,
                explicit: true,
                object: Some(payload),
                ..dir
            },
            Some(Dentry::File(_)) => return unreachable_kind(&key_name),
            None => Dir {
                inode: self.new_inode()?,
                mtime_ms: now,
                explicit: true,
                object: Some(payload),
                bucket: None,
            },
        };
        let dentry = Dentry::Dir(dir);
        txn.put(Cf::Dentry, &keys::dentry(parent, &key_name), &dentry)?;
        txn.commit(true)?;
        Ok(to_entry(parent, &key_name, &dentry))
    }

    /// S3 DeleteObject (see `DeleteReq::object`): `x` is only the file, `x/` only the object of
    /// an explicit directory. A missing object is `NotFound`.
    pub(super) fn delete_object(&self, path: &DfsPath) -> Result<(), RpcError> {
        let Some(name) = path.name() else {
            return Err(not_below_bucket(path));
        };
        if path.components.len() < 2 {
            return Err(RpcError::invalid(format!(
                "{path} is a bucket: delete it with DeleteBucket"
            )));
        }
        let mut txn = self.store.begin();
        let steps = walk_dirs(&txn, path.parent_components(), path)?;
        let parent = last_inode(&steps);
        if path.trailing_slash {
            let key_name = keys::entry_name(name, true);
            let key = keys::dentry(parent, &key_name);
            match get_dentry(&txn, parent, &key_name)? {
                Some(Dentry::Dir(dir)) if dir.explicit => {
                    if txn.any_with_prefix(Cf::Dentry, &keys::dentry_prefix(dir.inode))? {
                        // The prefix lives on through its children: only the object goes.
                        let implicit = Dir {
                            explicit: false,
                            object: None,
                            ..dir
                        };
                        txn.put(Cf::Dentry, &key, &Dentry::Dir(implicit))?;
                    } else {
                        txn.delete(Cf::Dentry, &key);
                        remove_empty_implicit(&mut txn, &steps)?;
                    }
                }
                _ => return Err(no_such_object(path)),
            }
        } else {
            match get_dentry(&txn, parent, name)? {
                Some(Dentry::File(file)) => {
                    txn.delete(Cf::Dentry, &keys::dentry(parent, name));
                    release_file(&mut txn, &file, path)?;
                    remove_empty_implicit(&mut txn, &steps)?;
                }
                _ => return Err(no_such_object(path)),
            }
        }
        txn.commit(true)?;
        Ok(())
    }
}

fn not_below_bucket(path: &DfsPath) -> RpcError {
    RpcError::invalid(format!(
        "{path} is not below a bucket: only keys inside a bucket are objects"
    ))
}

fn no_such_object(path: &DfsPath) -> RpcError {
    RpcError::not_found(format!("no such object {path}"))
}

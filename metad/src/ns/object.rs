//! S3 objects that are directories: a write of the key `x/` makes `x/` an explicit directory
//! carrying the object's payload (data, ETag, content type, metadata; see `target`); deleting
//! the object `x/` clears it again.

use super::target::Target;
use super::{
    get_dentry, last_inode, now_ms, release_file, release_rows, remove_empty_implicit, walk_dirs,
    Namespace,
};
use crate::store::values::{Dentry, Dir, DirObject};
use crate::store::{keys, Cf, Reader};
use dfs_common::path::DfsPath;
use dfs_common::wire::{self, Entry};
use dfs_common::RpcError;

impl Namespace {
    /// Makes `path` an explicit directory with the empty object payload `object`, creating
    /// missing parents implicitly (as a commit does) and replacing the payload of an existing
    /// one (its data released).
    pub(super) fn mkdir_object(
        &self,
        path: &DfsPath,
        object: &wire::DirObject,
    ) -> Result<Entry, RpcError> {
        if path.components.len() < 2 {
            return Err(not_below_bucket(path));
        }
        let dir_path = DfsPath {
            components: path.components.clone(),
            trailing_slash: true,
        };
        let now = now_ms();
        let mut txn = self.store.begin();
        let target = Target::at_path(self, &mut txn, &dir_path, now)?;
        let payload = DirObject {
            etag: object.etag.clone(),
            content_type: object.content_type.clone(),
            meta: object.meta.clone(),
            checksum: object.checksum.clone().map(Into::into),
            ..DirObject::default()
        };
        let entry = target.replace(&mut txn, payload, &[], &dir_path, now)?;
        txn.commit(true)?;
        Ok(entry)
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
                    release_rows(&mut txn, dir.inode, &path.to_string())?;
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

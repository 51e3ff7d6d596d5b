//! `delete`: files, empty directories, or whole subtrees, in one batch. The data of every
//! file and directory object that goes is released (to GC unless shared).

use super::{
    find_entry, last_inode, no_such_entry, release_file, release_rows, remove_empty_implicit,
    walk_dirs, Namespace,
};
use crate::store::values::{Dentry, Value};
use crate::store::{keys, Cf, Reader, StoreError, Txn};
use dfs_common::path::DfsPath;
use dfs_common::wire::DeleteReq;
use dfs_common::{ErrorCode, InodeId, RpcError};

impl Namespace {
    /// Deletes a file, or a directory (with everything below it when `recursive`). Implicit
    /// parents left empty go in the same batch; explicit ones and the bucket stay.
    pub fn delete(&self, req: &DeleteReq) -> Result<(), RpcError> {
        let path = req.path.clone();
        let Some(name) = path.name() else {
            return Err(RpcError::invalid("the root directory cannot be deleted"));
        };
        if req.object {
            return self.delete_object(&path);
        }
        let mut txn = self.store.begin();
        let steps = walk_dirs(&txn, path.parent_components(), &path)?;
        let parent = last_inode(&steps);
        let (key_name, dentry) = find_entry(&txn, parent, name, path.trailing_slash)?
            .ok_or_else(|| no_such_entry(&path))?;
        txn.delete(Cf::Dentry, &keys::dentry(parent, &key_name));
        match dentry {
            Dentry::File(file) => release_file(&mut txn, &file, &path)?,
            Dentry::Dir(dir) => {
                if parent == InodeId::ROOT {
                    // A bucket: its uploads in progress keep it (even from a recursive delete,
                    // which would otherwise leave them without a bucket).
                    super::multipart::clear_bucket_uploads(&mut txn, dir.inode, name)?;
                }
                if txn.any_with_prefix(Cf::Dentry, &keys::dentry_prefix(dir.inode))? {
                    if !req.recursive {
                        return Err(RpcError::new(
                            ErrorCode::NotEmpty,
                            format!("directory {path} is not empty"),
                        ));
                    }
                    delete_tree(&mut txn, dir.inode, &path)?;
                }
                release_rows(&mut txn, dir.inode, &path.to_string())?;
                if parent == InodeId::ROOT {
                    // A bucket goes: so do the grants on its name.
                    crate::access::drop_bucket_grants(&mut txn, name)?;
                }
            }
        }
        remove_empty_implicit(&mut txn, &steps)?;
        txn.commit(true)?;
        Ok(())
    }
}

/// Stages the deletion of everything below directory `top`.
fn delete_tree(txn: &mut Txn<'_>, top: InodeId, path: &DfsPath) -> Result<(), StoreError> {
    let mut pending = vec![top];
    while let Some(dir) = pending.pop() {
        let mut children = Vec::new();
        txn.scan_raw(
            Cf::Dentry,
            &keys::dentry_prefix(dir),
            None,
            &mut |key, value| {
                children.push((key.to_vec(), Dentry::decode(value)?));
                Ok(true)
            },
        )?;
        for (key, child) in children {
            txn.delete(Cf::Dentry, &key);
            match child {
                Dentry::File(file) => release_file(txn, &file, path)?,
                Dentry::Dir(sub) => {
                    // Its payload, if it is a directory object.
                    release_rows(txn, sub.inode, &path.to_string())?;
                    pending.push(sub.inode);
                }
            }
        }
    }
    Ok(())
}

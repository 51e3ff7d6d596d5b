//! `delete`: files and empty directories in one batch; a whole subtree is detached in one
//! batch and its rows deleted in the background (see `detached`). The data of every file and
//! directory object that goes is released (to GC unless shared).

use super::{
    detached, find_entry, last_inode, no_such_entry, release_file, release_rows,
    remove_empty_implicit, walk_dirs, Namespace,
};
use crate::store::values::Dentry;
use crate::store::{keys, Cf, Reader};
use dfs_common::wire::DeleteReq;
use dfs_common::{ErrorCode, InodeId, RpcError};

impl Namespace {
    /// Deletes a file, or a directory (with everything below it when `recursive`). Implicit
    /// parents left empty go in the same batch; explicit ones and the bucket stay.
    ///
    /// A directory with children leaves the namespace at once (its entry goes, so every path
    /// into it fails from this commit on) and is recorded as a detached tree, whose rows the
    /// background deleter removes in bounded batches: the batch stays small whatever the size
    /// of the subtree.
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
        let mut detached_tree = None;
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
                    // Its payload goes with the tree, after its children.
                    detached::detach(&mut txn, dir.inode, &path)?;
                    detached_tree = Some(dir.inode);
                } else {
                    release_rows(&mut txn, dir.inode, &path.to_string())?;
                }
                if parent == InodeId::ROOT {
                    // A bucket goes: so do the grants on its name.
                    crate::access::drop_bucket_grants(&mut txn, name)?;
                }
            }
        }
        remove_empty_implicit(&mut txn, &steps)?;
        txn.commit(true)?;
        if let Some(tree) = detached_tree {
            tracing::info!(tree = %tree, %path, "directory detached; its rows are deleted in the background");
        }
        Ok(())
    }
}

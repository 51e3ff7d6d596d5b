//! `rename`: a file, or a whole directory, moved atomically.
//!
//! A directory's children are keyed by its inode, so moving the directory's own entry moves
//! the whole subtree at once: S3 sees every key below it change in one step. The payload of a
//! directory object (its chunk rows are keyed by the same inode) moves with it.

use super::{
    already_exists, find_entry, get_dentry, last_inode, no_such_entry, release_file, release_rows,
    remove_empty_implicit, unreachable_kind, walk_dirs, Namespace,
};
use crate::store::keys;
use crate::store::values::{BucketRecord, Dentry};
use crate::store::Cf;
use dfs_common::wire::RenameReq;
use dfs_common::{InodeId, RpcError};

impl Namespace {
    /// Renames `src` to `dst` in one batch.
    pub fn rename(&self, req: &RenameReq) -> Result<(), RpcError> {
        let src = req.src.clone();
        let dst = req.dst.clone();
        let (Some(src_name), Some(dst_name)) = (src.name(), dst.name()) else {
            return Err(RpcError::invalid(format!(
                "cannot rename {src} to {dst}: the root cannot be renamed or replaced"
            )));
        };
        let mut txn = self.store.begin();
        let src_steps = walk_dirs(&txn, src.parent_components(), &src)?;
        let src_parent = last_inode(&src_steps);
        let (src_key, dentry) = find_entry(&txn, src_parent, src_name, src.trailing_slash)?
            .ok_or_else(|| no_such_entry(&src))?;
        let dst_steps = walk_dirs(&txn, dst.parent_components(), &dst)?;
        let dst_parent = last_inode(&dst_steps);
        let dst_key = match &dentry {
            Dentry::File(_) => {
                super::check_file_path(&dst)?;
                dst_name.to_owned()
            }
            Dentry::Dir(_) => keys::entry_name(dst_name, true),
        };
        if (src_parent, src_key.as_str()) == (dst_parent, dst_key.as_str()) {
            return Ok(());
        }
        let dentry = match dentry {
            Dentry::File(file) => {
                match get_dentry(&txn, dst_parent, &dst_key)? {
                    Some(Dentry::File(old)) => release_file(&mut txn, &old, &dst)?,
                    Some(Dentry::Dir(_)) => return unreachable_kind(&dst_key),
                    None => {}
                }
                Dentry::File(file)
            }
            Dentry::Dir(mut dir) => {
                if get_dentry(&txn, dst_parent, &dst_key)?.is_some() {
                    return Err(already_exists(&dst));
                }
                if dst_steps.iter().any(|s| s.dir.inode == dir.inode) {
                    return Err(RpcError::invalid(format!(
                        "cannot move directory {src} into itself ({dst})"
                    )));
                }
                match (src_parent == InodeId::ROOT, dst_parent == InodeId::ROOT) {
                    // A bucket renamed: its record and its grants follow it.
                    (true, true) => {
                        crate::access::rename_bucket_grants(&mut txn, src_name, Some(dst_name))?
                    }
                    // A directory becomes a bucket: buckets are explicit, have a record and are
                    // not objects (its payload's data is released); grants left on the name by
                    // an older bucket do not apply.
                    (false, true) => {
                        release_rows(&mut txn, dir.inode, &src.to_string())?;
                        dir.explicit = true;
                        dir.object = None;
                        dir.bucket = Some(BucketRecord {
                            created_ms: super::now_ms(),
                            owner: None,
                        });
                        crate::access::drop_bucket_grants(&mut txn, dst_name)?;
                    }
                    // A bucket becomes a directory (an explicit one: the object `x/`). Its
                    // uploads in progress are keyed by its inode as a bucket: they must end
                    // first.
                    (true, false) => {
                        super::multipart::clear_bucket_uploads(&mut txn, dir.inode, src_name)?;
                        dir.bucket = None;
                        crate::access::drop_bucket_grants(&mut txn, src_name)?;
                    }
                    (false, false) => {}
                }
                Dentry::Dir(dir)
            }
        };
        txn.delete(Cf::Dentry, &keys::dentry(src_parent, &src_key));
        txn.put(Cf::Dentry, &keys::dentry(dst_parent, &dst_key), &dentry)?;
        remove_empty_implicit(&mut txn, &src_steps)?;
        txn.commit(true)?;
        Ok(())
    }
}

//! Online snapshots: a consistent RocksDB checkpoint of the whole database, written while
//! metad serves. The folder it makes is a metad data folder as of that instant, so restoring is
//! starting metad on it (or on a copy of it).

use super::Store;
use dfs_common::{ErrorCode, RpcError};
use std::path::Path;

impl Store {
    /// Writes a checkpoint into `dir`, which must be an absolute path that does not exist yet
    /// and whose parent does. Returns the number of files and their bytes.
    pub fn checkpoint(&self, dir: &Path) -> Result<(u64, u64), RpcError> {
        if !dir.is_absolute() {
            return Err(RpcError::invalid(format!(
                "snapshot folder {} is not an absolute path (it is a path on metad's host)",
                dir.display()
            )));
        }
        if dir.exists() {
            return Err(RpcError::new(
                ErrorCode::AlreadyExists,
                format!("snapshot folder {} already exists", dir.display()),
            ));
        }
        if !dir.parent().is_some_and(Path::is_dir) {
            return Err(RpcError::invalid(format!(
                "the parent of snapshot folder {} is not a folder on metad's host",
                dir.display()
            )));
        }
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.db)
            .map_err(|e| RpcError::internal(format!("cannot start a snapshot: {e}")))?;
        checkpoint.create_checkpoint(dir).map_err(|e| {
            RpcError::internal(format!("snapshot into {} failed: {e}", dir.display()))
        })?;
        let (mut files, mut bytes) = (0, 0);
        for entry in std::fs::read_dir(dir)
            .map_err(|e| RpcError::internal(format!("reading {}: {e}", dir.display())))?
        {
            let meta = entry.and_then(|e| e.metadata()).ok();
            if let Some(meta) = meta.filter(|m| m.is_file()) {
                files += 1;
                bytes += meta.len();
            }
        }
        Ok((files, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Cf, Reader};

    #[test]
    fn a_snapshot_opens_as_a_database_and_refuses_bad_folders() {
        let (dir, store) = crate::store::test_util::temp_store();
        let mut txn = store.begin();
        txn.put(Cf::Meta, b"snapshot-test", &crate::store::values::Present)
            .unwrap();
        txn.commit(true).unwrap();
        let target = dir.path().join("snap");
        let (files, bytes) = store.checkpoint(&target).unwrap();
        assert!(files > 0 && bytes > 0);
        let code = |result: Result<(u64, u64), RpcError>| result.unwrap_err().code;
        assert_eq!(code(store.checkpoint(&target)), ErrorCode::AlreadyExists);
        assert_eq!(
            code(store.checkpoint(Path::new("relative/snap"))),
            ErrorCode::InvalidArgument
        );
        let orphan = dir.path().join("no/such/parent");
        assert_eq!(code(store.checkpoint(&orphan)), ErrorCode::InvalidArgument);
        drop(store);
        let restored = Store::open(&target).unwrap();
        let value: Option<crate::store::values::Present> =
            restored.view().get(Cf::Meta, b"snapshot-test").unwrap();
        assert!(value.is_some());
    }
}

//! Online snapshots: a consistent RocksDB checkpoint of the whole database, written while
//! metad serves. The folder it makes is a metad data folder as of that instant, so restoring is
//! starting metad on it (or on a copy of it).
//!
//! The checkpoint leaves the group behind: the rows the Raft state machine keeps about its
//! log and membership, and this member's node-local rows (its open write sessions), are
//! removed from it. A metad started on it is a group of one that initializes itself, whatever
//! group the snapshot was taken from (a state that names members and a log it does not have
//! could never elect a leader).

use super::keys::meta;
use super::{Cf, Store};
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
        leave_the_group(dir).map_err(|e| {
            RpcError::internal(format!("snapshot in {} not finished: {e}", dir.display()))
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

/// Removes the group's own rows and the node-local rows from the checkpoint in `dir`.
fn leave_the_group(dir: &Path) -> Result<(), rocksdb::Error> {
    let names = Cf::ALL.iter().map(|cf| cf.name());
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir, names)?;
    let mut batch = rocksdb::WriteBatch::default();
    if let Some(table) = db.cf_handle(Cf::Meta.name()) {
        for key in [meta::RAFT_APPLIED, meta::RAFT_MEMBERSHIP, meta::RAFT_FENCE] {
            batch.delete_cf(table, key);
        }
    }
    if let Some(table) = db.cf_handle(Cf::Local.name()) {
        for item in db.iterator_cf(table, rocksdb::IteratorMode::Start) {
            batch.delete_cf(table, item?.0);
        }
    }
    let mut opts = rocksdb::WriteOptions::default();
    opts.set_sync(true);
    db.write_opt(batch, &opts)?;
    db.flush()
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
        txn.put(Cf::Local, b"session/x", &crate::store::values::Present)
            .unwrap();
        txn.commit(true).unwrap();
        // What a member of a group has: the state machine's own rows.
        let meta_table = store.db().cf_handle(Cf::Meta.name()).unwrap();
        store
            .db()
            .put_cf(meta_table, meta::RAFT_MEMBERSHIP, b"three members")
            .unwrap();
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
        let view = restored.view();
        let value: Option<crate::store::values::Present> =
            view.get(Cf::Meta, b"snapshot-test").unwrap();
        assert!(value.is_some());
        assert_eq!(view.get_raw(Cf::Meta, meta::RAFT_MEMBERSHIP).unwrap(), None);
        assert_eq!(view.get_raw(Cf::Local, b"session/x").unwrap(), None);
    }
}

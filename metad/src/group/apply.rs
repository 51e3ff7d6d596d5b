//! The one path by which the replicated state changes: a batch of effects applied as one
//! RocksDB write batch that also records the batch's sequence number.
//!
//! Because the sequence number moves in the same atomic batch as the rows, a batch applied
//! again (a log replayed after a crash) is recognized and skipped: replay is idempotent. A
//! batch that cannot be applied whole (a table this build does not know, a node-local table
//! in replicated effects) is refused before anything is written: a member must stop rather
//! than diverge from the others.

use super::effects::{LocalWrite, TxnEffects, Write};
use crate::store::keys::meta;
use crate::store::{Cf, StoreError};
use rocksdb::{ColumnFamily, WriteBatch, WriteOptions, DB};

/// The sequence number of the last batch applied to `db` (0 before the first).
pub(crate) fn applied_seq(db: &DB) -> Result<u64, StoreError> {
    match db.get_cf(handle(db, Cf::Meta)?, meta::GROUP_APPLIED)? {
        None => Ok(0),
        Some(bytes) => {
            let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                StoreError::Corrupt(format!(
                    "the applied sequence number is {} bytes long, not 8",
                    bytes.len()
                ))
            })?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

/// Applies the effects of batch `seq`, and the node-local rows written with them, as one
/// atomic, unsynced write (the caller decides when to wait for the disk). Returns `false`,
/// writing nothing, when a batch at or after `seq` was already applied. Sequence numbers only
/// need to grow: a Raft log index will serve, gaps (entries without effects) included.
pub(crate) fn apply(
    db: &DB,
    seq: u64,
    txns: &[TxnEffects],
    local_rows: &[LocalWrite],
) -> Result<bool, StoreError> {
    if seq <= applied_seq(db)? {
        return Ok(false);
    }
    let mut batch = WriteBatch::default();
    for write in txns.iter().flat_map(|txn| &txn.writes) {
        stage(db, &mut batch, write)?;
    }
    batch.put_cf(
        handle(db, Cf::Meta)?,
        meta::GROUP_APPLIED,
        seq.to_be_bytes(),
    );
    let local_table = handle(db, Cf::Local)?;
    for row in local_rows {
        match &row.value {
            Some(value) => batch.put_cf(local_table, &row.key, value),
            None => batch.delete_cf(local_table, &row.key),
        }
    }
    db.write_opt(batch, &WriteOptions::default())?;
    Ok(true)
}

/// Adds one effect to `batch`, refusing what must never be applied.
pub(crate) fn stage(db: &DB, batch: &mut WriteBatch, write: &Write) -> Result<(), StoreError> {
    let cf = Cf::from_code(write.cf).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "effects write table code {}, unknown to this metad (written by a newer version?)",
            write.cf
        ))
    })?;
    if cf.is_node_local() {
        return Err(StoreError::Corrupt(format!(
            "effects write the node-local table {}",
            cf.name()
        )));
    }
    if cf == Cf::Meta
        && (write.key == meta::GROUP_APPLIED || write.key.starts_with(meta::RAFT_PREFIX))
    {
        return Err(StoreError::Corrupt(format!(
            "effects write the group's own row {}",
            String::from_utf8_lossy(&write.key)
        )));
    }
    let table = handle(db, cf)?;
    match &write.value {
        Some(value) => batch.put_cf(table, &write.key, value),
        None => batch.delete_cf(table, &write.key),
    }
    Ok(())
}

pub(crate) fn handle(db: &DB, cf: Cf) -> Result<&ColumnFamily, StoreError> {
    db.cf_handle(cf.name())
        .ok_or_else(|| StoreError::Corrupt(format!("column family {} is missing", cf.name())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::local;
    use crate::store::test_util::temp_store;

    /// A row of the session mirror, in the node-local table.
    fn local_row(id: u64, value: Option<&[u8]>) -> LocalWrite {
        LocalWrite {
            key: local::session(dfs_common::SessionId(id)),
            value: value.map(<[u8]>::to_vec),
        }
    }

    fn get(db: &DB, cf: Cf, key: &[u8]) -> Option<Vec<u8>> {
        db.get_cf(handle(db, cf).unwrap(), key).unwrap()
    }

    fn put(cf: Cf, key: &[u8], value: &[u8]) -> Write {
        Write::new(cf, key.to_vec(), Some(value.to_vec()))
    }

    #[test]
    fn a_batch_applies_whole_and_records_its_sequence_number() {
        let (_dir, store) = temp_store();
        let db = store.db();
        let start = applied_seq(db).unwrap();
        let first = TxnEffects {
            writes: vec![put(Cf::Dentry, b"a", b"1"), put(Cf::Node, b"n", b"2")],
        };
        let second = TxnEffects {
            writes: vec![
                Write::new(Cf::Dentry, b"a".to_vec(), None),
                put(Cf::Part, b"p", b"3"),
            ],
        };
        let applied = apply(db, start + 1, &[first, second], &[local_row(9, Some(b"s"))]);
        assert!(applied.unwrap());
        assert_eq!(applied_seq(db).unwrap(), start + 1);
        // Later writes of the batch win over earlier ones, like in one transaction.
        assert_eq!(get(db, Cf::Dentry, b"a"), None);
        assert_eq!(get(db, Cf::Node, b"n"), Some(b"2".to_vec()));
        assert_eq!(get(db, Cf::Part, b"p"), Some(b"3".to_vec()));
        let mirror = local::session(dfs_common::SessionId(9));
        assert_eq!(get(db, Cf::Local, &mirror), Some(b"s".to_vec()));
    }

    #[test]
    fn applying_a_sequence_number_again_is_a_no_op() {
        let (_dir, store) = temp_store();
        let db = store.db();
        let seq = applied_seq(db).unwrap() + 1;
        let fx = [TxnEffects::one(put(Cf::ChunkLoc, b"c", b"first"))];
        assert!(apply(db, seq, &fx, &[local_row(1, Some(b"first"))]).unwrap());
        // A replay of the same batch, then of an older one, even with other contents: nothing
        // changes, local rows included.
        for replayed in [seq, seq - 1] {
            let other = [TxnEffects::one(put(Cf::ChunkLoc, b"c", b"second"))];
            assert!(!apply(db, replayed, &other, &[local_row(1, None)]).unwrap());
            assert_eq!(get(db, Cf::ChunkLoc, b"c"), Some(b"first".to_vec()));
            let mirror = local::session(dfs_common::SessionId(1));
            assert_eq!(get(db, Cf::Local, &mirror), Some(b"first".to_vec()));
            assert_eq!(applied_seq(db).unwrap(), seq);
        }
        // The next number applies; numbers may skip (log entries without effects).
        let next = [TxnEffects::one(put(Cf::ChunkLoc, b"c", b"third"))];
        assert!(apply(db, seq + 5, &next, &[]).unwrap());
        assert_eq!(get(db, Cf::ChunkLoc, b"c"), Some(b"third".to_vec()));
        assert_eq!(applied_seq(db).unwrap(), seq + 5);
    }

    #[test]
    fn the_sequence_number_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let seq = {
            let store = crate::store::Store::open(dir.path()).unwrap();
            let seq = applied_seq(store.db()).unwrap() + 1;
            let fx = [TxnEffects::one(put(Cf::Upload, b"u", b"1"))];
            assert!(apply(store.db(), seq, &fx, &[]).unwrap());
            seq
        };
        let store = crate::store::Store::open(dir.path()).unwrap();
        assert!(applied_seq(store.db()).unwrap() >= seq);
        let fx = [TxnEffects::one(put(Cf::Upload, b"u", b"2"))];
        assert!(!apply(store.db(), seq, &fx, &[]).unwrap());
        assert_eq!(get(store.db(), Cf::Upload, b"u"), Some(b"1".to_vec()));
    }

    #[test]
    fn a_batch_with_a_forbidden_write_changes_nothing() {
        let (_dir, store) = temp_store();
        let db = store.db();
        let seq = applied_seq(db).unwrap() + 1;
        let forbidden = [
            Write {
                cf: 0,
                key: b"k".to_vec(),
                value: None,
            },
            Write {
                cf: 99,
                key: b"k".to_vec(),
                value: None,
            },
            put(Cf::Local, b"health", b"x"),
            put(Cf::Meta, meta::GROUP_APPLIED, &[0; 8]),
            put(Cf::Meta, meta::RAFT_APPLIED, &[0; 8]),
            put(Cf::Meta, meta::RAFT_FENCE, &[0; 8]),
        ];
        for bad in forbidden {
            let fx = [TxnEffects {
                writes: vec![put(Cf::Dentry, b"d", b"1"), bad.clone()],
            }];
            let err = apply(db, seq, &fx, &[]).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt(_)), "{bad:?}: {err}");
            assert_eq!(get(db, Cf::Dentry, b"d"), None, "{bad:?}");
            assert_eq!(applied_seq(db).unwrap(), seq - 1, "{bad:?}");
        }
    }
}

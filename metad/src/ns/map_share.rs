//! Files sharing one chunk map. A file's chunk rows are keyed by its inode, and a file gets a
//! fresh inode at every write; a CopyObject of an object of many slices makes the copy hold
//! its source's inode (and rows) instead of copying every row and taking a reference on every
//! chunk, which would make one transaction as large as the object's map. The `map_share`
//! table counts the holders of such a map; whoever releases a file asks [`drop_holder`]
//! first, and the rows go (with their chunk references) only with the last holder. Only
//! files share maps: a directory object's payload rows are rewritten in place under the
//! directory's own inode, so they are always copied.

use crate::store::values::MapShare;
use crate::store::{keys, Cf, Reader, StoreError, Txn};
use dfs_common::InodeId;

/// Stages one more holder of the chunk map of `inode` (which a file holds now).
pub(super) fn add_holder(txn: &mut Txn<'_>, inode: InodeId) -> Result<(), StoreError> {
    let key = keys::map_share(inode);
    let holders = txn
        .get::<MapShare>(Cf::MapShare, &key)?
        .map_or(1, |s| s.holders);
    let share = MapShare {
        holders: holders.saturating_add(1),
    };
    txn.put(Cf::MapShare, &key, &share)
}

/// Stages the departure of one holder of the chunk map of `inode`. Returns whether another
/// file still holds it: then its rows stay; otherwise the caller releases them.
pub(super) fn drop_holder(txn: &mut Txn<'_>, inode: InodeId) -> Result<bool, StoreError> {
    let key = keys::map_share(inode);
    match txn.get::<MapShare>(Cf::MapShare, &key)? {
        None => Ok(false),
        Some(share) if share.holders <= 2 => {
            txn.delete(Cf::MapShare, &key);
            Ok(true)
        }
        Some(share) => {
            let share = MapShare {
                holders: share.holders - 1,
            };
            txn.put(Cf::MapShare, &key, &share)?;
            Ok(true)
        }
    }
}

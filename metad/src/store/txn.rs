//! Read-check-write transactions over the store (see the module doc of `store`).

use super::values::Value;
use super::{is_after, scan_start, Cf, Reader, Store, StoreError, Visitor};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::MutexGuard;

/// Pending writes of a transaction, by table and key; `None` is a deletion.
type Overlay = BTreeMap<(Cf, Vec<u8>), Option<Vec<u8>>>;

/// A transaction: holds the store's write lock, reads through its own pending writes, and
/// writes them all as one batch at [`commit`](Txn::commit). Dropping it discards them.
pub struct Txn<'a> {
    store: &'a Store,
    _guard: MutexGuard<'a, ()>,
    overlay: Overlay,
}

impl<'a> Txn<'a> {
    pub(super) fn new(store: &'a Store, guard: MutexGuard<'a, ()>) -> Self {
        Txn {
            store,
            _guard: guard,
            overlay: BTreeMap::new(),
        }
    }

    /// Stages a value.
    pub fn put<V: Value>(&mut self, cf: Cf, key: &[u8], value: &V) -> Result<(), StoreError> {
        self.overlay
            .insert((cf, key.to_vec()), Some(value.encode()?));
        Ok(())
    }

    /// Stages a deletion.
    pub fn delete(&mut self, cf: Cf, key: &[u8]) {
        self.overlay.insert((cf, key.to_vec()), None);
    }

    /// Number of rows the batch will write (puts and deletions, each key once): what bounds
    /// the size of a transaction.
    pub fn staged(&self) -> usize {
        self.overlay.len()
    }

    /// Writes every staged change as one batch; `sync` waits for the WAL to reach the disk.
    ///
    /// The batch is applied under the write lock, so the next transaction reads it, but the
    /// wait for the disk happens after the lock is released: transactions committing at the
    /// same time then share one WAL fsync (group commit) instead of queueing one fsync each
    /// behind the lock. The WAL is sequential, so when this returns every earlier batch is
    /// durable too: nothing is acknowledged before the writes it depends on reached the disk.
    pub fn commit(self, sync: bool) -> Result<(), StoreError> {
        if self.overlay.is_empty() {
            return Ok(());
        }
        let store = self.store;
        let mut batch = rocksdb::WriteBatch::default();
        for ((cf, key), value) in &self.overlay {
            let handle = store.cf(*cf)?;
            match value {
                Some(value) => batch.put_cf(handle, key, value),
                None => batch.delete_cf(handle, key),
            }
        }
        store.write_batch(batch)?;
        drop(self);
        if sync {
            store.sync_wal()?;
        }
        Ok(())
    }
}

impl Reader for Txn<'_> {
    fn get_raw(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.overlay.get(&(cf, key.to_vec())) {
            Some(staged) => Ok(staged.clone()),
            None => Ok(self.store.db.get_cf(self.store.cf(cf)?, key)?),
        }
    }

    fn scan_raw(
        &self,
        cf: Cf,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        let start = scan_start(prefix, after);
        let lower = match after {
            Some(a) if a >= prefix => Bound::Excluded((cf, a.to_vec())),
            _ => Bound::Included((cf, prefix.to_vec())),
        };
        let mut staged = self
            .overlay
            .range((lower, Bound::Unbounded))
            .take_while(|((c, k), _)| *c == cf && k.starts_with(prefix))
            .peekable();
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(cf)?);
        iter.seek(start);
        // The seek lands on `after` itself when it is stored: step over it, or the merge
        // below would take it for the end of the prefix.
        if after.is_some_and(|a| iter.key() == Some(a)) {
            iter.next();
        }
        // Merge the stored keys with the staged ones; a staged key shadows the stored one.
        loop {
            let stored = match iter.key() {
                Some(k) if k.starts_with(prefix) => Some(k),
                _ => None,
            };
            let stored = stored.filter(|k| is_after(k, after));
            let next_staged = staged.peek().map(|((_, k), _)| k.as_slice());
            let (key, value): (Vec<u8>, Option<Vec<u8>>) = match (stored, next_staged) {
                (None, None) => break,
                (Some(s), Some(t)) if t <= s => {
                    if t == s {
                        iter.next();
                    }
                    let ((_, k), v) = staged.next().ok_or_else(merge_bug)?;
                    (k.clone(), v.clone())
                }
                (Some(s), _) => {
                    let item = (s.to_vec(), iter.value().map(<[u8]>::to_vec));
                    iter.next();
                    item
                }
                (None, Some(_)) => {
                    let ((_, k), v) = staged.next().ok_or_else(merge_bug)?;
                    (k.clone(), v.clone())
                }
            };
            if let Some(value) = value {
                if !visit(&key, &value)? {
                    return Ok(());
                }
            }
        }
        iter.status()?;
        Ok(())
    }
}

fn merge_bug() -> StoreError {
    StoreError::Corrupt("transaction scan lost its place".into())
}

//! Read-check-write transactions over the store (see the module doc of `store`).

use super::pending::{self, Pending};
use super::values::Value;
use super::{is_after, scan_start, Cf, Reader, Store, StoreError, Visitor};
use crate::group::{LocalWrite, TxnEffects, Write};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::MutexGuard;

/// Pending writes of a transaction, by table and key; `None` is a deletion.
type Overlay = BTreeMap<(Cf, Vec<u8>), Option<Vec<u8>>>;

/// A transaction: holds the store's write lock, reads through its own staged writes, then
/// the group's pending ones (committed, not yet applied), then the applied state, and writes
/// its own as one batch at [`commit`](Txn::commit). Dropping it discards them.
pub struct Txn<'a> {
    store: &'a Store,
    guard: MutexGuard<'a, Pending>,
    overlay: Overlay,
}

impl<'a> Txn<'a> {
    pub(super) fn new(store: &'a Store, guard: MutexGuard<'a, Pending>) -> Self {
        Txn {
            store,
            guard,
            overlay: BTreeMap::new(),
        }
    }

    /// Stages a value.
    pub fn put<V: Value>(&mut self, cf: Cf, key: &[u8], value: &V) -> Result<(), StoreError> {
        self.overlay
            .insert((cf, key.to_vec()), Some(value.encode()?));
        Ok(())
    }

    /// Stages raw bytes (an upgrade moving rows between tables).
    pub(super) fn put_raw(&mut self, cf: Cf, key: &[u8], value: &[u8]) {
        self.overlay
            .insert((cf, key.to_vec()), Some(value.to_vec()));
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
    /// The staged rows become the transaction's effects (plus the node-local rows written
    /// with them), which the store's group applies under the write lock, so the next
    /// transaction reads them, but the wait for the disk happens after the lock is released:
    /// transactions committing at the same time then share one WAL fsync (group commit)
    /// instead of queueing one fsync each behind the lock. The WAL is sequential, so when this
    /// returns every earlier batch is durable too: nothing is acknowledged before the writes
    /// it depends on reached the disk.
    pub fn commit(self, sync: bool) -> Result<(), StoreError> {
        let Txn {
            store,
            mut guard,
            overlay,
        } = self;
        if overlay.is_empty() {
            return Ok(());
        }
        let (effects, local) = into_effects(overlay);
        let group = store.group();
        let deferred = group.defers().then(|| effects.clone());
        // The generation the pending rows it read belong to: a transaction evaluated in
        // another leader run is refused.
        let generation = guard.generation();
        let ticket = group.enqueue(generation, effects, local)?;
        if let Some(effects) = deferred {
            guard.record(ticket.seq(), effects)?;
            store.note_pending(ticket.seq());
        }
        drop(guard);
        if sync {
            store.wait_durable(ticket)?;
            // What this thread's operation wrote is committed, and with it everything the
            // transaction read: its answer needs no further wait (see `Store::take_commit_mark`).
            COMMITTED.with(|mark| mark.set(Some(generation)));
        }
        Ok(())
    }
}

thread_local! {
    /// The group generation of the last synced commit made on this thread, since
    /// [`Store::take_commit_mark`] last took it. Operations run on one blocking thread each.
    static COMMITTED: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Takes (and clears) this thread's commit mark.
pub(super) fn take_commit_mark() -> Option<u64> {
    COMMITTED.with(std::cell::Cell::take)
}

/// Splits staged rows into the effects on the replicated tables and the node-local rows, each
/// in the overlay's order (by table, then key).
fn into_effects(overlay: Overlay) -> (TxnEffects, Vec<LocalWrite>) {
    let mut effects = TxnEffects::default();
    let mut local = Vec::new();
    for ((cf, key), value) in overlay {
        if cf.is_node_local() {
            local.push(LocalWrite { key, value });
        } else {
            effects.writes.push(Write::new(cf, key, value));
        }
    }
    (effects, local)
}

impl Reader for Txn<'_> {
    fn get_raw(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(staged) = self.overlay.get(&(cf, key.to_vec())) {
            return Ok(staged.clone());
        }
        if let Some(pending) = self.guard.get(cf, key) {
            return Ok(pending.clone());
        }
        Ok(self.store.db.get_cf(self.store.cf(cf)?, key)?)
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
        let own = self
            .overlay
            .range((lower.clone(), Bound::Unbounded))
            .take_while(|((c, k), _)| *c == cf && k.starts_with(prefix))
            .map(|((_, k), v)| (k, v));
        let pending = self.guard.range(cf, lower, prefix);
        let staged = pending::merge(own.peekable(), pending.peekable());
        let mut staged = staged.into_iter().peekable();
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
            let next_staged = staged.peek().map(|(k, _)| k.as_slice());
            let (key, value): (Vec<u8>, Option<Vec<u8>>) = match (stored, next_staged) {
                (None, None) => break,
                (Some(s), Some(t)) if t <= s => {
                    if t == s {
                        iter.next();
                    }
                    let (k, v) = staged.next().ok_or_else(merge_bug)?;
                    (k.clone(), v.clone())
                }
                (Some(s), _) => {
                    let item = (s.to_vec(), iter.value().map(<[u8]>::to_vec));
                    iter.next();
                    item
                }
                (None, Some(_)) => {
                    let (k, v) = staged.next().ok_or_else(merge_bug)?;
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

#[cfg(test)]
mod tests {
    use super::super::test_util::recording_store;
    use super::super::values::Counter;
    use super::*;
    use crate::group::apply::applied_seq;

    #[test]
    fn a_committed_txn_hands_the_group_exactly_its_overlay() {
        let (_dir, store, seen) = recording_store();
        let before = applied_seq(store.db()).unwrap();
        let value = Counter { next: 42 };
        let mut txn = store.begin();
        txn.put(Cf::Dentry, b"d", &value).unwrap();
        txn.put(Cf::Meta, b"m", &value).unwrap();
        txn.delete(Cf::ChunkLoc, b"gone");
        txn.put(Cf::Part, b"p", &value).unwrap();
        txn.delete(Cf::Part, b"p"); // staged twice: the last one counts
        txn.put(Cf::Local, b"session/x", &value).unwrap();
        txn.delete(Cf::Local, b"session/y");
        let staged: Vec<(Cf, Vec<u8>, Option<Vec<u8>>)> = txn
            .overlay
            .iter()
            .map(|((cf, k), v)| (*cf, k.clone(), v.clone()))
            .collect();
        txn.commit(true).unwrap();

        let seen = seen.lock().unwrap();
        assert_eq!(seen.commits.len(), 1);
        let (effects, local) = &seen.commits[0];
        let replicated: Vec<Write> = staged
            .iter()
            .filter(|(cf, _, _)| !cf.is_node_local())
            .map(|(cf, k, v)| Write::new(*cf, k.clone(), v.clone()))
            .collect();
        let node_local: Vec<LocalWrite> = staged
            .iter()
            .filter(|(cf, _, _)| cf.is_node_local())
            .map(|(_, k, v)| LocalWrite {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        assert_eq!(effects.writes, replicated);
        assert_eq!(*local, node_local);
        // Four replicated rows (the part only as its deletion), two local ones.
        assert_eq!((effects.writes.len(), local.len()), (4, 2));
        assert_eq!(seen.reservations, []);
        // Applied as one batch, and every row reads back as staged.
        assert_eq!(applied_seq(store.db()).unwrap(), before + 1);
        let view = store.view();
        for (cf, key, value) in &staged {
            assert_eq!(view.get_raw(*cf, key).unwrap(), *value, "{cf:?} {key:?}");
        }
    }

    #[test]
    fn an_empty_or_dropped_txn_hands_nothing() {
        let (_dir, store, seen) = recording_store();
        let before = applied_seq(store.db()).unwrap();
        store.begin().commit(true).unwrap();
        let mut txn = store.begin();
        txn.put(Cf::Dentry, b"d", &Counter { next: 1 }).unwrap();
        drop(txn);
        assert!(seen.lock().unwrap().commits.is_empty());
        assert_eq!(applied_seq(store.db()).unwrap(), before);
        assert_eq!(store.view().get_raw(Cf::Dentry, b"d").unwrap(), None);
    }
}

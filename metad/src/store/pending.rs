//! The pending overlay: effects a leader has committed (proposed) but that are not applied to
//! the state database yet. Transactions read through it, so a transaction sees every one
//! committed before it, as with a single database; views (reads outside transactions) never
//! see it, only what is applied. It lives under the store's write lock.

use super::{Cf, StoreError};
use crate::group::TxnEffects;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

/// A staged or pending row: `None` is a deletion.
pub(super) type Row = Option<Vec<u8>>;

/// A row's address: its table and key.
type RowKey = (Cf, Vec<u8>);

/// Rows of batches not yet settled, newest value per key.
#[derive(Default)]
pub struct Pending {
    /// Each key's newest pending value and the batch that wrote it.
    rows: BTreeMap<RowKey, (Row, u64)>,
    /// The keys each batch wrote, oldest batch first (to drop them once settled).
    batches: VecDeque<(u64, Vec<RowKey>)>,
    /// The group generation the rows belong to.
    generation: u64,
}

impl Pending {
    /// Drops the rows of settled batches (below `unsettled_from`), or every row when the
    /// group began another leader run (`generation`): those are applied, or void.
    pub(super) fn settle(&mut self, unsettled_from: u64, generation: u64) {
        if generation != self.generation {
            self.rows.clear();
            self.batches.clear();
            self.generation = generation;
            return;
        }
        while self
            .batches
            .front()
            .is_some_and(|(seq, _)| *seq < unsettled_from)
        {
            let Some((seq, keys)) = self.batches.pop_front() else {
                break;
            };
            for key in keys {
                // A later batch may have written the key again: its row stays.
                if self.rows.get(&key).is_some_and(|(_, by)| *by == seq) {
                    self.rows.remove(&key);
                }
            }
        }
    }

    /// The group generation the rows belong to.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Records the effects of a transaction that joined batch `seq`.
    pub(super) fn record(&mut self, seq: u64, effects: TxnEffects) -> Result<(), StoreError> {
        let mut keys = Vec::with_capacity(effects.writes.len());
        for write in effects.writes {
            let cf = Cf::from_code(write.cf).ok_or_else(|| {
                StoreError::Corrupt(format!("pending row of unknown table {}", write.cf))
            })?;
            keys.push((cf, write.key.clone()));
            self.rows.insert((cf, write.key), (write.value, seq));
        }
        match self.batches.back_mut() {
            Some((last, batch_keys)) if *last == seq => batch_keys.extend(keys),
            _ => self.batches.push_back((seq, keys)),
        }
        Ok(())
    }

    /// The pending row of `key`, if any.
    pub(super) fn get(&self, cf: Cf, key: &[u8]) -> Option<&Row> {
        self.rows.get(&(cf, key.to_vec())).map(|(row, _)| row)
    }

    /// The pending rows of `cf` from `lower`, in key order, while their key has `prefix`.
    pub(super) fn range<'a>(
        &'a self,
        cf: Cf,
        lower: Bound<RowKey>,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Row)> + 'a {
        self.rows
            .range((lower, Bound::Unbounded))
            .take_while(move |((c, k), _)| *c == cf && k.starts_with(prefix))
            .map(|((_, k), (row, _))| (k, row))
    }

    /// Whether nothing is pending.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Merges two key-ordered streams of rows; on equal keys the first (the transaction's own
/// staged rows) shadows the second (the pending ones).
pub(super) fn merge<'a>(
    mut own: std::iter::Peekable<impl Iterator<Item = (&'a Vec<u8>, &'a Row)>>,
    mut pending: std::iter::Peekable<impl Iterator<Item = (&'a Vec<u8>, &'a Row)>>,
) -> Vec<(&'a Vec<u8>, &'a Row)> {
    let mut out = Vec::new();
    loop {
        let next = match (own.peek(), pending.peek()) {
            (None, None) => break,
            (Some(_), None) => own.next(),
            (None, Some(_)) => pending.next(),
            (Some((a, _)), Some((b, _))) => {
                if a < b {
                    own.next()
                } else if b < a {
                    pending.next()
                } else {
                    pending.next();
                    own.next()
                }
            }
        };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::Write;

    fn fx(rows: &[(&[u8], Option<&[u8]>)]) -> TxnEffects {
        TxnEffects {
            writes: rows
                .iter()
                .map(|(k, v)| Write::new(Cf::Dentry, k.to_vec(), v.map(<[u8]>::to_vec)))
                .collect(),
        }
    }

    #[test]
    fn settled_batches_leave_but_a_newer_write_of_the_same_key_stays() {
        let mut p = Pending::default();
        p.record(1, fx(&[(b"a", Some(b"1")), (b"b", Some(b"1"))]))
            .unwrap();
        p.record(2, fx(&[(b"a", Some(b"2")), (b"c", None)]))
            .unwrap();
        assert_eq!(p.get(Cf::Dentry, b"a"), Some(&Some(b"2".to_vec())));
        p.settle(2, 0);
        assert_eq!(p.get(Cf::Dentry, b"a"), Some(&Some(b"2".to_vec())));
        assert_eq!(p.get(Cf::Dentry, b"b"), None);
        assert_eq!(p.get(Cf::Dentry, b"c"), Some(&None));
        p.settle(3, 0);
        assert!(p.is_empty());
    }

    #[test]
    fn another_generation_drops_everything() {
        let mut p = Pending::default();
        p.record(5, fx(&[(b"a", Some(b"1"))])).unwrap();
        p.settle(1, 1);
        assert!(p.is_empty());
        assert_eq!(p.generation(), 1);
    }

    #[test]
    fn own_rows_shadow_pending_ones_in_a_merge() {
        let a = (b"a".to_vec(), Some(b"own".to_vec()));
        let b = (b"b".to_vec(), None);
        let own = [a.clone(), b.clone()];
        let pa = (b"a".to_vec(), Some(b"pending".to_vec()));
        let pc = (b"c".to_vec(), Some(b"pending".to_vec()));
        let pending = [pa, pc.clone()];
        let merged = merge(
            own.iter().map(|(k, v)| (k, v)).peekable(),
            pending.iter().map(|(k, v)| (k, v)).peekable(),
        );
        let keys: Vec<(&Vec<u8>, &Row)> = vec![(&a.0, &a.1), (&b.0, &b.1), (&pc.0, &pc.1)];
        assert_eq!(merged, keys);
    }
}

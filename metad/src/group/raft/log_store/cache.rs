//! The newest log entries, kept in memory: replication to each follower and apply read the
//! entries just appended, and serving them from here saves a RocksDB read, a decode and a
//! thread hop per read. The cache holds a contiguous run of the log's last entries (entries
//! are added as they are appended, a truncation cuts the same suffix from both, eviction takes
//! the oldest), bounded in count and bytes: a range that starts inside it is all in it.

use super::TypeConfig;
use openraft::Entry;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Entries kept at most ...
const MAX_ENTRIES: usize = 4096;
/// ... and bytes (their encoded size).
const MAX_BYTES: usize = 64 << 20;

/// A contiguous run of the last entries of the log, with their encoded sizes.
#[derive(Default)]
pub struct EntryCache {
    entries: BTreeMap<u64, (Entry<TypeConfig>, usize)>,
    bytes: usize,
}

impl EntryCache {
    /// Records entries just appended (with their encoded sizes). An entry that does not follow
    /// the cached run starts a new run.
    pub fn appended(&mut self, entries: &[Entry<TypeConfig>], sizes: &[usize]) {
        for (entry, size) in entries.iter().zip(sizes) {
            let index = entry.log_id.index;
            let follows = self
                .entries
                .last_key_value()
                .is_none_or(|(last, _)| *last + 1 == index);
            if !follows {
                self.truncate_from(0);
            }
            self.bytes += size;
            self.entries.insert(index, (entry.clone(), *size));
        }
        while self.entries.len() > MAX_ENTRIES || self.bytes > MAX_BYTES {
            match self.entries.pop_first() {
                Some((_, (_, size))) => self.bytes -= size,
                None => break,
            }
        }
    }

    /// Forgets the entries at and after `index` (the log was truncated there).
    pub fn truncate_from(&mut self, index: u64) {
        for (_, (_, size)) in self.entries.split_off(&index) {
            self.bytes -= size;
        }
    }

    /// Forgets the entries at and before `index` (the log was purged there).
    pub fn purge_to(&mut self, index: u64) {
        let kept = self.entries.split_off(&index.saturating_add(1));
        for (_, (_, size)) in std::mem::replace(&mut self.entries, kept) {
            self.bytes -= size;
        }
    }

    /// The entries of `range` when the cache holds all of them, `None` otherwise.
    pub fn get(&self, range: &(Bound<u64>, Bound<u64>)) -> Option<Vec<Entry<TypeConfig>>> {
        let (first, _) = self.entries.first_key_value()?;
        let start = match range.0 {
            Bound::Included(i) => i,
            Bound::Excluded(i) => i.checked_add(1)?,
            Bound::Unbounded => return None,
        };
        if start < *first {
            return None;
        }
        Some(
            self.entries
                .range(*range)
                .map(|(_, (entry, _))| entry.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload, LogId};
    use std::ops::RangeBounds;

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn indexes(entries: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<u64>> {
        entries.map(|e| e.iter().map(|e| e.log_id.index).collect())
    }

    fn range(r: impl RangeBounds<u64>) -> (Bound<u64>, Bound<u64>) {
        (r.start_bound().cloned(), r.end_bound().cloned())
    }

    #[test]
    fn ranges_inside_the_run_are_served_and_others_are_not() {
        let mut cache = EntryCache::default();
        let run: Vec<_> = (10..20).map(entry).collect();
        cache.appended(&run, &[100; 10]);
        assert_eq!(indexes(cache.get(&range(12..15))), Some(vec![12, 13, 14]));
        assert_eq!(
            indexes(cache.get(&range(15..))),
            Some(vec![15, 16, 17, 18, 19])
        );
        assert_eq!(indexes(cache.get(&range(18..40))), Some(vec![18, 19]));
        assert_eq!(
            indexes(cache.get(&range(5..12))),
            None,
            "starts before the run"
        );
        assert_eq!(indexes(cache.get(&range(25..30))), Some(vec![]));
        cache.truncate_from(15);
        assert_eq!(indexes(cache.get(&range(12..20))), Some(vec![12, 13, 14]));
        cache.appended(&[entry(15)], &[100]);
        cache.purge_to(12);
        assert_eq!(indexes(cache.get(&range(11..14))), None);
        assert_eq!(indexes(cache.get(&range(13..16))), Some(vec![13, 14, 15]));
        assert_eq!(cache.bytes, 300);
    }

    #[test]
    fn a_gap_starts_a_new_run_and_the_bounds_hold() {
        let mut cache = EntryCache::default();
        cache.appended(&[entry(1), entry(2)], &[10, 10]);
        cache.appended(&[entry(7)], &[10]);
        assert_eq!(indexes(cache.get(&range(1..3))), None);
        assert_eq!(indexes(cache.get(&range(7..8))), Some(vec![7]));
        let many: Vec<_> = (8..8 + MAX_ENTRIES as u64 + 10).map(entry).collect();
        cache.appended(&many, &vec![1; many.len()]);
        assert_eq!(cache.entries.len(), MAX_ENTRIES);
    }
}

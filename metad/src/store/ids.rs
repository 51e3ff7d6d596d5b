//! Id counters, reserved in blocks.
//!
//! The `meta` table keeps, per kind, a bound below which ids may have been handed out. A new
//! block is reserved with a synced write before its first id is used, so most allocations cost
//! no I/O, and after a crash the counter restarts above every id that could exist (a chunk id
//! reused after a crash could collide with an orphan copy still on a chunkd). The write is a
//! one-row batch of effects applied by the store's group, like any committed transaction, so
//! the counters are part of the replicated state; it does not take the write lock, because ids
//! are taken from inside transactions.

use super::keys::meta;
use super::values::{Counter, Value};
use super::{Cf, Store, StoreError};
use crate::group::{TxnEffects, Write};
use rocksdb::DB;
use std::sync::Mutex;

/// Ids reserved per synced counter write.
pub(super) const BLOCK: u64 = 1000;

/// The lowest chunk id a state restored at `now_secs` (Unix seconds) hands out: the time in
/// the high bits, room for 2^24 ids per second of time below. The metad a backup was taken
/// from handed out its ids from a lower floor (its own restore's, or 1) at well under 2^24
/// chunks a second, so a later restore's floor is above all of them.
pub(crate) fn restore_floor(now_secs: u64) -> u64 {
    now_secs.saturating_mul(1 << 24)
}

/// The kinds of ids metad hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// Files and directories.
    Inode,
    /// Chunks.
    Chunk,
    /// Write sessions.
    Session,
    /// Chunkds.
    Node,
}

impl IdKind {
    const ALL: [IdKind; 4] = [IdKind::Inode, IdKind::Chunk, IdKind::Session, IdKind::Node];

    fn index(self) -> usize {
        self as usize
    }

    fn key(self) -> &'static [u8] {
        match self {
            IdKind::Inode => meta::NEXT_INODE,
            IdKind::Chunk => meta::NEXT_CHUNK,
            IdKind::Session => meta::NEXT_SESSION,
            IdKind::Node => meta::NEXT_NODE,
        }
    }

    /// The first id of a new database: inode 1 is the root, which always exists.
    fn first(self) -> u64 {
        match self {
            IdKind::Inode => dfs_common::InodeId::ROOT.0 + 1,
            _ => 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Range {
    next: u64,
    /// Ids below this are reserved on disk.
    limit: u64,
}

/// The in-memory side of the counters.
pub(super) struct IdAlloc {
    ranges: Mutex<[Range; 4]>,
}

impl IdAlloc {
    /// Reads the persisted bounds; nothing is reserved until the first allocation.
    pub(super) fn load(db: &DB) -> Result<IdAlloc, StoreError> {
        let cf = db
            .cf_handle(Cf::Meta.name())
            .ok_or_else(|| StoreError::Corrupt("column family meta is missing".into()))?;
        let mut ranges = [Range { next: 0, limit: 0 }; 4];
        for kind in IdKind::ALL {
            let stored = db
                .get_cf(cf, kind.key())?
                .map(|b| Counter::decode(&b))
                .transpose()?;
            let start = stored.map_or(kind.first(), |c| c.next.max(kind.first()));
            ranges[kind.index()] = Range {
                next: start,
                limit: start,
            };
        }
        Ok(IdAlloc {
            ranges: Mutex::new(ranges),
        })
    }

    /// Replaces the ranges with the stored bounds (a new leader's start).
    pub(super) fn reload(&self, db: &DB) -> Result<(), StoreError> {
        let fresh = IdAlloc::load(db)?;
        let ranges = fresh.ranges.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.ranges.lock().unwrap_or_else(|p| p.into_inner()) = ranges;
        Ok(())
    }

    pub(super) fn next(&self, store: &Store, kind: IdKind) -> Result<u64, StoreError> {
        let mut ranges = self.ranges.lock().unwrap_or_else(|p| p.into_inner());
        let range = &mut ranges[kind.index()];
        if range.next >= range.limit {
            let limit = range
                .next
                .checked_add(BLOCK)
                .ok_or_else(|| StoreError::Corrupt(format!("{kind:?} ids are exhausted")))?;
            persist(store, kind, limit)?;
            range.limit = limit;
        }
        let id = range.next;
        range.next += 1;
        Ok(id)
    }

    pub(super) fn reserve_up_to(
        &self,
        store: &Store,
        kind: IdKind,
        id: u64,
    ) -> Result<(), StoreError> {
        let mut ranges = self.ranges.lock().unwrap_or_else(|p| p.into_inner());
        let range = &mut ranges[kind.index()];
        let wanted = id.saturating_add(1);
        if range.next < wanted {
            range.next = wanted;
        }
        if range.limit < range.next {
            let limit = range.next.saturating_add(BLOCK);
            persist(store, kind, limit)?;
            range.limit = limit;
        }
        Ok(())
    }
}

/// Reserves ids below `limit`: returns once the new bound is durable.
fn persist(store: &Store, kind: IdKind, limit: u64) -> Result<(), StoreError> {
    let value = Counter { next: limit }.encode()?;
    let write = Write::new(Cf::Meta, kind.key().to_vec(), Some(value));
    store.reserve_ids(TxnEffects::one(write))
}

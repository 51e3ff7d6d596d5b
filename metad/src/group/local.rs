//! The group of one: effects are applied at once to the local state database, and a commit
//! is durable when the WAL is synced. This is exactly the commit metad always had: the batch
//! is written under the write lock, unsynced, and the fsync comes after the lock is released,
//! where one fsync covers every batch written before it.

use super::apply;
use super::{Group, LocalWrite, Ticket, TxnEffects};
use crate::store::StoreError;
use rocksdb::DB;
use std::sync::{Arc, Mutex};

/// A group whose only member is this process.
pub(crate) struct LocalGroup {
    db: Arc<DB>,
    /// The sequence number of the last applied batch. Its own lock, not the store's write
    /// lock: id reservations apply from inside transactions and from outside them.
    applied: Mutex<u64>,
}

impl LocalGroup {
    /// The group of the state database `db`, continuing its sequence numbers.
    pub(crate) fn open(db: Arc<DB>) -> Result<LocalGroup, StoreError> {
        let applied = apply::applied_seq(&db)?;
        Ok(LocalGroup {
            db,
            applied: Mutex::new(applied),
        })
    }

    /// Applies one transaction's effects as the next batch; returns its sequence number.
    fn apply_next(&self, effects: TxnEffects, local: &[LocalWrite]) -> Result<u64, StoreError> {
        // A panic while holding the lock happens before the number is updated, and the batch
        // is written whole or not at all: the value is still right.
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        let seq = applied
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("effects sequence numbers are exhausted".into()))?;
        if !apply::apply(&self.db, seq, std::slice::from_ref(&effects), local)? {
            return Err(StoreError::Corrupt(format!(
                "effects batch {seq} was already applied: something else writes this database"
            )));
        }
        *applied = seq;
        Ok(seq)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true)?;
        Ok(())
    }
}

impl Group for LocalGroup {
    fn enqueue(
        &self,
        _generation: u64,
        effects: TxnEffects,
        local: Vec<LocalWrite>,
    ) -> Result<Ticket, StoreError> {
        let seq = self.apply_next(effects, &local)?;
        Ok(Ticket { seq, slot: None })
    }

    fn wait(&self, ticket: Ticket) -> Result<(), StoreError> {
        let applied = *self.applied.lock().unwrap_or_else(|p| p.into_inner());
        if ticket.seq > applied {
            return Err(StoreError::Corrupt(format!(
                "waiting for effects batch {} which was never applied (last {applied})",
                ticket.seq
            )));
        }
        // The WAL is sequential: syncing it now makes this batch durable, and every other
        // batch written before the sync, whoever waits for it.
        self.sync()
    }

    fn reserve(&self, effects: TxnEffects) -> Result<(), StoreError> {
        self.apply_next(effects, &[])?;
        self.sync()
    }
}

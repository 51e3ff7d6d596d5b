//! metad's replicated state as a group: the one path by which committed transactions change
//! the state database (REPLICATION.md §2, §3 and §7).
//!
//! A [`Txn`](crate::store::Txn) turns its staged rows into [`TxnEffects`] at commit and hands
//! them to the store's [`Group`], which applies them through [`apply::apply`], the single
//! function that writes the replicated tables. Id-block reservations take the same path.
//! Today the group is [`LocalGroup`], a group of one that applies at once; a Raft group will
//! implement the same trait, proposing the effects and applying them once committed, so
//! nothing above this module changes when it arrives.

pub(crate) mod apply;
pub(crate) mod effects;
mod local;
pub(crate) mod raft;

pub(crate) use effects::{LocalWrite, TxnEffects, Write};
pub(crate) use local::LocalGroup;

use crate::store::StoreError;

/// What the store needs from the group that owns the replicated state. Only what a group of
/// one needs today: roles, leader hints, barriers and membership come with Raft.
pub(crate) trait Group: Send + Sync {
    /// Takes the effects of a transaction being committed, with the node-local rows written
    /// with it. Called under the store's write lock: once it returns, the next transaction
    /// reads the effects. Durability is separate: see [`wait`](Group::wait).
    /// `generation` is the group's generation when the transaction began: effects evaluated
    /// in another leader run are refused.
    fn enqueue(
        &self,
        generation: u64,
        effects: TxnEffects,
        local: Vec<LocalWrite>,
    ) -> Result<Ticket, StoreError>;

    /// Waits until the batch of `ticket`, and every batch enqueued before it, is durable.
    /// Called after the write lock is released, so that transactions committing at the same
    /// time share the wait (group commit).
    fn wait(&self, ticket: Ticket) -> Result<(), StoreError>;

    /// Applies an id-block reservation (one write of a counter in `meta`) and waits until it
    /// is durable: no id of the block may be handed out before that. Called with or without
    /// the write lock held (ids are taken inside transactions), so it must not take it.
    fn reserve(&self, effects: TxnEffects) -> Result<(), StoreError>;

    /// Whether enqueued effects are applied later (once replicated): the store then keeps
    /// them in its pending overlay, which transactions read over the applied state, until
    /// their batch is settled.
    fn defers(&self) -> bool {
        false
    }

    /// The lowest batch number whose outcome is not known yet: the pending rows of every
    /// lower batch are applied (or void) and may be dropped from the overlay.
    fn unsettled_from(&self) -> u64 {
        u64::MAX
    }

    /// Changes whenever a leader run begins or ends: pending rows and answers of another run
    /// are void (the store drops its overlay; a transaction begun in another run cannot
    /// commit).
    fn generation(&self) -> u64 {
        0
    }
}

/// A batch handed to a [`Group`], to wait for with [`Group::wait`].
#[must_use = "a commit is acknowledged only after waiting for its ticket"]
#[derive(Debug)]
pub(crate) struct Ticket {
    /// The batch's sequence number.
    seq: u64,
    /// Where a deferring group tells the batch's outcome.
    slot: Option<std::sync::Arc<raft::SlotHandle>>,
}

impl Ticket {
    /// The batch's number.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

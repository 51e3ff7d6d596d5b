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

pub(crate) use effects::{LocalWrite, TxnEffects, Write};
pub(crate) use local::LocalGroup;

use crate::store::StoreError;

/// What the store needs from the group that owns the replicated state. Only what a group of
/// one needs today: roles, leader hints, barriers and membership come with Raft.
pub(crate) trait Group: Send + Sync {
    /// Takes the effects of a transaction being committed, with the node-local rows written
    /// with it. Called under the store's write lock: once it returns, the next transaction
    /// reads the effects. Durability is separate: see [`wait`](Group::wait).
    fn enqueue(&self, effects: TxnEffects, local: Vec<LocalWrite>) -> Result<Ticket, StoreError>;

    /// Waits until the batch of `ticket`, and every batch enqueued before it, is durable.
    /// Called after the write lock is released, so that transactions committing at the same
    /// time share the wait (group commit).
    fn wait(&self, ticket: Ticket) -> Result<(), StoreError>;

    /// Applies an id-block reservation (one write of a counter in `meta`) and waits until it
    /// is durable: no id of the block may be handed out before that. Called with or without
    /// the write lock held (ids are taken inside transactions), so it must not take it.
    fn reserve(&self, effects: TxnEffects) -> Result<(), StoreError>;
}

/// A batch handed to a [`Group`], to wait for with [`Group::wait`].
#[must_use = "a commit is acknowledged only after waiting for its ticket"]
#[derive(Debug)]
pub(crate) struct Ticket {
    /// The batch's sequence number.
    seq: u64,
}

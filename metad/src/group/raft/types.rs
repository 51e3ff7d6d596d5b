//! What the Raft log carries and what its state machine answers (REPLICATION.md §2, §7).

use crate::group::TxnEffects;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The version of [`Proposal`] this build writes and reads. A member that meets another
/// version in its log stops rather than apply effects it may misread.
pub const PROPOSAL_VERSION: u16 = 1;

openraft::declare_raft_types!(
    /// The Raft types of the metad group.
    pub TypeConfig:
        D = Proposal,
        R = Applied,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = SnapshotDir,
        Responder = openraft::impls::OneshotResponder<TypeConfig>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// One leader's uninterrupted run of proposals: a term, the leader, and a counter that grows
/// when the leader starts over inside its term (after a proposal of unknown fate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Epoch {
    /// The Raft term the leader was elected in.
    pub term: u64,
    /// The leader's member id.
    pub leader: u64,
    /// Restarts of this leader inside the term.
    pub restart: u32,
}

/// A batch of transactions evaluated by the leader, as one log entry.
///
/// The fence (`apply`) lets a proposal apply only on the exact state it was evaluated on: the
/// next one of its epoch (`prev` is the sequence number of the epoch's previous proposal), or
/// the first of an epoch (`prev` is `None`) when the last applied data entry is `base`. A
/// proposal evaluated over effects that never committed can therefore never apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// [`PROPOSAL_VERSION`].
    pub version: u16,
    /// The leader run that evaluated it.
    pub epoch: Epoch,
    /// The leader's batch number (grows across its epochs, never reused in one process).
    pub seq: u64,
    /// The batch number of the previous proposal of the same epoch.
    pub prev: Option<u64>,
    /// For the first proposal of an epoch: the log index of the last entry that changed the
    /// state when the epoch began (0 when none).
    pub base: u64,
    /// The leader's clock when it proposed, in Unix milliseconds.
    pub stamp_ms: u64,
    /// The effects of each transaction, applied in order.
    pub txns: Vec<TxnEffects>,
}

impl std::fmt::Display for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proposal {} of term {} leader {} ({} txns)",
            self.seq,
            self.epoch.term,
            self.epoch.leader,
            self.txns.len()
        )
    }
}

/// What applying an entry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Whether the entry's effects were written (false: refused by the fence, a no-op).
    pub accepted: bool,
}

/// A snapshot: a RocksDB checkpoint of the state database in a folder of its own.
#[derive(Debug)]
pub struct SnapshotDir {
    /// The checkpoint's folder.
    pub path: PathBuf,
}

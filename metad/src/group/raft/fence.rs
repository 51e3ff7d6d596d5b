//! The proposal fence: an entry's effects apply only on the exact state they were evaluated
//! on (REPLICATION.md §2).
//!
//! A leader evaluates transactions over the applied state plus its own proposals still in
//! flight. If one of those never commits (the leader lost its term, or started over after a
//! proposal of unknown fate), every later proposal it evaluated on top of it is wrong. Raft
//! alone does not stop them from committing (a leader re-elected in a later term appends
//! after the hole), so each proposal names what it was evaluated after, and apply refuses it
//! when that is not what the state holds. A refused entry is a no-op whose waiters are told
//! "not done": always safe to retry.

use super::types::{Epoch, Proposal};
use bincode::Options;
use serde::{Deserialize, Serialize};

/// What the state holds, as far as the fence is concerned. Kept in the state database and
/// written in the batch of every entry that changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The epoch of the last accepted proposal.
    pub epoch: Option<Epoch>,
    /// Its batch number.
    pub seq: u64,
    /// The log index of the last accepted proposal (0 before the first).
    pub last_data: u64,
    /// The newest stamp of the accepted proposals, Unix milliseconds (see `clock`); 0 in a
    /// fence written before metad recorded it.
    pub stamp_ms: u64,
}

/// The fence as written before it recorded the stamp.
#[derive(Deserialize)]
struct FenceWithoutStamp {
    epoch: Option<Epoch>,
    seq: u64,
    last_data: u64,
}

impl Fence {
    /// Whether `p` was evaluated on exactly this state: the successor of the last accepted
    /// proposal in the same epoch, or the first proposal of an epoch that began after the last
    /// accepted one.
    pub fn admits(&self, p: &Proposal) -> bool {
        match p.prev {
            Some(prev) => self.epoch == Some(p.epoch) && self.seq == prev,
            None => p.base == self.last_data,
        }
    }

    /// Records that `p`, at log index `index`, was accepted.
    pub fn advance(&mut self, p: &Proposal, index: u64) {
        *self = Fence {
            epoch: Some(p.epoch),
            seq: p.seq,
            last_data: index,
            stamp_ms: self.stamp_ms.max(p.stamp_ms),
        };
    }

    /// The fence from its stored bytes, in the current shape or the one before the stamp.
    pub fn decode(bytes: &[u8]) -> Result<Fence, bincode::Error> {
        // The state machine's codec (bincode's defaults: trailing bytes are an error).
        let codec = bincode::DefaultOptions::new();
        codec.deserialize::<Fence>(bytes).or_else(|current| {
            match codec.deserialize::<FenceWithoutStamp>(bytes) {
                Ok(old) => Ok(Fence {
                    epoch: old.epoch,
                    seq: old.seq,
                    last_data: old.last_data,
                    stamp_ms: 0,
                }),
                Err(_) => Err(current),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::raft::types::PROPOSAL_VERSION;

    fn epoch(term: u64, restart: u32) -> Epoch {
        Epoch {
            term,
            leader: 1,
            restart,
        }
    }

    fn proposal(epoch: Epoch, seq: u64, prev: Option<u64>, base: u64) -> Proposal {
        Proposal {
            version: PROPOSAL_VERSION,
            epoch,
            seq,
            prev,
            base,
            stamp_ms: 0,
            txns: Vec::new(),
        }
    }

    /// Applies `p` at `index` if the fence admits it; returns whether it did.
    fn apply(fence: &mut Fence, p: &Proposal, index: u64) -> bool {
        let admitted = fence.admits(p);
        if admitted {
            fence.advance(p, index);
        }
        admitted
    }

    #[test]
    fn a_chain_of_one_epoch_applies_in_order() {
        let mut fence = Fence::default();
        let e = epoch(2, 0);
        assert!(apply(&mut fence, &proposal(e, 7, None, 0), 3));
        assert!(apply(&mut fence, &proposal(e, 8, Some(7), 0), 4));
        assert!(apply(&mut fence, &proposal(e, 9, Some(8), 0), 6));
        assert_eq!(fence.last_data, 6);
    }

    #[test]
    fn a_proposal_after_one_that_never_committed_is_refused() {
        let mut fence = Fence::default();
        let e = epoch(2, 0);
        assert!(apply(&mut fence, &proposal(e, 1, None, 0), 3));
        // Proposal 2 was lost (the leader was deposed); 3 was evaluated on top of it.
        assert!(!apply(&mut fence, &proposal(e, 3, Some(2), 0), 5));
        assert_eq!(fence.seq, 1, "a refusal changes nothing");
    }

    #[test]
    fn an_orphan_of_an_old_epoch_breaks_the_new_epoch_s_base() {
        let mut fence = Fence::default();
        let old = epoch(2, 0);
        assert!(apply(&mut fence, &proposal(old, 1, None, 0), 3));
        // The leader of term 3 began when index 3 was the last data entry.
        let new = epoch(3, 0);
        let first_new = proposal(new, 10, None, 3);
        // An entry of the old leader that was in the log commits first: it applies (it was
        // evaluated on index 3's state) and the new leader's first proposal no longer fits.
        assert!(apply(&mut fence, &proposal(old, 2, Some(1), 0), 4));
        assert!(!apply(&mut fence, &first_new, 5));
        // The new leader starts over from what is now applied.
        let restarted = epoch(3, 1);
        assert!(apply(&mut fence, &proposal(restarted, 11, None, 4), 6));
        assert!(apply(&mut fence, &proposal(restarted, 12, Some(11), 0), 7));
    }

    #[test]
    fn the_same_batch_numbers_of_another_epoch_do_not_chain() {
        let mut fence = Fence::default();
        assert!(apply(&mut fence, &proposal(epoch(2, 0), 1, None, 0), 3));
        assert!(!apply(&mut fence, &proposal(epoch(2, 1), 2, Some(1), 0), 4));
        assert!(!apply(&mut fence, &proposal(epoch(4, 0), 2, Some(1), 0), 4));
    }
}

#[cfg(test)]
mod stamp_tests {
    use super::*;
    use crate::group::raft::types::PROPOSAL_VERSION;

    #[test]
    fn the_fence_keeps_the_newest_stamp_and_reads_fences_written_before_it() {
        let epoch = Epoch {
            term: 2,
            leader: 1,
            restart: 0,
        };
        let proposal = |seq, stamp_ms| Proposal {
            version: PROPOSAL_VERSION,
            epoch,
            seq,
            prev: (seq > 1).then_some(seq - 1),
            base: 0,
            stamp_ms,
            txns: Vec::new(),
        };
        let mut fence = Fence::default();
        fence.advance(&proposal(1, 500), 1);
        // A later leader whose clock is behind does not move the stamp back.
        fence.advance(&proposal(2, 300), 2);
        assert_eq!(fence.stamp_ms, 500);
        let bytes = bincode::DefaultOptions::new().serialize(&fence).unwrap();
        assert_eq!(Fence::decode(&bytes).unwrap(), fence);
        #[derive(Serialize)]
        struct Old {
            epoch: Option<Epoch>,
            seq: u64,
            last_data: u64,
        }
        let old = Old {
            epoch: Some(epoch),
            seq: 7,
            last_data: 9,
        };
        let bytes = bincode::DefaultOptions::new().serialize(&old).unwrap();
        let read = Fence::decode(&bytes).unwrap();
        assert_eq!((read.seq, read.last_data, read.stamp_ms), (7, 9, 0));
        assert!(Fence::decode(&[1, 2]).is_err());
    }
}

//! The leader's side of writing: transactions committed under the store's write lock join the
//! open batch; one task proposes batches as log entries, a few in flight at a time, in order;
//! each batch's waiters learn its outcome when its entry is applied (or when it fails).
//!
//! openraft 0.9 appends (and fsyncs) one client write after another, so one entry per
//! transaction would be one fsync per transaction: batching here is what gives many
//! concurrent commits one fsync, as the group commit of a single database did.

use super::types::{Epoch, Proposal, PROPOSAL_VERSION};
use super::Shared;
use crate::group::{LocalWrite, TxnEffects};
use openraft::error::ClientWriteError;
use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Batches proposed and not yet applied, at most.
const WINDOW: usize = 4;
/// A batch closes at this many transactions ...
const MAX_BATCH_TXNS: usize = 1024;
/// ... or this many bytes of effects (a log entry stays well under the network's limits).
const MAX_BATCH_BYTES: usize = 8 << 20;
/// A proposal not applied by then has an unknown fate: its waiters are told so, and the
/// leader starts over.
pub const PROPOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a batch did not apply.
#[derive(Clone, Debug)]
pub enum Failure {
    /// Certainly not applied: this member is not (or no longer) the leader, or the entry was
    /// refused by the fence. Safe to retry anywhere.
    NotLeader(Option<String>),
    /// Maybe applied: the entry's fate is unknown (no quorum answered in time).
    Unknown(String),
}

/// Where the waiters of one batch learn its outcome.
#[derive(Debug, Default)]
pub struct Slot {
    outcome: Mutex<Option<Result<(), Failure>>>,
    done: Condvar,
}

impl Slot {
    /// Records the batch's outcome (the first one wins) and wakes its waiters.
    pub fn resolve(&self, outcome: Result<(), Failure>) {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(outcome);
        }
        self.done.notify_all();
    }

    /// Waits for the outcome (blocking; callers are on blocking threads).
    pub fn wait(&self) -> Result<(), Failure> {
        // Every batch resolves within PROPOSE_TIMEOUT of its proposal; the margin covers the
        // wait for a slot in the window.
        let deadline = PROPOSE_TIMEOUT * 3;
        let slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, _) = self
            .done
            .wait_timeout_while(slot, deadline, |o| o.is_none())
            .unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(outcome) => outcome.clone(),
            None => Err(Failure::Unknown(format!(
                "the write was not applied within {} s",
                deadline.as_secs()
            ))),
        }
    }
}

/// The batch transactions are joining.
pub struct OpenBatch {
    pub seq: u64,
    pub txns: Vec<TxnEffects>,
    pub locals: Vec<LocalWrite>,
    pub bytes: usize,
    pub slot: Arc<Slot>,
}

impl OpenBatch {
    fn is_full(&self) -> bool {
        self.txns.len() >= MAX_BATCH_TXNS || self.bytes >= MAX_BATCH_BYTES
    }
}

/// What this member is doing as far as writes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Another member leads (when known), or there is no leader.
    Follower { leader: Option<u64> },
    /// This member leads but has not begun its run yet (catching up, reloading).
    Starting,
    /// This member leads and accepts writes.
    Leading {
        epoch: Epoch,
        prev: Option<u64>,
        base: u64,
    },
}

/// The proposer's state, under one mutex.
pub struct State {
    pub role: Role,
    /// Changes whenever a leader run begins or ends: an answer computed in one run is void
    /// in another.
    pub generation: u64,
    /// The next batch number.
    pub next_seq: u64,
    pub open: Option<OpenBatch>,
    /// Batches proposed whose outcome is not known yet.
    pub in_flight: BTreeSet<u64>,
    /// Restarts of the current run inside its term, and that term.
    pub restarts: (u64, u32),
    /// Since when this member has known no leader (none elected, or this one not heard).
    pub leaderless_since: Option<std::time::Instant>,
}

impl State {
    pub fn new() -> State {
        State {
            role: Role::Follower { leader: None },
            generation: 0,
            next_seq: 1,
            open: None,
            in_flight: BTreeSet::new(),
            restarts: (0, 0),
            leaderless_since: None,
        }
    }

    /// The lowest batch number whose outcome is not known (every lower one is settled).
    pub fn unsettled_from(&self) -> u64 {
        let open = self.open.as_ref().map(|b| b.seq);
        let flying = self.in_flight.first().copied();
        [open, flying]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_seq)
    }

    /// Adds a transaction to the open batch, opening one if needed; returns the batch's
    /// number and slot.
    pub fn join(&mut self, effects: TxnEffects, locals: Vec<LocalWrite>) -> (u64, Arc<Slot>) {
        let bytes: usize = effects
            .writes
            .iter()
            .map(|w| w.key.len() + w.value.as_ref().map_or(0, Vec::len) + 8)
            .sum();
        let batch = match &mut self.open {
            Some(batch) => batch,
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.open.insert(OpenBatch {
                    seq,
                    txns: Vec::new(),
                    locals: Vec::new(),
                    bytes: 0,
                    slot: Arc::new(Slot::default()),
                })
            }
        };
        batch.txns.push(effects);
        batch.locals.extend(locals);
        batch.bytes += bytes;
        (batch.seq, batch.slot.clone())
    }

    /// Whether the open batch is over its caps (the next transaction waits for a proposal).
    pub fn open_is_full(&self) -> bool {
        self.open.as_ref().is_some_and(OpenBatch::is_full)
    }

    /// Fails the open batch (the run it belonged to ended before it was proposed).
    pub fn fail_open(&mut self, leader: Option<String>) {
        if let Some(batch) = self.open.take() {
            batch.slot.resolve(Err(Failure::NotLeader(leader)));
        }
    }

    /// Ends the current leader run (if any): answers computed in it are void.
    pub fn end_run(&mut self, role: Role, leader: Option<String>) {
        self.fail_open(leader);
        self.role = role;
        self.generation += 1;
    }
}

/// The proposer task: turns open batches into log entries while this member leads.
pub async fn run(shared: Arc<Shared>) {
    while !shared.is_stopping() {
        match take_batch(&shared) {
            Some((proposal, slot)) => propose(&shared, proposal, slot).await,
            None => shared.wake.notified().await,
        }
    }
}

/// Takes the open batch as a proposal, when this member leads and the window has room.
fn take_batch(shared: &Shared) -> Option<(Proposal, Arc<Slot>)> {
    let mut state = shared.lock_state();
    let Role::Leading { epoch, prev, base } = state.role else {
        return None;
    };
    if state.in_flight.len() >= WINDOW || state.open.is_none() {
        return None;
    }
    let batch = state.open.take()?;
    state.in_flight.insert(batch.seq);
    state.role = Role::Leading {
        epoch,
        prev: Some(batch.seq),
        base,
    };
    shared.changed.notify_all();
    drop(state);
    if !batch.locals.is_empty() {
        shared
            .locals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((epoch, batch.seq), batch.locals);
    }
    let proposal = Proposal {
        version: PROPOSAL_VERSION,
        epoch,
        seq: batch.seq,
        prev,
        base: if prev.is_none() { base } else { 0 },
        stamp_ms: crate::clock::now_ms(),
        txns: batch.txns,
    };
    Some((proposal, batch.slot))
}

/// Hands one proposal to Raft (in order: this task is the only proposer) and waits for its
/// outcome in a task of its own, so the next batch can be proposed meanwhile.
async fn propose(shared: &Arc<Shared>, proposal: Proposal, slot: Arc<Slot>) {
    let (epoch, seq) = (proposal.epoch, proposal.seq);
    let raft = shared.raft();
    let receiver = match raft.client_write_ff(proposal).await {
        Ok(receiver) => receiver,
        Err(fatal) => {
            let failure = Failure::NotLeader(None);
            tracing::error!(error = %fatal, "raft stopped; the write fails");
            shared.settle(epoch, seq, &slot, Err(failure));
            return;
        }
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        let waited = tokio::select! {
            waited = tokio::time::timeout(PROPOSE_TIMEOUT, receiver) => waited,
            lost = majority_lost(&shared) => {
                let failure = Failure::Unknown(lost.message);
                shared.settle(epoch, seq, &slot, Err(failure));
                return;
            }
        };
        let outcome = match waited {
            Ok(Ok(Ok(response))) if response.data.accepted => Ok(()),
            Ok(Ok(Ok(_))) => Err(Failure::NotLeader(None)),
            Ok(Ok(Err(ClientWriteError::ForwardToLeader(f)))) => {
                Err(Failure::NotLeader(f.leader_node.map(|n| n.addr)))
            }
            Ok(Ok(Err(e))) => Err(Failure::Unknown(e.to_string())),
            Ok(Err(_)) => Err(Failure::Unknown("raft dropped the write".into())),
            Err(_) => Err(Failure::Unknown(format!(
                "no majority of the metad group applied the write within {} s",
                PROPOSE_TIMEOUT.as_secs()
            ))),
        };
        shared.settle(epoch, seq, &slot, outcome);
    });
}

/// Completes once this leader has heard from no majority for an election timeout, with the
/// answer that says so: a batch in flight then fails at once rather than at
/// [`PROPOSE_TIMEOUT`] (its fate is unknown either way: a majority back before this member
/// steps down may still commit it), and the writes after it are refused by the leader check.
async fn majority_lost(shared: &Shared) -> dfs_common::RpcError {
    loop {
        if let Some(answer) = super::leadership::lost_majority(shared) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Shared {
    /// Records the outcome of batch `seq` of `epoch`. A failure ends the leader run: later
    /// batches were evaluated on top of this one, so the leader starts over from what is
    /// applied (the fence refuses whatever of them reaches the log).
    fn settle(&self, epoch: Epoch, seq: u64, slot: &Slot, outcome: Result<(), Failure>) {
        self.locals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(epoch, seq));
        let failed = outcome.is_err();
        if let Err(failure) = &outcome {
            tracing::warn!(
                seq,
                term = epoch.term,
                ?failure,
                "a batch of writes did not apply"
            );
        }
        slot.resolve(outcome);
        let mut state = self.lock_state();
        state.in_flight.remove(&seq);
        if failed {
            if let Role::Leading { epoch: current, .. } = state.role {
                if current == epoch {
                    state.end_run(Role::Starting, None);
                }
            }
        }
        self.changed.notify_all();
        drop(state);
        self.wake.notify_one();
        if failed {
            self.restart.notify_one();
        }
    }
}

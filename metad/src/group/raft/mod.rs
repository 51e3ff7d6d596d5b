//! The metad group on openraft (REPLICATION.md). Only this module imports openraft: an
//! upgrade of it touches nothing else.
//!
//! The leader evaluates transactions as before (under the store's write lock, over the
//! applied state plus its own effects still in flight, the store's pending overlay) and
//! proposes their effects in batches ([`proposer`]); every member applies committed entries
//! ([`state_machine`]), fenced so that an entry applies only on the state it was evaluated
//! on ([`fence`]). Answers wait until what they read is applied ([`RaftGroup::settle`]).

mod fence;
mod leadership;
mod log_store;
mod membership;
pub(crate) mod network;
mod proposer;
mod read_gate;
mod rejoin;
pub(crate) mod snapshot;
mod state_machine;
pub(crate) mod types;

use super::{Group, LocalWrite, Ticket, TxnEffects};
use crate::store::StoreError;
use dfs_common::RpcError;
use openraft::{BasicNode, Raft};
use proposer::{Failure, Role, State};
use rocksdb::DB;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use types::TypeConfig;

pub(crate) use leadership::OnLead;
pub(crate) use proposer::Slot as SlotHandle;

/// The members of the group: id → `host:port`.
pub type Members = BTreeMap<u64, String>;

/// The group's timings: `[raft]` in metad's configuration file.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftSettings {
    /// How often the leader heartbeats its followers, in milliseconds.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time between these two (milliseconds)
    /// calls an election. Keep them above the disk's worst fsync stall.
    pub election_min_ms: u64,
    /// See `election_min_ms`.
    pub election_max_ms: u64,
    /// A snapshot of the state is built every this many log entries ...
    pub snapshot_every: u64,
    /// ... and the log is purged behind it but for this many entries: a member further
    /// behind catches up by receiving the snapshot.
    pub keep_log: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        // Elections slower than the worst fsync stall of a busy disk: openraft 0.9 cannot
        // answer a heartbeat while it waits for its own log append. A follower calls an
        // election only after the leader's lease (election_max_ms) plus its own timeout, so
        // a dead leader is replaced in about 3 to 5 s with these.
        RaftSettings {
            heartbeat_ms: 200,
            election_min_ms: 750,
            election_max_ms: 1500,
            snapshot_every: 20_000,
            keep_log: 10_000,
        }
    }
}

/// State shared by the group's tasks and the store's threads.
pub(crate) struct Shared {
    id: u64,
    /// A leader that heard from no quorum for this long refuses at once (milliseconds).
    quorum_silence_ms: u64,
    members: Members,
    raft: OnceLock<Raft<TypeConfig>>,
    runtime: tokio::runtime::Handle,
    state: Mutex<State>,
    /// Signalled whenever `state` changes (blocking waiters).
    changed: Condvar,
    /// Wakes the proposer.
    wake: tokio::sync::Notify,
    /// Wakes the leadership task to start a new run after a failure.
    restart: tokio::sync::Notify,
    locals: state_machine::LocalRows,
    db: Arc<DB>,
    /// The log database (held to see when openraft let go of it at shutdown).
    log_db: Arc<DB>,
    /// Handles on the state database that are not openraft's (see `shutdown`).
    db_holders: usize,
    /// Leadership rounds shared by concurrent answers.
    read_gate: read_gate::ReadGate,
    /// When each peer last answered this member's raft RPCs.
    answers: Arc<network::LastAnswers>,
    /// Whether this member votes (a member that started empty among peers waits).
    rejoin: rejoin::RejoinGuard,
    /// `<data>/group`: the log, snapshots built and received.
    dir: std::path::PathBuf,
    /// Set at shutdown: the tasks end, releasing the databases.
    stopping: std::sync::atomic::AtomicBool,
    /// Set when the group formed around a state that no log entry made (a restored backup,
    /// or the data folder of an earlier release): see [`RaftGroup::adopted_a_state`].
    adopted: std::sync::atomic::AtomicBool,
    /// Why Raft stopped, once it has (a log or state write failed): from then on the member
    /// acknowledges nothing and reports not ready, until it is restarted.
    failed: OnceLock<String>,
}

impl Shared {
    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Acquire)
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn raft(&self) -> &Raft<TypeConfig> {
        self.raft
            .get()
            .expect("the raft handle is set before any task or request uses it")
    }

    /// A member's address: from the membership in force (members added since start), else
    /// from the configured peers.
    fn address(&self, id: Option<u64>) -> Option<String> {
        let id = id?;
        let metrics = self.raft().metrics();
        let from_membership = metrics
            .borrow()
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone());
        from_membership.or_else(|| self.members.get(&id).cloned())
    }

    /// Stops this member for good after Raft stopped on a storage failure (fail-stop): a
    /// write whose fsync failed may or may not be on disk, and the database may hold less
    /// than was acknowledged to Raft, so nothing more is acknowledged until a restart recovers
    /// from what is durable. Idempotent.
    fn fail_stop(&self, cause: &str) {
        let why = format!(
            "metad {} stopped after a storage failure ({cause}); it acknowledges nothing until it is restarted once its disk is sound",
            self.id
        );
        if self.failed.set(why.clone()).is_ok() {
            tracing::error!("{why}");
            let mut state = self.lock_state();
            state.end_run(Role::Follower { leader: None }, None);
            self.changed.notify_all();
        }
    }

    fn not_leader(&self, leader: Option<u64>) -> RpcError {
        // A member that is not leading never names itself (a leader that removed itself
        // from the group still believes in its own term).
        let hint = self.address(leader.filter(|id| *id != self.id));
        let message = match &hint {
            Some(addr) => format!("metad {} is not the leader; the leader is {addr}", self.id),
            None => format!(
                "metad {} is not the leader and knows no leader (an election is under way, or a majority of the metad group is unreachable)",
                self.id
            ),
        };
        RpcError::not_leader(hint, message)
    }
}

/// The Raft group, as the store's [`Group`] and as the server sees it.
pub(crate) struct RaftGroup {
    shared: Arc<Shared>,
}

fn failure_error(failure: Failure) -> StoreError {
    StoreError::Group(match failure {
        Failure::NotLeader(hint) => RpcError::not_leader(
            hint,
            "the write was not done: this metad lost the leadership; retry",
        ),
        Failure::Unknown(reason) => RpcError::detailed(
            dfs_common::ErrorDetail::NoAnswer,
            format!("the write may or may not have been done: {reason}"),
        ),
    })
}

impl Group for RaftGroup {
    fn enqueue(
        &self,
        generation: u64,
        effects: TxnEffects,
        local: Vec<LocalWrite>,
    ) -> Result<Ticket, StoreError> {
        let shared = &self.shared;
        let mut state = shared.lock_state();
        // Back pressure: a full batch waits for the proposer (the caller holds the write
        // lock, so the writers behind it wait too).
        while state.open_is_full() && matches!(state.role, Role::Leading { .. }) {
            shared.wake.notify_one();
            let (next, _) = shared
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner());
            state = next;
        }
        match state.role {
            Role::Leading { .. } if state.generation == generation => {}
            Role::Leading { .. } | Role::Starting => {
                return Err(StoreError::Group(shared.not_leader(None)))
            }
            Role::Follower { leader } => return Err(StoreError::Group(shared.not_leader(leader))),
        }
        let (seq, slot) = state.join(effects, local);
        drop(state);
        shared.wake.notify_one();
        Ok(Ticket {
            seq,
            slot: Some(slot),
        })
    }

    fn wait(&self, ticket: Ticket) -> Result<(), StoreError> {
        match ticket.slot {
            Some(slot) => slot.wait().map_err(failure_error),
            None => Err(StoreError::Corrupt("a ticket of another group".into())),
        }
    }

    fn reserve(&self, effects: TxnEffects) -> Result<(), StoreError> {
        // A reservation reads nothing pending: any run may take it.
        let generation = self.generation();
        let ticket = self.enqueue(generation, effects, Vec::new())?;
        self.wait(ticket)
    }

    fn defers(&self) -> bool {
        true
    }

    fn unsettled_from(&self) -> u64 {
        self.shared.lock_state().unsettled_from()
    }

    fn generation(&self) -> u64 {
        self.shared.lock_state().generation
    }
}

impl RaftGroup {
    /// Opens the log in `dir/log`, starts Raft with the state database `db`, and the tasks
    /// that propose and follow the leadership. A group of one initializes itself; a group of
    /// several forms as [`leadership::form`] says.
    pub async fn start(
        id: u64,
        members: Members,
        timings: RaftSettings,
        dir: &Path,
        db: Arc<DB>,
        client: dfs_common::http::InternalClient,
        on_lead: OnLead,
    ) -> Result<RaftGroup, String> {
        let log_dir = dir.join("log");
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let (state, group_dir) = (db.clone(), dir.to_owned());
        tokio::task::spawn_blocking(move || {
            snapshot::finish_interrupted_install(&state, &group_dir)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let log = tokio::task::spawn_blocking(move || log_store::LogStore::open(&log_dir))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot open the raft log: {e}"))?;
        let pristine = log.is_pristine().map_err(|e| e.to_string())?;
        let rejoin = rejoin::RejoinGuard::on_start(dir, pristine, members.len() > 1)
            .map_err(|e| format!("cannot write the rejoin marker in {}: {e}", dir.display()))?;
        // Handles on the state database before openraft takes its own (this one included).
        let db_holders = Arc::strong_count(&db);
        let locals = Arc::new(Mutex::new(HashMap::new()));
        let machine = state_machine::StateMachine::new(db.clone(), locals.clone(), dir.to_owned());
        let shared = Arc::new(Shared {
            id,
            quorum_silence_ms: timings.election_max_ms,
            members: members.clone(),
            raft: OnceLock::new(),
            runtime: tokio::runtime::Handle::current(),
            state: Mutex::new(State::new()),
            changed: Condvar::new(),
            wake: tokio::sync::Notify::new(),
            restart: tokio::sync::Notify::new(),
            locals,
            db,
            log_db: log.database(),
            db_holders,
            dir: dir.to_owned(),
            read_gate: read_gate::ReadGate::default(),
            answers: Arc::default(),
            rejoin,
            stopping: std::sync::atomic::AtomicBool::new(false),
            failed: OnceLock::new(),
            adopted: std::sync::atomic::AtomicBool::new(false),
        });
        let config = openraft::Config {
            cluster_name: "dfs-metad".into(),
            heartbeat_interval: timings.heartbeat_ms,
            election_timeout_min: timings.election_min_ms,
            election_timeout_max: timings.election_max_ms,
            max_payload_entries: 64,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(timings.snapshot_every),
            max_in_snapshot_log_to_keep: timings.keep_log,
            enable_elect: shared.rejoin.is_open(),
            ..Default::default()
        }
        .validate()
        .map_err(|e| format!("invalid raft settings: {e}"))?;
        let network = network::Network::new(client.clone(), shared.answers.clone());
        let raft = Raft::new(id, Arc::new(config), network, log, machine)
            .await
            .map_err(|e| format!("cannot start raft: {e}"))?;
        let _ = shared.raft.set(raft);
        let proposer = tokio::spawn(proposer::run(shared.clone()));
        let leadership = tokio::spawn(leadership::run(shared.clone(), on_lead));
        if !shared.rejoin.is_open() {
            tokio::spawn(rejoin::watch(shared.clone(), client.clone()));
        }
        let group = RaftGroup { shared };
        if let Err(e) = leadership::form(&group.shared, pristine, &client).await {
            // Release the databases before answering: the caller may start again at once.
            group.shutdown().await;
            let _ = proposer.await;
            let _ = leadership.await;
            return Err(e);
        }
        Ok(group)
    }

    /// Another handle on the same group (for blocking work on another thread).
    pub fn clone_handle(&self) -> RaftGroup {
        RaftGroup {
            shared: self.shared.clone(),
        }
    }

    /// The openraft handle, for the RPCs between members.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        self.shared.raft()
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Whether this member leads and accepts writes; otherwise the error to answer with. A
    /// leader cut off from the majority says so at once rather than let writes wait for a
    /// quorum that does not answer.
    pub fn check_leader(&self) -> Result<u64, RpcError> {
        if let Some(why) = self.shared.failed.get() {
            // Another member may lead: clients try it.
            return Err(RpcError::not_leader(None, why.clone()));
        }
        let generation = {
            let state = self.shared.lock_state();
            match state.role {
                Role::Leading { .. } => state.generation,
                role => {
                    let since = state.leaderless_since;
                    drop(state);
                    return Err(leadership::not_leading(&self.shared, role, since));
                }
            }
        };
        match leadership::lost_majority(&self.shared) {
            Some(err) => Err(err),
            None => Ok(generation),
        }
    }

    /// Waits until an answer computed in leader run `generation` may be given: every batch
    /// up to `upto` (the newest one whose effects the answer could have read) is settled,
    /// this member still leads in the same run, and, with other voters, a quorum still
    /// follows it (so no other leader acknowledged anything the answer does not show).
    /// `confirmed`: a batch of this run that the answer rests on was accepted by a quorum
    /// after everything the answer read, which proves the last point without another round
    /// (an entry of this term committed at index i means every later leader's entries come
    /// after i, so they were acknowledged after this operation began).
    /// Blocking: called on the RPC's blocking thread.
    pub fn settle(&self, generation: u64, upto: u64, confirmed: bool) -> Result<(), RpcError> {
        let shared = &self.shared;
        let state = shared.lock_state();
        let (state, _) = shared
            .changed
            .wait_timeout_while(state, proposer::PROPOSE_TIMEOUT * 3, |s| {
                s.generation == generation && s.unsettled_from() <= upto
            })
            .unwrap_or_else(|p| p.into_inner());
        let voters = self.voters();
        let unchanged = state.generation == generation && state.unsettled_from() > upto;
        drop(state);
        if !unchanged {
            return Err(shared.not_leader(None));
        }
        if voters > 1 && !confirmed {
            shared.read_gate.confirm(&shared.runtime, || async {
                match shared.raft().ensure_linearizable().await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(leadership::read_error(shared, e)),
                }
            })?;
            if shared.lock_state().generation != generation {
                return Err(shared.not_leader(None));
            }
        }
        Ok(())
    }

    /// The count of leadership confirmation rounds run before answering (reads, and
    /// writes that committed nothing), shared with the metrics registry.
    pub fn leadership_rounds(&self) -> dfs_common::metrics::Counter {
        self.shared.read_gate.rounds()
    }

    /// Whether this start formed the group around a state no log entry made (a restored
    /// backup, or an earlier release's folder): the caller then moves the id counters past
    /// anything the original may have handed out after the backup.
    pub fn adopted_a_state(&self) -> bool {
        self.shared
            .adopted
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// `Err` with the reason once this member has stopped on a storage failure: its
    /// readiness probe then fails, so load balancers and operators see it.
    pub fn health(&self) -> Result<(), String> {
        match self.shared.failed.get() {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// How many voters the group has now.
    pub fn voters(&self) -> usize {
        leadership::voter_count(&self.shared)
    }

    /// The members' state as `dfs status` shows it.
    pub fn status(&self) -> Vec<dfs_common::wire::MetadMember> {
        leadership::status(&self.shared)
    }

    /// Waits up to `timeout` for this member to lead (a group of one at start).
    pub async fn wait_leading(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.check_leader().is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Stops Raft and the group's tasks (at shutdown).
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared
            .stopping
            .store(true, std::sync::atomic::Ordering::Release);
        shared
            .lock_state()
            .end_run(Role::Follower { leader: None }, None);
        shared.changed.notify_all();
        shared.wake.notify_one();
        shared.restart.notify_one();
        if let Err(e) = self.shared.raft().shutdown().await {
            tracing::warn!("stopping raft: {e}");
        }
        // openraft's storage tasks end a moment after its core: wait until they let go of
        // both databases, so that a metad started again at once can open them.
        for _ in 0..500 {
            if Arc::strong_count(&shared.log_db) == 1
                && Arc::strong_count(&shared.db) <= shared.db_holders
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The openraft node of a member at `addr`.
fn node(addr: &str) -> BasicNode {
    BasicNode {
        addr: addr.to_owned(),
    }
}

#[cfg(test)]
mod tests;

//! Following the leadership: a member that becomes leader catches up, reloads the soft state
//! it keeps as leader (chunkd liveness, id blocks, write sessions) and begins a run of
//! proposals; a member that loses it ends the run. Also the forming of a new group.

use super::proposer::Role;
use super::types::Epoch;
use super::{node, Shared};
use crate::store::Cf;
use dfs_common::wire::{MetadMember, MetadRole};
use dfs_common::{ErrorDetail, RpcError};
use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::ServerState;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a member does when it begins leading, on a blocking thread, with whether it is the
/// only voter (a group of one keeps its open write sessions: no other leader can have
/// changed anything meanwhile).
pub(crate) type OnLead = Arc<dyn Fn(bool) -> Result<(), RpcError> + Send + Sync>;

/// How long a new leader waits for its log to be applied before it gives up and tries again.
const CATCH_UP: Duration = Duration::from_secs(30);

/// The leadership task.
pub(super) async fn run(shared: Arc<Shared>, on_lead: OnLead) {
    let mut metrics = shared.raft().metrics();
    while !shared.is_stopping() {
        let (leading, term, leader) = {
            let m = metrics.borrow();
            if let Err(fatal) = &m.running_state {
                shared.fail_stop(&fatal.to_string());
                return;
            }
            // A leader that removed itself from the voters keeps the role in openraft until
            // it is stopped; it must not take requests it can no longer commit.
            let voter = m
                .membership_config
                .membership()
                .voter_ids()
                .any(|id| id == shared.id);
            let leading = m.state == ServerState::Leader && m.current_leader == Some(shared.id);
            let leader = m.current_leader.filter(|_| !leading || voter);
            (leading && voter, m.current_term, leader)
        };
        let role = {
            let mut state = shared.lock_state();
            if leader.is_some() || leading {
                state.leaderless_since = None;
            } else if state.leaderless_since.is_none() {
                state.leaderless_since = Some(Instant::now());
            }
            state.role
        };
        if leading {
            let current = matches!(role, Role::Leading { epoch, .. } if epoch.term == term);
            if !current {
                begin_run(&shared, term, &on_lead).await;
            }
        } else if role != (Role::Follower { leader }) {
            if matches!(role, Role::Leading { .. }) {
                tracing::info!(term, leader = ?leader, "no longer the metad leader");
            }
            let mut state = shared.lock_state();
            state.end_run(Role::Follower { leader }, shared.address(leader));
            shared.changed.notify_all();
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() {
                if !shared.is_stopping() {
                    shared.fail_stop("raft ended on its own");
                }
                return;
            },
            _ = shared.restart.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Begins a leader run in `term`: everything in the log applied, soft state reloaded, then
/// writes accepted. Returns without leading on any failure; the task tries again.
async fn begin_run(shared: &Arc<Shared>, term: u64, on_lead: &OnLead) {
    {
        let mut state = shared.lock_state();
        if matches!(state.role, Role::Leading { .. }) {
            state.end_run(Role::Starting, None);
        } else {
            state.role = Role::Starting;
        }
        shared.changed.notify_all();
    }
    // Proposals of the previous run settle (applied, or failed within their timeout).
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    while !shared.lock_state().in_flight.is_empty() {
        if tokio::time::Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let raft = shared.raft();
    if let Err(e) = raft.ensure_linearizable().await {
        tracing::debug!("a new leader could not confirm its leadership yet: {e}");
        return;
    }
    let last = raft.metrics().borrow().last_log_index;
    if let Some(last) = last {
        let caught_up = raft
            .wait(Some(CATCH_UP))
            .applied_index_at_least(Some(last), "a new leader applies its log")
            .await;
        if let Err(e) = caught_up {
            tracing::warn!("a new leader did not apply its log in time: {e}");
            return;
        }
    }
    let alone = voter_count(shared) == 1;
    let reload = on_lead.clone();
    let db = shared.db.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        reload(alone)?;
        super::state_machine::read_fence(&db).map_err(RpcError::from)
    })
    .await;
    let fence = match prepared {
        Ok(Ok(fence)) => {
            // Times this leader writes follow every stamp the state holds (see `clock`).
            crate::clock::observe(fence.stamp_ms);
            fence
        }
        Ok(Err(e)) => {
            tracing::error!("a new leader could not load its state: {e}");
            return;
        }
        Err(e) => {
            tracing::error!("a new leader could not load its state: {e}");
            return;
        }
    };
    let still = {
        let m = raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_term == term
    };
    let mut state = shared.lock_state();
    if !still || state.role != Role::Starting {
        return;
    }
    let restart = match state.restarts {
        (t, n) if t == term => n + 1,
        _ => 0,
    };
    state.restarts = (term, restart);
    let epoch = Epoch {
        term,
        leader: shared.id,
        restart,
    };
    state.role = Role::Leading {
        epoch,
        prev: None,
        base: fence.last_data,
    };
    state.generation += 1;
    shared.changed.notify_all();
    drop(state);
    shared.wake.notify_one();
    tracing::info!(term, restart, id = shared.id, "leading the metad group");
}

/// How many voters the group has now.
pub(super) fn voter_count(shared: &Shared) -> usize {
    shared
        .raft()
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .count()
}

/// The answer to a request of a member that does not lead now (`role`, and since when it
/// has known no leader): `NotLeader` naming the leader when one is known, or without a hint
/// while an election may still succeed; `NoQuorum` when no election can (it has known no
/// leader for longer than two election timeouts), or when it leads but has heard from no
/// majority. So with a majority of the group down, requests fail at once with what is wrong
/// instead of being retried until the client's deadline.
pub(super) fn not_leading(
    shared: &Shared,
    role: Role,
    leaderless_since: Option<Instant>,
) -> RpcError {
    let silence_ms = shared.quorum_silence_ms;
    match role {
        Role::Follower {
            leader: Some(leader),
        } => shared.not_leader(Some(leader)),
        Role::Starting => lost_majority(shared).unwrap_or_else(|| shared.not_leader(None)),
        Role::Follower { leader: None } | Role::Leading { .. } => {
            let leaderless = leaderless_since.map_or(0, |t| t.elapsed().as_millis() as u64);
            if leaderless <= 2 * silence_ms {
                return shared.not_leader(None);
            }
            RpcError::detailed(
                ErrorDetail::NoQuorum,
                format!(
                    "metad {} has known no leader for {:.1} s: no leader can be elected while \
                     a majority of the metad group is down or unreachable (not answering: \
                     {}); nothing can be written or read until a majority is back",
                    shared.id,
                    leaderless as f64 / 1000.0,
                    silent_members(shared, silence_ms)
                ),
            )
        }
    }
}

/// The other members that have not answered this one's raft RPCs for `ms` milliseconds, as
/// `id=address`, comma-separated.
fn silent_members(shared: &Shared, ms: u64) -> String {
    shared
        .members
        .iter()
        .filter(|(id, _)| **id != shared.id && !shared.answers.heard_within(**id, ms))
        .map(|(id, addr)| format!("{id}={addr}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `NoQuorum` if this member, leading or starting to, is one of several voters and has heard
/// from no majority of them for longer than an election timeout (`quorum_silence_ms`).
pub(super) fn lost_majority(shared: &Shared) -> Option<RpcError> {
    let (voters, silence) = {
        let metrics = shared.raft().metrics();
        let metrics = metrics.borrow();
        let voters = metrics.membership_config.membership().voter_ids().count();
        (voters, metrics.millis_since_quorum_ack.unwrap_or(0))
    };
    (voters > 1 && silence > shared.quorum_silence_ms).then(|| no_quorum(shared, silence))
}

/// The answer of a leader that has heard from no majority for `silence_ms`: it names the
/// members it has not heard from.
fn no_quorum(shared: &Shared, silence_ms: u64) -> RpcError {
    let who = match silent_members(shared, shared.quorum_silence_ms) {
        silent if silent.is_empty() => String::new(),
        silent => format!(" (not answering: {silent})"),
    };
    RpcError::detailed(
        ErrorDetail::NoQuorum,
        format!(
            "metad {} leads but has heard from no majority of the metad group for {:.1} s{who}; \
             nothing can be written or read until a majority is back",
            shared.id,
            silence_ms as f64 / 1000.0
        ),
    )
}

/// The error a read barrier's failure answers with.
pub(super) fn read_error(
    shared: &Shared,
    err: RaftError<u64, CheckIsLeaderError<u64, openraft::BasicNode>>,
) -> RpcError {
    match err {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => {
            shared.not_leader(f.leader_id)
        }
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e)) => RpcError::detailed(
            ErrorDetail::NoQuorum,
            format!(
                "metad {} cannot reach a majority of the metad group ({e}); nothing can be \
                 read or written until a majority is back",
                shared.id
            ),
        ),
        RaftError::Fatal(e) => RpcError::unavailable(format!("metad's raft stopped: {e}")),
    }
}

/// Makes a new group out of fresh members: a group of one initializes itself; in a group of
/// several the lowest id initializes once every other member answers that it is fresh too,
/// so a member whose data was wiped cannot found a second group beside the first.
pub(super) async fn form(
    shared: &Arc<Shared>,
    pristine: bool,
    client: &dfs_common::http::InternalClient,
) -> Result<(), String> {
    let raft = shared.raft();
    let initialized = raft.is_initialized().await.map_err(|e| e.to_string())?;
    let members: BTreeMap<u64, openraft::BasicNode> = shared
        .members
        .iter()
        .map(|(id, addr)| (*id, node(addr)))
        .collect();
    if members.len() == 1 {
        if !initialized {
            raft.initialize(members)
                .await
                .map_err(|e| format!("cannot initialize the group of one: {e}"))?;
        }
        // A state that holds data no log entry made (a metad of an earlier release, or a
        // restored backup), in a log never purged: snapshot it and purge the log before
        // serving, so that a member added later starts from the snapshot, never from a log
        // that lacks that data.
        let never_purged = raft.metrics().borrow().purged.is_none();
        if never_purged && !state_is_empty(&shared.db) {
            snapshot_the_first_state(shared).await?;
            shared
                .adopted
                .store(true, std::sync::atomic::Ordering::Release);
        }
        return Ok(());
    }
    if initialized {
        let voters: Vec<u64> = raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        if voters == [shared.id] {
            return Err(format!(
                "this data folder is a group of one (metad {} alone), not the group --peers \
                 names; start it without --peers and grow it with `dfs metad add`",
                shared.id
            ));
        }
        return Ok(());
    }
    if !pristine || !state_is_empty(&shared.db) {
        return Err(format!(
            "metad {} holds data but is in no group: a group of several forms only from empty \
             members (run this data folder alone, without --peers)",
            shared.id
        ));
    }
    if shared.members.keys().next() != Some(&shared.id) {
        tracing::info!(id = shared.id, "waiting to be contacted by the group");
        return Ok(());
    }
    let shared = shared.clone();
    let client = client.clone();
    tokio::spawn(async move {
        loop {
            match super::network::all_fresh(&shared, &client).await {
                Ok(true) => {
                    let raft = shared.raft();
                    // The founder votes for itself at once: nothing was ever committed.
                    super::rejoin::open_and_elect(&shared, "it founds the group");
                    match raft.initialize(members.clone()).await {
                        Ok(()) => tracing::info!("metad group formed"),
                        Err(e) => tracing::info!("the group was not formed here: {e}"),
                    }
                    return;
                }
                Ok(false) => {
                    tracing::info!("another member already belongs to a group; not forming one");
                    return;
                }
                Err(waiting) => {
                    tracing::info!("waiting for every member to form the group: {waiting}")
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(())
}

/// Whether the state database holds nothing a user made (a fresh member).
fn state_is_empty(db: &rocksdb::DB) -> bool {
    [Cf::Dentry, Cf::Node, Cf::AccessKey, Cf::Upload]
        .iter()
        .all(|cf| match db.cf_handle(cf.name()) {
            Some(table) => db
                .iterator_cf(table, rocksdb::IteratorMode::Start)
                .next()
                .is_none(),
            None => true,
        })
}

/// Builds a snapshot of a state that began outside the log and purges the log behind it.
async fn snapshot_the_first_state(shared: &Shared) -> Result<(), String> {
    let raft = shared.raft();
    let applied = raft
        .wait(Some(CATCH_UP))
        .metrics(|m| m.last_applied.is_some(), "the first entry applied")
        .await
        .map_err(|e| format!("the group of one did not start: {e}"))?;
    let index = applied.last_applied.map_or(0, |id| id.index);
    raft.trigger()
        .snapshot()
        .await
        .map_err(|e| format!("cannot snapshot the initial state: {e}"))?;
    raft.wait(Some(CATCH_UP))
        .metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= index),
            "the initial snapshot",
        )
        .await
        .map_err(|e| format!("the initial snapshot was not built: {e}"))?;
    raft.trigger()
        .purge_log(index)
        .await
        .map_err(|e| format!("cannot purge the log behind the initial snapshot: {e}"))?;
    raft.wait(Some(CATCH_UP))
        .metrics(
            |m| m.purged.is_some(),
            "the log purged behind the initial snapshot",
        )
        .await
        .map_err(|e| format!("the log was not purged: {e}"))?;
    tracing::info!(
        index,
        "the initial state is in a snapshot; the log behind it is purged"
    );
    Ok(())
}

/// Every member as the leader (or this member) sees it.
pub(super) fn status(shared: &Shared) -> Vec<MetadMember> {
    let metrics = shared.raft().metrics();
    let m = metrics.borrow();
    let own_log = m.last_log_index.unwrap_or(0);
    let own_applied = m.last_applied.map_or(0, |id| id.index);
    let matched: BTreeMap<u64, u64> = m
        .replication
        .as_ref()
        .map(|r| {
            r.iter()
                .map(|(id, log)| (*id, log.map_or(0, |l| l.index)))
                .collect()
        })
        .unwrap_or_default();
    let membership = m.membership_config.membership();
    let voters: Vec<u64> = membership.voter_ids().collect();
    // The members in force (with those added since start); the configured ones before the
    // group formed.
    let mut everyone: BTreeMap<u64, String> = membership
        .nodes()
        .map(|(id, n)| (*id, n.addr.clone()))
        .collect();
    if everyone.is_empty() {
        everyone = shared.members.clone();
    }
    let mut out = Vec::new();
    for (id, addr) in &everyone {
        let role = if Some(*id) == m.current_leader {
            MetadRole::Leader
        } else if *id == shared.id && m.state == ServerState::Candidate {
            MetadRole::Candidate
        } else if !voters.contains(id) && !voters.is_empty() {
            MetadRole::Learner
        } else {
            MetadRole::Follower
        };
        let (log, applied) = if *id == shared.id {
            (own_log, own_applied)
        } else {
            // What the leader knows of a follower: the log it has matched.
            let index = matched.get(id).copied().unwrap_or(0);
            (index, index)
        };
        out.push(MetadMember {
            id: *id,
            addr: addr.clone(),
            role,
            term: m.current_term,
            last_log_index: log,
            applied_index: applied,
        });
    }
    out
}

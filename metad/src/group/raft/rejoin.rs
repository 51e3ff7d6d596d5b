//! The vote guard of a member that starts empty in a group of several.
//!
//! Raft's safety rests on what each member keeps on disk: the vote it cast in a term and the
//! entries it acknowledged. A member whose data folder was wiped (or whose disk was replaced)
//! forgot both. Were it to vote at once, it could elect a candidate that lacks writes the
//! group acknowledged with its help: entries committed on {A, B}, B wiped, A dead, C lagging;
//! B's empty log grants C's request and C leads without those entries. So a member that
//! starts with an empty log among peers is *guarded*: it neither votes nor calls an election
//! until either
//! - every other member answers that it is empty too or holds only the group's founding entry
//!   (a group being formed: nothing was ever committed), or
//! - it has applied, from a leader that contacted it after it started, an entry of that
//!   leader's term at or past the commit index that leader announced. That leader's log holds
//!   every entry committed before its term, and its announced commit index covers the entries
//!   committed in its term, so the member again holds everything it might have acknowledged.
//!
//! The guard is kept in a marker file until it opens: a member that restarts half caught up is
//! still guarded. It leaves one case open: a vote the member cast before the wipe in a term
//! newer than that of every leader it hears from afterwards (a stale leader at the very moment
//! of the wipe); replacing the member under a new id (`dfs metad add`, then `remove`) avoids it.

use super::Shared;
use dfs_common::http::InternalClient;
use openraft::LogId;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The marker file (in the group folder) of a guarded member.
const MARKER: &str = "rejoining";

/// A leader's first contact with a guarded member: its term and announced commit index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Contact {
    term: u64,
    commit: u64,
}

#[derive(Debug)]
enum State {
    Open,
    Guarded { contact: Option<Contact> },
}

/// Whether this member may vote and call elections (see the module documentation).
#[derive(Debug)]
pub struct RejoinGuard {
    marker: PathBuf,
    state: Mutex<State>,
}

impl RejoinGuard {
    /// The guard of a member starting in group folder `dir`: guarded when its marker is there,
    /// or when its log is `pristine` in a group of `several` members (the marker is then
    /// written, synced, before Raft starts).
    pub fn on_start(dir: &Path, pristine: bool, several: bool) -> std::io::Result<RejoinGuard> {
        let marker = dir.join(MARKER);
        let guarded = marker.exists() || (pristine && several);
        if guarded && !marker.exists() {
            std::fs::File::create(&marker)?.sync_all()?;
            std::fs::File::open(dir)?.sync_all()?;
        }
        let state = match guarded {
            true => State::Guarded { contact: None },
            false => State::Open,
        };
        Ok(RejoinGuard {
            marker,
            state: Mutex::new(state),
        })
    }

    /// Whether this member votes and may call elections.
    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open)
    }

    /// Notes an AppendEntries request of a leader of `term` announcing `commit`: the first one
    /// a guarded member receives sets what it must hold before it votes.
    pub fn note_leader(&self, term: u64, commit: Option<u64>) {
        if let State::Guarded {
            contact: contact @ None,
        } = &mut *self.lock()
        {
            let first = Contact {
                term,
                commit: commit.unwrap_or(0),
            };
            tracing::info!(
                term,
                commit = first.commit,
                "contacted by the group's leader: this member votes again once it has applied \
                 an entry of term {term} at or past index {}",
                first.commit
            );
            *contact = Some(first);
        }
    }

    /// Whether a leader contacted this guarded member.
    pub fn contacted(&self) -> bool {
        matches!(*self.lock(), State::Guarded { contact: Some(_) })
    }

    /// Whether `applied` covers the first leader contact of a guarded member.
    pub fn caught_up(&self, applied: Option<&LogId<u64>>) -> bool {
        match (&*self.lock(), applied) {
            (State::Guarded { contact: Some(c) }, Some(id)) => {
                id.leader_id.term >= c.term && id.index >= c.commit
            }
            _ => false,
        }
    }

    /// Opens the guard (`why` is logged); `true` when it was guarded.
    pub fn open(&self, why: &str) -> std::io::Result<bool> {
        let mut state = self.lock();
        if matches!(*state, State::Open) {
            return Ok(false);
        }
        match std::fs::remove_file(&self.marker) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        *state = State::Open;
        tracing::info!("this member votes from now on: {why}");
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Opens the guard of a guarded member when it may vote again, and lets it call elections:
/// follows what it applies, and asks the other members (every second until a leader made
/// contact) whether the group is only being formed.
pub(super) async fn watch(shared: Arc<Shared>, client: InternalClient) {
    let raft = shared.raft().clone();
    let mut metrics = raft.metrics();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tracing::info!(
        "this member started empty in a group of several: it votes once it holds what the \
         group committed (or once every member is found empty, a group being formed)"
    );
    loop {
        let ticked = tokio::select! {
            changed = metrics.changed() => match changed {
                Ok(()) => false,
                Err(_) => return,
            },
            _ = tick.tick() => true,
        };
        // Opened elsewhere (the founder opens its own guard) or shutting down: done.
        if shared.is_stopping() || shared.rejoin.is_open() {
            return;
        }
        let applied = metrics.borrow().last_applied;
        let why = if shared.rejoin.caught_up(applied.as_ref()) {
            "it holds everything its group had committed when it came back"
        } else if ticked
            && !shared.rejoin.contacted()
            && super::network::group_unused(&shared, &client).await == Ok(true)
        {
            "every member is empty: the group is being formed"
        } else {
            continue;
        };
        if open_and_elect(&shared, why) {
            return;
        }
    }
}

/// Opens the guard (`why` is logged) and lets this member call elections; `false` when the
/// marker could not be removed (the guard stays shut and the next try opens it).
pub(super) fn open_and_elect(shared: &Shared, why: &str) -> bool {
    match shared.rejoin.open(why) {
        Ok(_) => {
            shared.raft().runtime_config().elect(true);
            true
        }
        Err(e) => {
            tracing::error!("cannot remove the rejoin marker: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn id(term: u64, index: u64) -> LogId<u64> {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    #[test]
    fn a_member_of_a_group_of_one_or_with_a_log_is_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(RejoinGuard::on_start(dir.path(), true, false)
            .unwrap()
            .is_open());
        assert!(RejoinGuard::on_start(dir.path(), false, true)
            .unwrap()
            .is_open());
        assert!(!dir.path().join(MARKER).exists());
    }

    #[test]
    fn an_empty_member_votes_once_it_applied_the_first_leaders_term_and_commit() {
        let dir = tempfile::tempdir().unwrap();
        let guard = RejoinGuard::on_start(dir.path(), true, true).unwrap();
        assert!(!guard.is_open());
        assert!(dir.path().join(MARKER).exists());
        // Nothing applied counts before a leader made contact.
        assert!(!guard.caught_up(Some(&id(9, 900))));
        guard.note_leader(5, Some(120));
        // A later contact does not move the bar.
        guard.note_leader(6, Some(500));
        assert!(!guard.caught_up(None));
        assert!(!guard.caught_up(Some(&id(5, 119))));
        assert!(!guard.caught_up(Some(&id(4, 130))));
        assert!(guard.caught_up(Some(&id(5, 120))));
        assert!(!guard.is_open());
        assert!(guard.open("caught up").unwrap());
        assert!(guard.is_open());
        assert!(!dir.path().join(MARKER).exists());
        assert!(
            !guard.caught_up(Some(&id(5, 121))),
            "an open guard has nothing to catch up"
        );
        assert!(!guard.open("again").unwrap(), "opens once");
    }

    #[test]
    fn a_member_that_restarts_half_caught_up_is_still_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let first = RejoinGuard::on_start(dir.path(), true, true).unwrap();
        first.note_leader(3, Some(40));
        drop(first);
        // Its log is no longer pristine, but the marker keeps it guarded.
        let again = RejoinGuard::on_start(dir.path(), false, true).unwrap();
        assert!(!again.is_open());
        assert!(again.open("the group is being formed").unwrap());
        assert!(RejoinGuard::on_start(dir.path(), false, true)
            .unwrap()
            .is_open());
    }
}

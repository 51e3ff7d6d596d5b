//! Changing the members of a running group: `dfs metad add` and `dfs metad remove`.
//!
//! A new member joins as a learner (it receives the log, or a snapshot, but does not vote),
//! and becomes a voter once it has caught up, so that it never counts toward a majority it
//! could not yet serve. openraft changes the voters through joint consensus.

use super::{node, RaftGroup};
use dfs_common::{ErrorCode, RpcError};
use openraft::ChangeMembers;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long `add` waits for a learner to catch up before it answers "run me again".
const CATCH_UP: Duration = Duration::from_secs(20);
/// A learner this close to the leader's log is caught up.
const CLOSE_ENOUGH: u64 = 64;

fn raft_error(e: impl std::fmt::Display) -> RpcError {
    RpcError::unavailable(format!("the membership change did not happen: {e}"))
}

impl RaftGroup {
    /// Adds member `id` at `addr`: learner, catch-up, voter.
    pub async fn add_member(&self, id: u64, addr: &str) -> Result<(), RpcError> {
        self.check_leader()?;
        if id == 0 || !addr.contains(':') || addr.chars().any(char::is_whitespace) {
            return Err(RpcError::invalid(format!(
                "metad add: want an id of 1 or more and HOST:PORT, not {id} {addr:?}"
            )));
        }
        let membership = self.membership();
        if let Some(node) = membership
            .nodes()
            .find(|(n, _)| **n == id)
            .map(|(_, n)| n.clone())
        {
            if node.addr != addr {
                return Err(RpcError::new(
                    ErrorCode::AlreadyExists,
                    format!("member {id} is already in the group at {}", node.addr),
                ));
            }
            if membership.voter_ids().any(|v| v == id) {
                return Ok(());
            }
        }
        let raft = self.raft();
        raft.add_learner(id, node(addr), false)
            .await
            .map_err(raft_error)?;
        tracing::info!(
            id,
            addr,
            "member added as a learner; waiting for it to catch up"
        );
        let started = Instant::now();
        loop {
            let (matched, last) = {
                let metrics = raft.metrics();
                let m = metrics.borrow();
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id).copied().flatten())
                    .map(|l| l.index);
                (matched, m.last_log_index.unwrap_or(0))
            };
            if matched.is_some_and(|m| m + CLOSE_ENOUGH >= last) {
                break;
            }
            if started.elapsed() > CATCH_UP {
                return Err(RpcError::unavailable(format!(
                    "member {id} at {addr} joined as a learner and is still catching up (log \
                     matched {} of {last}); is it running? Run the same command again once \
                     `dfs status` shows its LAG near 0",
                    matched.map_or("nothing".to_owned(), |m| m.to_string())
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let voters = BTreeSet::from([id]);
        raft.change_membership(ChangeMembers::AddVoterIds(voters), false)
            .await
            .map_err(raft_error)?;
        tracing::info!(id, addr, "member now votes");
        Ok(())
    }

    /// Removes member `id` (voter or learner).
    pub async fn remove_member(&self, id: u64) -> Result<(), RpcError> {
        self.check_leader()?;
        let membership = self.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let raft = self.raft();
        if voters.contains(&id) {
            if voters.len() == 1 {
                return Err(RpcError::invalid(format!(
                    "member {id} is the group's only voter; a group cannot be empty"
                )));
            }
            raft.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                .await
                .map_err(raft_error)?;
        } else if membership.nodes().any(|(n, _)| *n == id) {
            raft.change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                .await
                .map_err(raft_error)?;
        } else {
            return Ok(());
        }
        tracing::info!(id, "member removed from the group; stop its process");
        Ok(())
    }

    /// The membership in force.
    fn membership(&self) -> openraft::Membership<u64, openraft::BasicNode> {
        self.raft()
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .clone()
    }
}

//! The metad group as its clients see it: a list of members, any of which is a first contact,
//! and the member believed to lead. The `dfs` CLI, the gateway (through the client library)
//! and chunkd all reach metad through [`call_group`].
//!
//! A member that is not the leader answers [`ErrorDetail::NotLeader`], naming the leader when
//! it knows it: the request goes there next, at once. A member that cannot be reached is
//! skipped for the next one. One call tries each address at most once, so it always ends;
//! waiting and trying again later is the caller's retry policy.

use crate::http::InternalClient;
use crate::wire::Rpc;
use crate::{ErrorDetail, RpcError};
use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;

/// The members of the metad group (`host:port` each) and the one last seen leading.
#[derive(Debug)]
pub struct MetadGroup {
    members: Vec<String>,
    target: Mutex<Target>,
}

/// Where the next request goes.
#[derive(Debug, Default)]
struct Target {
    /// The member that last answered, or that a member named as leader.
    leader: Option<String>,
    /// The member to try when no leader is known.
    next: usize,
}

impl MetadGroup {
    /// Parses a comma-separated list of `host:port` (`"a:7700,b:7700"`); blanks around commas
    /// are ignored and a repeated member counts once.
    pub fn parse(list: &str) -> Result<MetadGroup, String> {
        let mut members: Vec<String> = Vec::new();
        for member in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            if member.chars().any(char::is_whitespace) {
                return Err(format!("metad address {member:?} contains a blank"));
            }
            if !members.iter().any(|m| m == member) {
                members.push(member.to_owned());
            }
        }
        if members.is_empty() {
            return Err(format!(
                "no metad address in {list:?} (expected host:port[,host:port...])"
            ));
        }
        Ok(MetadGroup {
            members,
            target: Mutex::new(Target::default()),
        })
    }

    /// Parses like [`parse`](Self::parse); a list that does not parse is kept as one address,
    /// so that the first request fails with an error naming it (for callers that cannot fail
    /// at construction and have checked the list where it was typed).
    pub fn parse_or_single(list: &str) -> MetadGroup {
        MetadGroup::parse(list).unwrap_or_else(|_| MetadGroup {
            members: vec![list.to_owned()],
            target: Mutex::new(Target::default()),
        })
    }

    /// The members, in the order given.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Target> {
        self.target.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The address the next request goes to: the leader if one is known, else a member in turn.
    pub fn current(&self) -> String {
        let target = self.lock();
        match &target.leader {
            Some(leader) => leader.clone(),
            None => self.members[target.next % self.members.len()].clone(),
        }
    }

    /// Records that `addr` answered: requests keep going there.
    fn answered(&self, addr: &str) {
        let mut target = self.lock();
        if target.leader.as_deref() != Some(addr) {
            target.leader = Some(addr.to_owned());
        }
    }

    /// Records that `addr` failed with `err`, and moves to the member that should be tried next.
    fn failed(&self, addr: &str, err: &RpcError) {
        let mut target = self.lock();
        match (&err.detail, &err.leader_hint) {
            (ErrorDetail::NotLeader, Some(hint)) => target.leader = Some(hint.clone()),
            _ => {
                if target.leader.as_deref() == Some(addr) || target.leader.is_none() {
                    target.leader = None;
                    target.next = target.next.wrapping_add(1);
                }
            }
        }
    }
}

impl fmt::Display for MetadGroup {
    /// The list as it is written on a command line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.members.join(","))
    }
}

/// Sends `req` to the group: to the leader if known, else to the members in turn, following
/// `NotLeader` hints. Ends at the first answer, at an error that another member would not
/// change, at a request that may have been done (no answer: only the caller knows whether it
/// may be repeated), or when every address has been tried once.
pub async fn call_group<R: Rpc>(
    http: &InternalClient,
    group: &MetadGroup,
    req: &R,
) -> Result<R::Response, RpcError> {
    let mut tried = HashSet::new();
    let mut no_quorum = None;
    loop {
        let addr = group.current();
        tried.insert(addr.clone());
        let err = match http.call(&addr, req).await {
            Ok(resp) => {
                group.answered(&addr);
                return Ok(resp);
            }
            Err(err) => err,
        };
        // Not reached, not the leader, or cut off from the majority (a member alone in a
        // minority refuses before doing anything): another member may take the request.
        if !matches!(
            err.detail,
            ErrorDetail::Unreachable | ErrorDetail::NotLeader | ErrorDetail::NoQuorum
        ) {
            // A member that took the request and never answered (frozen, cut off) is not
            // asked first again: the next call starts elsewhere. This call ends here, though,
            // since the request may have been done.
            if err.is(ErrorDetail::NoAnswer) {
                group.failed(&addr, &err);
            }
            return Err(err);
        }
        group.failed(&addr, &err);
        // A member that answered "no majority" says more than one that could not be reached.
        if err.is(ErrorDetail::NoQuorum) {
            no_quorum = Some(err.clone());
        }
        if tried.contains(&group.current()) {
            return Err(exhausted(group, no_quorum.unwrap_or(err)));
        }
    }
}

/// The last error once every address was tried, saying so when there were several.
fn exhausted(group: &MetadGroup, mut err: RpcError) -> RpcError {
    if group.members.len() > 1 {
        err.message = format!(
            "no metad of {group} could take the request (last: {})",
            err.message
        );
    }
    err
}

#[cfg(test)]
mod tests;

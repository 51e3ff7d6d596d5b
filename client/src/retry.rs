//! The one retry policy of the client library: bounded, jittered exponential backoff under a
//! total deadline, applied by [`crate::DfsClient`] to every metad call.
//!
//! What may be sent again is decided by type, never by message text:
//! - a request that never reached metad ([`ErrorDetail::Unreachable`]) or that metad refused
//!   as unavailable (503: shutting down, not ready) was not done: any call may be repeated;
//! - a request that got no answer ([`ErrorDetail::NoAnswer`]: timeout, reset connection) may
//!   have been done: only calls marked [`Repeat::Always`] or [`Repeat::WithToken`] are
//!   repeated, and the callers of token calls check a "token gone" answer themselves.
//!
//! This rides out a metad restart: calls wait and retry until it is back, within the deadline.
//! A metad group that answers it has no majority is given a shorter grace
//! ([`RetryPolicy::no_quorum_grace`]): losing a majority is not a restart.

use dfs_common::wire::Repeat;
use dfs_common::{ErrorCode, ErrorDetail, RpcError};
use std::time::Duration;

/// How long and how often failed calls are tried again.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The wait before the first retry; each later wait doubles, up to `max_backoff`.
    pub first_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// No attempt starts later than this after the first one.
    pub deadline: Duration,
    /// No attempt starts later than this after the first one while metad answers that no
    /// majority of its group is reachable ([`ErrorDetail::NoQuorum`]): long enough to ride
    /// out a stall, short enough that a group that lost its majority is reported quickly.
    pub no_quorum_grace: Duration,
    /// The most attempts in all, the first included.
    pub max_attempts: u32,
    /// Called before each wait with the attempt that failed (from 1) and its error: an
    /// interactive client tells its user why it is waiting; daemons log instead.
    pub on_retry: Option<fn(u32, &RpcError)>,
}

impl Default for RetryPolicy {
    /// 50 ms doubling to 2 s, for at most 20 s or 40 attempts: longer than a metad restart,
    /// short enough that a cluster that is really down is reported within a client timeout.
    fn default() -> Self {
        RetryPolicy {
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            deadline: Duration::from_secs(20),
            no_quorum_grace: Duration::from_secs(5),
            max_attempts: 40,
            on_retry: None,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (tests of failure paths, one-shot probes).
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt + 1` (`attempt` counts from 1): a random duration
    /// between half and all of the exponential step ("equal jitter"), so that clients that
    /// failed together do not retry together, yet each waits a little.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .first_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_backoff);
        let half = step / 2;
        half + step.mul_f64(rand::random::<f64>() * 0.5)
    }
}

/// Whether the failed attempt may be followed by another one of a call of kind `repeat`.
pub fn may_retry(err: &RpcError, repeat: Repeat) -> bool {
    match err.detail {
        ErrorDetail::Unreachable => true,
        ErrorDetail::NoAnswer => repeat != Repeat::Never,
        _ => err.code == ErrorCode::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_bounds() {
        let policy = RetryPolicy::default();
        for attempt in 1..60 {
            let wait = policy.backoff(attempt);
            let step =
                (policy.first_backoff * 2u32.pow((attempt - 1).min(20))).min(policy.max_backoff);
            assert!(
                wait >= step / 2 && wait <= step,
                "{attempt}: {wait:?} vs {step:?}"
            );
        }
    }

    #[test]
    fn only_undelivered_or_refused_calls_repeat_unconditionally() {
        let unreachable = RpcError::detailed(ErrorDetail::Unreachable, "refused");
        let no_answer = RpcError::detailed(ErrorDetail::NoAnswer, "timed out");
        let busy = RpcError::unavailable("metad is shutting down");
        for repeat in [Repeat::Always, Repeat::WithToken, Repeat::Never] {
            assert!(may_retry(&unreachable, repeat));
            assert!(may_retry(&busy, repeat));
            assert_eq!(may_retry(&no_answer, repeat), repeat != Repeat::Never);
        }
        for err in [
            RpcError::not_found("gone"),
            RpcError::internal("bug"),
            RpcError::new(ErrorCode::NotEnoughNodes, "1 of 2 alive"),
            RpcError::detailed(ErrorDetail::NoSuchBucket, "b"),
        ] {
            assert!(!may_retry(&err, Repeat::Always), "{err:?}");
        }
    }
}

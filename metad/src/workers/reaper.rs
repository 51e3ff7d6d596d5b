//! The session reaper: write sessions idle for longer than the session timeout were abandoned
//! (a crashed client); their chunks are collected. It also drops the outcomes of committed
//! sessions once no client can still be repeating their commit
//! ([`CLOSED_SESSION_RETENTION`]).

use super::{blocking, Ctx, Step, Worker};
use crate::ns::CLOSED_SESSION_RETENTION;
use dfs_common::RpcError;
use std::time::Duration;

/// Looks for expired sessions about once a minute.
pub struct Reaper {
    ctx: Ctx,
}

impl Reaper {
    /// A reaper over the shared context.
    pub fn new(ctx: Ctx) -> Self {
        Reaper { ctx }
    }
}

impl Worker for Reaper {
    const NAME: &'static str = "session-reaper";

    fn period(&self) -> Duration {
        (self.ctx.session_timeout / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    async fn step(&mut self) -> Result<Step, RpcError> {
        for id in self.ctx.sessions.expired(self.ctx.session_timeout) {
            let Ok(session) = self.ctx.sessions.begin_close(id) else {
                continue; // committed or aborted meanwhile
            };
            let ns = self.ctx.ns.clone();
            let record = session.clone();
            let result = blocking(move || ns.drop_session(id, &record, "expired")).await;
            match result {
                Ok(()) => {
                    self.ctx.sessions.finish_close(id);
                    tracing::info!(
                        session = %id,
                        path = %session.path,
                        chunks = session.chunks.len(),
                        "reaped an expired write session; its chunks go to GC"
                    );
                }
                Err(e) => {
                    self.ctx.sessions.cancel_close(id);
                    return Err(e);
                }
            }
        }
        let retention_ms = CLOSED_SESSION_RETENTION.as_millis() as u64;
        let before = crate::clock::steady_ms().saturating_sub(retention_ms);
        let ns = self.ctx.ns.clone();
        let purged = blocking(move || ns.purge_closed_sessions(before)).await?;
        if purged > 0 {
            tracing::debug!(
                purged,
                "dropped the outcomes of sessions committed long ago"
            );
        }
        Ok(Step::Idle)
    }
}

//! Dead-node detection: a chunkd silent for longer than the dead timeout is marked dead, then
//! its chunks are queued for repair by the sweep, one bounded batch per step (see
//! `nodes::sweep`).

use super::{blocking, Ctx, Step, Worker};
use crate::nodes::sweep::BATCH_ROWS;
use dfs_common::RpcError;
use std::time::Duration;

/// Checks heartbeats about once per heartbeat interval, and sweeps dead nodes.
pub struct DeadDetector {
    ctx: Ctx,
}

impl DeadDetector {
    /// A detector over the shared context.
    pub fn new(ctx: Ctx) -> Self {
        DeadDetector { ctx }
    }
}

impl Worker for DeadDetector {
    const NAME: &'static str = "dead-detector";

    fn period(&self) -> Duration {
        self.ctx.heartbeat_interval
    }

    async fn step(&mut self) -> Result<Step, RpcError> {
        let timeout = self.ctx.dead_timeout;
        for node in self.ctx.nodes.silent(timeout) {
            let (store, nodes) = (self.ctx.store.clone(), self.ctx.nodes.clone());
            blocking(move || nodes.mark_dead(&store, node, timeout)).await?;
        }
        let (store, nodes) = (self.ctx.store.clone(), self.ctx.nodes.clone());
        let swept = blocking(move || nodes.sweep_dead(&store, BATCH_ROWS)).await?;
        // While a sweep is pending the next batch follows at once (other commits interleave:
        // the write lock is released between batches).
        Ok(if swept.is_some() {
            Step::Busy
        } else {
            Step::Idle
        })
    }
}

//! Dead-node detection: a chunkd silent for longer than the dead timeout is marked dead and
//! its chunks are queued for repair.

use super::{blocking, Ctx, Step, Worker};
use dfs_common::RpcError;
use std::time::Duration;

/// Checks heartbeats about once per heartbeat interval.
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
        Ok(Step::Idle)
    }
}

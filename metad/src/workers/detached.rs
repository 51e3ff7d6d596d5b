//! The background deleter of detached trees: the rows of every subtree a recursive delete cut
//! from the namespace go, one bounded transaction at a time (see `ns::detached`). The work
//! items are persistent, so a restart resumes where the last committed batch left off.

use super::{blocking, Ctx, Step, Worker};
use crate::ns::detached::BATCH_ROWS;
use dfs_common::RpcError;
use std::time::Duration;

/// Deletes detached trees, [`BATCH_ROWS`] rows per step.
pub struct TreeDeleter {
    ctx: Ctx,
}

impl TreeDeleter {
    /// A deleter over the shared context.
    pub fn new(ctx: Ctx) -> Self {
        TreeDeleter { ctx }
    }
}

impl Worker for TreeDeleter {
    const NAME: &'static str = "tree-deleter";

    fn period(&self) -> Duration {
        self.ctx.heartbeat_interval.max(Duration::from_millis(100))
    }

    async fn step(&mut self) -> Result<Step, RpcError> {
        let ns = self.ctx.ns.clone();
        let step = blocking(move || ns.drain_detached(BATCH_ROWS)).await?;
        // Another batch may follow at once; the write lock is released between batches, so
        // every other commit gets its turn.
        Ok(if step.is_some() {
            Step::Busy
        } else {
            Step::Idle
        })
    }
}

//! Multipart upload expiry: uploads left open longer than the configured time (a client that
//! never completed nor aborted) are aborted, and the markers of completed uploads (kept so that
//! a repeated completion gets the same answer) are dropped after a day. Their chunks go
//! through the garbage collector as usual.

use super::{blocking, Ctx, Step, Worker};
use dfs_common::RpcError;
use std::time::Duration;

/// How long a completed upload answers a repeated completion.
pub const COMPLETED_RETENTION: Duration = Duration::from_secs(86_400);
/// Uploads removed per step.
const BATCH: usize = 64;

/// Looks for expired uploads about once a minute.
pub struct UploadExpiry {
    ctx: Ctx,
}

impl UploadExpiry {
    /// An expiry worker over the shared context.
    pub fn new(ctx: Ctx) -> Self {
        UploadExpiry { ctx }
    }
}

impl Worker for UploadExpiry {
    const NAME: &'static str = "upload-expiry";

    fn period(&self) -> Duration {
        (self.ctx.upload_expiry / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    async fn step(&mut self) -> Result<Step, RpcError> {
        let ns = self.ctx.ns.clone();
        let open_ttl = self.ctx.upload_expiry.as_millis() as u64;
        let completed_ttl = COMPLETED_RETENTION.as_millis() as u64;
        let removed = blocking(move || {
            ns.expire_uploads(crate::clock::steady_ms(), open_ttl, completed_ttl, BATCH)
        })
        .await?;
        Ok(if removed == BATCH {
            Step::Busy
        } else {
            Step::Idle
        })
    }
}

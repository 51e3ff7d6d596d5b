//! Aborts of multipart uploads that metad could not take (it was down or had no majority for
//! longer than the client library's retries): the S3 client still gets its 503, but the
//! gateway keeps the abort and sends it again in the background until metad answers, so an
//! upload its client gave up on does not keep its parts' chunks until the upload expiry
//! (7 days by default).
//!
//! The queue is in memory and bounded: an abort beyond [`MAX_PENDING`], or pending when the
//! gateway stops, is logged and left to the upload expiry, as before. An abort is idempotent
//! (a repeat of a done one answers "no such upload"), so sending it again is always safe.

use dfs_client::DfsClient;
use dfs_common::wire::{AbortUploadReq, Repeat};
use dfs_common::{ErrorCode, RpcError};
use std::time::Duration;
use tokio::sync::mpsc;

/// Aborts kept at most; more are refused (logged), not queued.
pub const MAX_PENDING: usize = 10_000;

/// Pause between two rounds of attempts at one abort while metad stays away (each attempt
/// already retries for the client library's deadline).
const PAUSE: Duration = Duration::from_secs(2);

/// The queue of aborts to send again; a task drains it while the gateway runs.
#[derive(Clone, Debug)]
pub(crate) struct PendingAborts {
    queue: mpsc::Sender<AbortUploadReq>,
}

impl PendingAborts {
    /// Starts the task that sends the queued aborts with `client`.
    pub(crate) fn start(client: DfsClient) -> Self {
        let (queue, pending) = mpsc::channel(MAX_PENDING);
        tokio::spawn(resend(client, pending));
        PendingAborts { queue }
    }

    /// Keeps the abort `req` that failed with `err` to send it again, if `err` says metad did
    /// not take it (an answer such as "no such upload" is final). Returns whether it was kept.
    pub(crate) fn keep(&self, req: AbortUploadReq, err: &RpcError) -> bool {
        if !dfs_client::may_retry(err, Repeat::WithToken) {
            return false;
        }
        let (upload_id, path) = (req.upload_id.clone(), target_of(&req));
        match self.queue.try_send(req) {
            Ok(()) => {
                tracing::warn!(
                    upload_id,
                    path,
                    error = %err,
                    "metad did not take an abort; it is sent again in the background"
                );
                true
            }
            Err(_) => {
                tracing::warn!(
                    upload_id,
                    path,
                    "metad did not take an abort and {MAX_PENDING} are already waiting; \
                     the upload is left to its expiry"
                );
                false
            }
        }
    }
}

/// The `/bucket/key` an abort names, for logs.
fn target_of(req: &AbortUploadReq) -> String {
    req.path
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Sends each queued abort until metad answers it, one at a time (they wait for the same
/// outage to end).
async fn resend(client: DfsClient, mut pending: mpsc::Receiver<AbortUploadReq>) {
    while let Some(req) = pending.recv().await {
        loop {
            match client.uploads().abort(&req).await {
                Ok(()) => {
                    tracing::info!(upload_id = %req.upload_id, "a pending abort is done");
                    break;
                }
                Err(e) if e.code == ErrorCode::NotFound => {
                    tracing::info!(upload_id = %req.upload_id, "a pending abort found the upload gone");
                    break;
                }
                Err(e) if dfs_client::may_retry(&e, Repeat::WithToken) => {
                    tracing::debug!(upload_id = %req.upload_id, error = %e, "metad still away");
                    tokio::time::sleep(PAUSE).await;
                }
                Err(e) => {
                    tracing::warn!(
                        upload_id = %req.upload_id,
                        error = %e,
                        "a pending abort was refused; the upload is left to its expiry"
                    );
                    break;
                }
            }
        }
    }
}

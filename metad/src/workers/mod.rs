//! Background workers: dead-node detection, re-replication, garbage collection, the
//! session reaper, the expiry of multipart uploads and the deletion of detached trees. All
//! share one shape: a [`Worker`] does one step of work at a time and [`spawn`] runs it in a
//! loop until shutdown, pausing when the step says there is nothing to do.
//! Their work lives in persistent queues, so cancelling a step at shutdown loses nothing.

mod dead;
mod detached;
mod gc;
mod reaper;
mod repair;
mod uploads;

pub(crate) use crate::blocking;

use crate::nodes::Nodes;
use crate::ns::{Namespace, Sessions};
use crate::store::Store;
use dfs_common::http::InternalClient;
use dfs_common::RpcError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a step found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// There may be more work right away.
    Busy,
    /// Nothing more to do now: wait for the worker's period.
    Idle,
}

/// A background loop body.
pub trait Worker: Send + 'static {
    /// Name for logs.
    const NAME: &'static str;

    /// Pause after an idle step or an error.
    fn period(&self) -> Duration;

    /// Does one step of work.
    fn step(&mut self) -> impl Future<Output = Result<Step, RpcError>> + Send;
}

/// What the workers share.
#[derive(Clone)]
pub struct Ctx {
    /// The database.
    pub store: Arc<Store>,
    /// The chunkd registry.
    pub nodes: Arc<Nodes>,
    /// Open write sessions.
    pub sessions: Arc<Sessions>,
    /// The namespace (for the reaper and the tree deleter).
    pub ns: Arc<Namespace>,
    /// Signed client towards chunkds.
    pub client: InternalClient,
    /// Replicas per chunk.
    pub replication: u32,
    /// How often chunkds heartbeat.
    pub heartbeat_interval: Duration,
    /// Silence after which a chunkd is dead.
    pub dead_timeout: Duration,
    /// Age after which an open write session is reaped.
    pub session_timeout: Duration,
    /// How long a chunk stays on the chunkds after its last reference went.
    pub release_grace: Duration,
    /// Age after which an open multipart upload is aborted.
    pub upload_expiry: Duration,
    /// Whether this metad leads its group: workers only work on the leader (their decisions
    /// are writes, and their soft state, such as chunkd liveness, lives there).
    pub leading: Leading,
}

/// Tells whether this metad leads its group now.
pub type Leading = Arc<dyn Fn() -> bool + Send + Sync>;

/// Starts every worker; they stop when `shutdown` turns true.
pub fn spawn_all(ctx: &Ctx, shutdown: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        spawn(dead::DeadDetector::new(ctx.clone()), ctx, shutdown),
        spawn(repair::Repairer::new(ctx.clone()), ctx, shutdown),
        spawn(gc::Collector::new(ctx.clone()), ctx, shutdown),
        spawn(reaper::Reaper::new(ctx.clone()), ctx, shutdown),
        spawn(uploads::UploadExpiry::new(ctx.clone()), ctx, shutdown),
        spawn(detached::TreeDeleter::new(ctx.clone()), ctx, shutdown),
    ]
}

/// Runs `worker` while this metad leads, until `shutdown` turns true (or its sender is gone).
/// A step in progress at shutdown is dropped: queue items are only removed once their work
/// is done.
fn spawn<W: Worker>(mut worker: W, ctx: &Ctx, shutdown: &watch::Receiver<bool>) -> JoinHandle<()> {
    let mut shutdown = shutdown.clone();
    let leading = ctx.leading.clone();
    // Every line a worker logs carries `worker=<name>`, as request lines carry `request_id`.
    let span = tracing::info_span!("worker", worker = W::NAME);
    let run = async move {
        tracing::debug!("worker started");
        while !*shutdown.borrow() {
            if !leading() {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    () = tokio::time::sleep(worker.period().min(Duration::from_secs(1))) => {}
                }
                continue;
            }
            let result = tokio::select! {
                _ = shutdown.changed() => break,
                result = worker.step() => result,
            };
            let pause = match result {
                Ok(Step::Busy) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(Step::Idle) => worker.period(),
                Err(e) => {
                    tracing::warn!(error = %e, "worker step failed");
                    worker.period()
                }
            };
            tokio::select! {
                _ = shutdown.changed() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::debug!("worker stopped");
    };
    tokio::spawn(tracing::Instrument::instrument(run, span))
}

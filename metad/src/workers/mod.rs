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
        spawn(dead::DeadDetector::new(ctx.clone()), &ctx.leading, shutdown),
        spawn(repair::Repairer::new(ctx.clone()), &ctx.leading, shutdown),
        spawn(gc::Collector::new(ctx.clone()), &ctx.leading, shutdown),
        spawn(reaper::Reaper::new(ctx.clone()), &ctx.leading, shutdown),
        spawn(
            uploads::UploadExpiry::new(ctx.clone()),
            &ctx.leading,
            shutdown,
        ),
        spawn(
            detached::TreeDeleter::new(ctx.clone()),
            &ctx.leading,
            shutdown,
        ),
    ]
}

/// Runs `worker` while this metad leads, until `shutdown` turns true (or its sender is gone).
/// A step in progress at shutdown is dropped: queue items are only removed once their work
/// is done.
fn spawn<W: Worker>(
    mut worker: W,
    leading: &Leading,
    shutdown: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    let mut shutdown = shutdown.clone();
    let leading = leading.clone();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Counts its steps; always idle.
    struct Counting(Arc<AtomicUsize>);

    impl Worker for Counting {
        const NAME: &'static str = "counting";

        fn period(&self) -> Duration {
            Duration::from_millis(1)
        }

        async fn step(&mut self) -> Result<Step, RpcError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Step::Idle)
        }
    }

    /// Waits until `count` reaches `at_least` (`what` names it if it never does).
    async fn reach(count: &AtomicUsize, at_least: usize, what: &str) {
        let wait = async {
            while count.load(Ordering::SeqCst) < at_least {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .is_err()
        {
            panic!("{what} stayed below {at_least}");
        }
    }

    /// A worker steps only while its member leads: a follower's workers would decide from a
    /// state that may lag and propose writes the group refuses (issue 8).
    #[tokio::test]
    async fn a_worker_steps_only_while_its_member_leads() {
        let leads = Arc::new(AtomicBool::new(false));
        let asked = Arc::new(AtomicUsize::new(0));
        let leading: Leading = {
            let (leads, asked) = (leads.clone(), asked.clone());
            Arc::new(move || {
                asked.fetch_add(1, Ordering::SeqCst);
                leads.load(Ordering::SeqCst)
            })
        };
        let steps = Arc::new(AtomicUsize::new(0));
        let (stop, shutdown) = watch::channel(false);
        let task = spawn(Counting(steps.clone()), &leading, &shutdown);

        reach(&asked, 5, "the leadership checks").await;
        assert_eq!(steps.load(Ordering::SeqCst), 0, "stepped while following");

        leads.store(true, Ordering::SeqCst);
        reach(&steps, 3, "the steps").await;

        leads.store(false, Ordering::SeqCst);
        // A step whose leadership check came just before the change may still run.
        let stepped = steps.load(Ordering::SeqCst) + 1;
        reach(
            &asked,
            asked.load(Ordering::SeqCst) + 5,
            "the leadership checks",
        )
        .await;
        assert!(
            steps.load(Ordering::SeqCst) <= stepped,
            "kept stepping after losing the leadership"
        );

        stop.send(true).unwrap();
        task.await.unwrap();
    }
}

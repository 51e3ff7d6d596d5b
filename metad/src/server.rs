//! The RPC server: authentication and dispatch only. Every operation lives in `ns`, `access` or
//! `nodes`.
//!
//! `POST /rpc/<method>` with a JSON body. A request must carry a valid cluster signature and
//! its signed content descriptor must be the SHA-256 of the body actually received (otherwise a
//! captured signature could be replayed with another body). `GET /metrics` and
//! `GET /health/live|ready` need no signature (see `crate::metrics`).

use crate::access::AccessKeys;
use crate::nodes::Nodes;
use crate::ns::Namespace;
use crate::store::Store;
use dfs_common::auth::{self, ClusterSecret};
use dfs_common::http::{self as dhttp, Body};
use dfs_common::metrics::{self as dmetrics, Probe};
use dfs_common::request_id;
use dfs_common::wire::*;
use dfs_common::{ErrorCode, ErrorDetail, RpcError};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::{Arc, Weak};
use std::time::Instant;
use tracing::Instrument;

/// What request handling needs.
pub(crate) struct App {
    /// The metad group: whether this member leads, and the barrier answers wait on.
    pub group: Arc<crate::group::raft::RaftGroup>,
    /// Verifies request signatures.
    pub secret: ClusterSecret,
    /// S3 access keys and grants.
    pub access: Arc<AccessKeys>,
    /// The database.
    pub store: Arc<Store>,
    /// The chunkd registry.
    pub nodes: Arc<Nodes>,
    /// Paged chunk reconciliations in progress.
    pub registrations: crate::registration::Registrations,
    /// The namespace.
    pub ns: Arc<Namespace>,
    /// Replicas per chunk.
    pub replication: u32,
    /// Told to chunkds at registration.
    pub heartbeat_interval_ms: u64,
    /// RPC latencies and cluster gauges.
    pub metrics: crate::metrics::Metrics,
}

/// Answers one request. The server holds the application weakly: after shutdown, lingering
/// keep-alive connections get `Unavailable` and cannot keep the database open.
///
/// An RPC is served inside a span with its method and, when the caller sent one, the id of the
/// S3 request that caused it ([`request_id`]), so every line logged while serving it carries
/// them; the span is also entered on the blocking thread that does the work
/// ([`crate::blocking`]).
pub(crate) async fn handle(app: Weak<App>, req: Request<Incoming>) -> Response<Body> {
    let probe = Probe::of(req.method(), req.uri().path());
    if probe == Some(Probe::Live) {
        return dmetrics::ready_response(Ok(()));
    }
    let id = request_id::from_headers(req.headers());
    let method = req.uri().path().strip_prefix("/rpc/").unwrap_or("-");
    // ERROR level so that the span, and with it the request id, is there whenever any line
    // inside is written, even with RUST_LOG=warn; a span alone writes nothing.
    let span = tracing::error_span!(
        "rpc",
        request_id = tracing::field::Empty,
        method = %method
    );
    if let Some(id) = &id {
        span.record("request_id", tracing::field::display(id));
    }
    let started = Instant::now();
    let serve = async move {
        let resp = serve(app, req, probe).await;
        tracing::debug!(
            status = resp.status().as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "rpc served"
        );
        resp
    };
    request_id::scope(id, serve.instrument(span)).await
}

async fn serve(app: Weak<App>, req: Request<Incoming>, probe: Option<Probe>) -> Response<Body> {
    let Some(app) = app.upgrade() else {
        if probe == Some(Probe::Ready) {
            return dmetrics::ready_response(Err("metad is shutting down".into()));
        }
        return dhttp::error_response(&RpcError::unavailable("metad is shutting down"));
    };
    if let Some(probe) = probe {
        return observe(app, probe).await;
    }
    let result = if req.uri().path().starts_with("/raft/") {
        raft(app, req).await
    } else {
        rpc(app, req).await
    };
    match result {
        Ok(resp) => resp,
        Err(e) => {
            if e.code == ErrorCode::Internal {
                tracing::error!(code = ?e.code, error = %e, "rpc failed");
            } else {
                tracing::debug!(code = ?e.code, error = %e, "rpc refused");
            }
            dhttp::error_response(&e)
        }
    }
}

/// `/metrics` or `/health/ready`, on a blocking thread (both touch RocksDB).
async fn observe(app: Arc<App>, probe: Probe) -> Response<Body> {
    if probe == Probe::Metrics {
        let render = move || Ok(app.metrics.render(&app.store, &app.nodes, app.replication));
        return match crate::blocking(render).await {
            Ok(text) => dmetrics::text_metrics_response(text),
            Err(e) => dhttp::error_response(&e),
        };
    }
    let ready = crate::blocking(move || Ok(crate::metrics::ready(&app.store, &app.group))).await;
    dmetrics::ready_response(ready.unwrap_or_else(|e| Err(e.message)))
}

/// A message between members of the group (`/raft/*`), signed like an RPC.
async fn raft(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, RpcError> {
    let path = req.uri().path().to_owned();
    let body = signed_body(&app, req, &path).await?;
    crate::group::raft::network::serve(&app.group, &path, &body).await
}

async fn rpc(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, RpcError> {
    let Some(method) = req.uri().path().strip_prefix("/rpc/").map(str::to_owned) else {
        return Err(RpcError::not_found(format!(
            "no such endpoint: {}",
            req.uri().path()
        )));
    };
    let body = signed_body(&app, req, &format!("RPC {method}")).await?;
    dispatch(app, &method, &body).await
}

/// Checks the request's signature and reads its body, which must be what was signed.
async fn signed_body(
    app: &App,
    req: Request<Incoming>,
    what: &str,
) -> Result<bytes::Bytes, RpcError> {
    dhttp::check_signature(&app.secret, &req)?;
    if req.method() != Method::POST {
        return Err(RpcError::invalid(format!(
            "{what} must be called with POST, not {}",
            req.method()
        )));
    }
    let content = req
        .headers()
        .get(auth::CONTENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let read = dhttp::read_body(req.into_body(), dhttp::MAX_RPC_BODY);
    let body = tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| {
            RpcError::unavailable(format!(
                "the body of the {what} request did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ))
        })??;
    if !auth::constant_time_eq(content.as_bytes(), auth::sha256_content(&body).as_bytes()) {
        return Err(RpcError::new(
            ErrorCode::Unauthorized,
            "request body does not match its signed digest",
        ));
    }
    Ok(body)
}

/// How long a request body may take to arrive whole: a client that vanished mid-body must
/// not hold a connection and its task forever. Bodies are small (a snapshot piece, the largest,
/// is 4 MiB), so a minute is plenty on any working link.
const BODY_TIMEOUT: std::time::Duration = if cfg!(test) {
    std::time::Duration::from_secs(1)
} else {
    std::time::Duration::from_secs(60)
};

/// Runs one RPC, one line per method. Every operation runs on a blocking thread ([`call`],
/// RocksDB calls block) except the heartbeat, which only touches memory ([`call_inline`]).
/// Only the leader serves them; the others answer "not the leader" with its address.
async fn dispatch(app: Arc<App>, method: &str, body: &[u8]) -> Result<Response<Body>, RpcError> {
    use Kind::{Read, Session, Write};
    match method {
        RegisterReq::METHOD => call(app, body, Write, |a, r| a.register(r)).await,
        ReconcileReq::METHOD => call(app, body, Write, |a, r| a.reconcile(&r)).await,
        SnapshotReq::METHOD => call(app, body, Write, |a, r| a.snapshot(&r)).await,
        HeartbeatReq::METHOD => call_inline(&app, body, |a, r| Ok(a.nodes.heartbeat(&r))),
        ReportBadChunkReq::METHOD => call(app, body, Write, |a, r| a.report_bad_chunk(&r)).await,
        StatusReq::METHOD => call(app, body, Read, |a, r| a.status(&r)).await,
        MetadAddReq::METHOD => membership::<MetadAddReq>(&app, body).await,
        MetadRemoveReq::METHOD => membership::<MetadRemoveReq>(&app, body).await,
        StatReq::METHOD => call(app, body, Read, |a, r| a.ns.stat(&r)).await,
        MkdirReq::METHOD => call(app, body, Write, |a, r| a.ns.mkdir(&r)).await,
        ListReq::METHOD => call(app, body, Read, |a, r| a.ns.list(&r)).await,
        BeginWriteReq::METHOD => call(app, body, Session, |a, r| a.ns.begin_write(&r)).await,
        AllocChunkReq::METHOD => call(app, body, Session, |a, r| a.ns.alloc_chunk(&r)).await,
        ReplaceReplicaReq::METHOD => {
            call(app, body, Session, |a, r| a.ns.replace_replica(&r)).await
        }
        CommitReq::METHOD => call(app, body, Write, |a, r| a.ns.commit(&r)).await,
        AbortReq::METHOD => call(app, body, Write, |a, r| a.ns.abort(&r)).await,
        DeleteReq::METHOD => call(app, body, Write, |a, r| a.ns.delete(&r)).await,
        RenameReq::METHOD => call(app, body, Write, |a, r| a.ns.rename(&r)).await,
        CopyReq::METHOD => call(app, body, Write, |a, r| a.ns.copy(&r)).await,
        CreateBucketReq::METHOD => call(app, body, Write, |a, r| a.ns.create_bucket(&r)).await,
        ListBucketsReq::METHOD => call(app, body, Read, |a, r| a.ns.list_buckets(&r)).await,
        DeleteBucketReq::METHOD => call(app, body, Write, |a, r| a.ns.delete_bucket(&r)).await,
        ListObjectsReq::METHOD => call(app, body, Read, |a, r| a.ns.list_objects(&r)).await,
        CreateUploadReq::METHOD => call(app, body, Write, |a, r| a.ns.create_upload(&r)).await,
        BeginPartWriteReq::METHOD => {
            call(app, body, Session, |a, r| a.ns.begin_part_write(&r)).await
        }
        CommitPartReq::METHOD => call(app, body, Write, |a, r| a.ns.commit_part(&r)).await,
        CopyPartReq::METHOD => call(app, body, Write, |a, r| a.ns.copy_part(&r)).await,
        CompleteUploadReq::METHOD => call(app, body, Write, |a, r| a.ns.complete_upload(&r)).await,
        AbortUploadReq::METHOD => call(app, body, Write, |a, r| a.ns.abort_upload(&r)).await,
        ListPartsReq::METHOD => call(app, body, Read, |a, r| a.ns.list_parts(&r)).await,
        ListUploadsReq::METHOD => call(app, body, Read, |a, r| a.ns.list_uploads(&r)).await,
        KeyCreateReq::METHOD => call(app, body, Write, |a, r| a.access.create(&r)).await,
        KeyListReq::METHOD => call(app, body, Read, |a, r| a.access.list(&r)).await,
        KeyGetReq::METHOD => call(app, body, Read, |a, r| a.access.get(&r)).await,
        KeyDeleteReq::METHOD => call(app, body, Write, |a, r| a.access.delete(&r)).await,
        BucketAllowReq::METHOD => call(app, body, Write, |a, r| a.access.allow(&r)).await,
        BucketDenyReq::METHOD => call(app, body, Write, |a, r| a.access.deny(&r)).await,
        _ => Err(RpcError::not_found(format!(
            "unknown RPC method {method:?}"
        ))),
    }
}

/// The RPCs that need more than one of `ns`, `access` or `nodes`, or settings of the daemon.
impl App {
    fn register(&self, req: RegisterReq) -> Result<RegisterResp, RpcError> {
        let sessions = self.ns.sessions();
        let paged = req.paged;
        let (node_id, delete, scope) =
            self.nodes
                .register(&self.store, sessions, self.replication, req)?;
        if paged {
            self.registrations.begin(node_id, scope);
        }
        Ok(RegisterResp {
            node_id,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            delete,
        })
    }

    fn reconcile(&self, req: &ReconcileReq) -> Result<ReconcileResp, RpcError> {
        let sessions = self.ns.sessions();
        self.registrations
            .page(&self.store, &self.nodes, sessions, self.replication, req)
    }

    fn snapshot(&self, req: &SnapshotReq) -> Result<SnapshotResp, RpcError> {
        let (files, bytes) = self.store.checkpoint(std::path::Path::new(&req.dir))?;
        tracing::info!(dir = %req.dir, files, bytes, "snapshot written");
        Ok(SnapshotResp { files, bytes })
    }

    fn report_bad_chunk(&self, req: &ReportBadChunkReq) -> Result<(), RpcError> {
        self.nodes.report_bad_chunk(&self.store, req)
    }

    fn status(&self, _req: &StatusReq) -> Result<StatusResp, RpcError> {
        let mut status = self.nodes.status(&self.store, self.replication)?;
        status.metad = self.group.status();
        Ok(status)
    }
}

/// What an operation returns, made into its RPC's answer: the answer itself, or [`Empty`] for
/// operations that return nothing.
trait IntoAnswer<A> {
    fn into_answer(self) -> A;
}

impl<A> IntoAnswer<A> for A {
    fn into_answer(self) -> A {
        self
    }
}

impl IntoAnswer<Empty> for () {
    fn into_answer(self) -> Empty {
        Empty {}
    }
}

/// `metad add` and `metad remove`: Raft's own membership changes, awaited on this task.
async fn membership<R: Rpc + MembershipChange>(
    app: &App,
    body: &[u8],
) -> Result<Response<Body>, RpcError> {
    let started = Instant::now();
    let result = match dhttp::decode_json::<R>(body) {
        Ok(req) => req.apply(&app.group).await,
        Err(e) => Err(e),
    };
    app.metrics.observe_rpc(R::METHOD, result.is_ok(), started);
    result.map(|()| ok(&Empty {}))
}

/// A membership request.
trait MembershipChange {
    async fn apply(self, group: &crate::group::raft::RaftGroup) -> Result<(), RpcError>;
}

impl MembershipChange for MetadAddReq {
    async fn apply(self, group: &crate::group::raft::RaftGroup) -> Result<(), RpcError> {
        group.add_member(self.id, &self.addr).await
    }
}

impl MembershipChange for MetadRemoveReq {
    async fn apply(self, group: &crate::group::raft::RaftGroup) -> Result<(), RpcError> {
        group.remove_member(self.id).await
    }
}

/// What an operation may read, which says what its answer waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Reads the applied state only (views).
    Read,
    /// Runs transactions, which also read the effects still being replicated.
    Write,
    /// Opens or extends a write session, which lives on this member only: reads the applied
    /// state, writes node-local rows. A success tells nothing another leader could contradict
    /// (the commit that uses the session is confirmed by the group), so it is given at once;
    /// an error (no such bucket, upload or session) is a read and is confirmed like one.
    Session,
}

/// Decodes the request and runs `op` on a blocking thread (RocksDB calls block), on the
/// leader only; the answer is given once what it read is settled ([`settle`]).
async fn call<R, O>(
    app: Arc<App>,
    body: &[u8],
    kind: Kind,
    op: fn(&App, R) -> Result<O, RpcError>,
) -> Result<Response<Body>, RpcError>
where
    R: Rpc + Send + 'static,
    R::Response: Send + 'static,
    O: IntoAnswer<R::Response> + 'static,
{
    let started = Instant::now();
    let metrics_app = Arc::clone(&app);
    let result = match dhttp::decode_json::<R>(body) {
        Ok(req) => {
            crate::blocking(move || {
                let generation = app.group.check_leader()?;
                app.store.take_commit_mark();
                let answer = op(&app, req).map(O::into_answer);
                let committed = app.store.take_commit_mark() == Some(generation);
                settle(&app, kind, generation, committed, answer)
            })
            .await
        }
        Err(e) => Err(e),
    };
    metrics_app
        .metrics
        .observe_rpc(R::METHOD, result.is_ok(), started);
    Ok(ok(&result?))
}

/// Gives an operation's answer once it may be given: every pending batch it could have read
/// is settled and this member still leads (see `RaftGroup::settle`). `committed` says the
/// operation made a synced commit in run `generation`: the group accepted its batch, which
/// confirms the leadership after everything the operation read, so no further round of
/// heartbeats is needed. An error that rests on state that never committed becomes "not the
/// leader" (not done, retry); a success whose confirmation failed may have been done, and
/// says so.
fn settle<A>(
    app: &App,
    kind: Kind,
    generation: u64,
    committed: bool,
    answer: Result<A, RpcError>,
) -> Result<A, RpcError> {
    let (upto, confirmed) = match kind {
        Kind::Read => (0, false),
        Kind::Write => (app.store.settle_point(), committed),
        Kind::Session => (0, answer.is_ok()),
    };
    match (answer, app.group.settle(generation, upto, confirmed)) {
        (answer, Ok(())) => answer,
        (Ok(_), Err(e)) => Err(RpcError::detailed(
            ErrorDetail::NoAnswer,
            format!(
                "the operation ran but its outcome could not be confirmed: {}",
                e.message
            ),
        )),
        (Err(e), Err(_)) if e.is(ErrorDetail::NoAnswer) => Err(e),
        (Err(_), Err(e)) => Err(e),
    }
}

/// Decodes the request and runs `op` on this thread: for operations that only touch memory and
/// never block. Only the leader keeps that memory (chunkd liveness).
fn call_inline<R: Rpc>(
    app: &App,
    body: &[u8],
    op: fn(&App, R) -> Result<R::Response, RpcError>,
) -> Result<Response<Body>, RpcError> {
    let started = Instant::now();
    let result = app
        .group
        .check_leader()
        .and_then(|_| dhttp::decode_json::<R>(body))
        .and_then(|req| op(app, req));
    app.metrics.observe_rpc(R::METHOD, result.is_ok(), started);
    Ok(ok(&result?))
}

fn ok<T: serde::Serialize>(value: &T) -> Response<Body> {
    dhttp::json_response(StatusCode::OK, value)
}

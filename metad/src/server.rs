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
use dfs_common::{ErrorCode, RpcError};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::{Arc, Weak};
use std::time::Instant;
use tracing::Instrument;

/// What request handling needs.
pub(crate) struct App {
    /// Verifies request signatures.
    pub secret: ClusterSecret,
    /// S3 access keys and grants.
    pub access: Arc<AccessKeys>,
    /// The database.
    pub store: Arc<Store>,
    /// The chunkd registry.
    pub nodes: Arc<Nodes>,
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
    match rpc(app, req).await {
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
    let ready = crate::blocking(move || Ok(crate::metrics::ready(&app.store))).await;
    dmetrics::ready_response(ready.unwrap_or_else(|e| Err(e.message)))
}

async fn rpc(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, RpcError> {
    let Some(method) = req.uri().path().strip_prefix("/rpc/").map(str::to_owned) else {
        return Err(RpcError::not_found(format!(
            "no such endpoint: {}",
            req.uri().path()
        )));
    };
    dhttp::check_signature(&app.secret, &req)?;
    if req.method() != Method::POST {
        return Err(RpcError::invalid(format!(
            "RPC {method} must be called with POST, not {}",
            req.method()
        )));
    }
    let content = req
        .headers()
        .get(auth::CONTENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = dhttp::read_body(req.into_body(), dhttp::MAX_RPC_BODY).await?;
    if !auth::constant_time_eq(content.as_bytes(), auth::sha256_content(&body).as_bytes()) {
        return Err(RpcError::new(
            ErrorCode::Unauthorized,
            "request body does not match its signed digest",
        ));
    }
    dispatch(app, &method, &body).await
}

async fn dispatch(app: Arc<App>, method: &str, body: &[u8]) -> Result<Response<Body>, RpcError> {
    match method {
        RegisterReq::METHOD => {
            call(app, body, |app, req: RegisterReq| {
                let (node_id, delete) =
                    app.nodes
                        .register(&app.store, app.ns.sessions(), app.replication, req)?;
                Ok(RegisterResp {
                    node_id,
                    heartbeat_interval_ms: app.heartbeat_interval_ms,
                    delete,
                })
            })
            .await
        }
        HeartbeatReq::METHOD => {
            // In memory only: no need for a blocking thread.
            let started = Instant::now();
            let req: HeartbeatReq = dhttp::decode_json(body)?;
            let resp = ok(&app.nodes.heartbeat(&req));
            app.metrics.observe_rpc(HeartbeatReq::METHOD, true, started);
            Ok(resp)
        }
        ReportBadChunkReq::METHOD => {
            call(app, body, |app, req: ReportBadChunkReq| {
                app.nodes
                    .report_bad_chunk(&app.store, &req)
                    .map(|()| Empty {})
            })
            .await
        }
        StatusReq::METHOD => {
            call(app, body, |app, _: StatusReq| {
                app.nodes.status(&app.store, app.replication)
            })
            .await
        }
        StatReq::METHOD => call(app, body, |app, req: StatReq| app.ns.stat(&req)).await,
        MkdirReq::METHOD => call(app, body, |app, req: MkdirReq| app.ns.mkdir(&req)).await,
        ListReq::METHOD => call(app, body, |app, req: ListReq| app.ns.list(&req)).await,
        OpenReq::METHOD => call(app, body, |app, req: OpenReq| app.ns.open(&req)).await,
        AllocChunkReq::METHOD => {
            call(app, body, |app, req: AllocChunkReq| {
                app.ns.alloc_chunk(&req)
            })
            .await
        }
        ReplaceReplicaReq::METHOD => {
            call(app, body, |app, req: ReplaceReplicaReq| {
                app.ns.replace_replica(&req)
            })
            .await
        }
        CommitReq::METHOD => call(app, body, |app, req: CommitReq| app.ns.commit(&req)).await,
        AbortReq::METHOD => {
            call(app, body, |app, req: AbortReq| {
                app.ns.abort(&req).map(|()| Empty {})
            })
            .await
        }
        DeleteReq::METHOD => {
            call(app, body, |app, req: DeleteReq| {
                app.ns.delete(&req).map(|()| Empty {})
            })
            .await
        }
        RenameReq::METHOD => {
            call(app, body, |app, req: RenameReq| {
                app.ns.rename(&req).map(|()| Empty {})
            })
            .await
        }
        CopyReq::METHOD => call(app, body, |app, req: CopyReq| app.ns.copy(&req)).await,
        CreateBucketReq::METHOD => {
            call(app, body, |app, req: CreateBucketReq| {
                app.ns.create_bucket(&req)
            })
            .await
        }
        ListBucketsReq::METHOD => {
            call(app, body, |app, req: ListBucketsReq| {
                app.ns.list_buckets(&req)
            })
            .await
        }
        DeleteBucketReq::METHOD => {
            call(app, body, |app, req: DeleteBucketReq| {
                app.ns.delete_bucket(&req).map(|()| Empty {})
            })
            .await
        }
        ListObjectsReq::METHOD => {
            call(app, body, |app, req: ListObjectsReq| {
                app.ns.list_objects(&req)
            })
            .await
        }
        CreateUploadReq::METHOD => {
            call(app, body, |app, req: CreateUploadReq| {
                app.ns.create_upload(&req)
            })
            .await
        }
        OpenPartReq::METHOD => {
            call(app, body, |app, req: OpenPartReq| app.ns.open_part(&req)).await
        }
        CommitPartReq::METHOD => {
            call(app, body, |app, req: CommitPartReq| {
                app.ns.commit_part(&req)
            })
            .await
        }
        CopyPartReq::METHOD => {
            call(app, body, |app, req: CopyPartReq| app.ns.copy_part(&req)).await
        }
        CompleteUploadReq::METHOD => {
            call(app, body, |app, req: CompleteUploadReq| {
                app.ns.complete_upload(&req)
            })
            .await
        }
        AbortUploadReq::METHOD => {
            call(app, body, |app, req: AbortUploadReq| {
                app.ns.abort_upload(&req).map(|()| Empty {})
            })
            .await
        }
        ListPartsReq::METHOD => {
            call(app, body, |app, req: ListPartsReq| app.ns.list_parts(&req)).await
        }
        ListUploadsReq::METHOD => {
            call(app, body, |app, req: ListUploadsReq| {
                app.ns.list_uploads(&req)
            })
            .await
        }
        KeyCreateReq::METHOD => {
            call(app, body, |app, req: KeyCreateReq| app.access.create(&req)).await
        }
        KeyListReq::METHOD => call(app, body, |app, req: KeyListReq| app.access.list(&req)).await,
        KeyGetReq::METHOD => call(app, body, |app, req: KeyGetReq| app.access.get(&req)).await,
        KeyDeleteReq::METHOD => {
            call(app, body, |app, req: KeyDeleteReq| {
                app.access.delete(&req).map(|()| Empty {})
            })
            .await
        }
        BucketAllowReq::METHOD => {
            call(app, body, |app, req: BucketAllowReq| app.access.allow(&req)).await
        }
        BucketDenyReq::METHOD => {
            call(app, body, |app, req: BucketDenyReq| app.access.deny(&req)).await
        }
        _ => Err(RpcError::not_found(format!(
            "unknown RPC method {method:?}"
        ))),
    }
}

/// Decodes the request and runs `op` on a blocking thread (RocksDB calls block).
async fn call<R>(
    app: Arc<App>,
    body: &[u8],
    op: fn(&App, R) -> Result<R::Response, RpcError>,
) -> Result<Response<Body>, RpcError>
where
    R: Rpc + Send + 'static,
    R::Response: Send + 'static,
{
    let started = Instant::now();
    let metrics_app = Arc::clone(&app);
    let result = match dhttp::decode_json::<R>(body) {
        Ok(req) => crate::blocking(move || op(&app, req)).await,
        Err(e) => Err(e),
    };
    metrics_app
        .metrics
        .observe_rpc(R::METHOD, result.is_ok(), started);
    Ok(ok(&result?))
}

fn ok<T: serde::Serialize>(value: &T) -> Response<Body> {
    dhttp::json_response(StatusCode::OK, value)
}

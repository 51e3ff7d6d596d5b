//! The request path: request id, routing, authentication, grant check, dispatch, error
//! rendering, one log line and the metrics; and the admin endpoint (health, metrics).
//!
//! Authentication and the grant check happen before any byte of the body is read: hyper sends
//! `100 Continue` only when a handler first polls the body, so a client that waits for it
//! never uploads a body that would be refused.

use crate::aborts::PendingAborts;
use crate::auth::sigv4::{parse_query, RequestParts};
use crate::auth::verify::V4Auth;
use crate::body::BodySlot;
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::keys::{required_access, Access, AccessKey, KeyCache};
use crate::metrics::{LoggedBody, Metrics, RequestLog};
use crate::router::{route, Endpoint, Query};
use dfs_client::DfsClient;
use dfs_common::http::{empty, full, Body};
use dfs_common::metrics::ready_response;
use dfs_common::names::BucketName;
use dfs_common::request_id::{self, RequestId};
use dfs_common::ErrorCode;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// After an error, request body bytes read and dropped so that the connection can be kept.
const DRAIN_LIMIT: u64 = 1 << 20;
/// How long draining may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the readiness probe waits for metad.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What every request needs: the cluster, the key cache, settings and metrics.
#[derive(Debug)]
pub(crate) struct App {
    pub client: DfsClient,
    pub keys: Arc<KeyCache>,
    pub region: Arc<str>,
    pub root_domain: Option<String>,
    pub metrics: Arc<Metrics>,
    pub aborts: PendingAborts,
}

impl App {
    pub(crate) fn new(client: DfsClient, config: &crate::Config) -> Self {
        App {
            keys: Arc::new(KeyCache::new(client.clone())),
            aborts: PendingAborts::start(client.clone()),
            client,
            region: Arc::from(config.region.as_str()),
            root_domain: config.root_domain.clone(),
            metrics: Arc::default(),
        }
    }
}

/// The S3 endpoint's handler.
///
/// Each request gets an id ([`RequestId::generate`], answered as `x-amz-request-id`) and is
/// served inside [`request_id::scope`] and a span with that id: every line logged about it,
/// here and in metad and the chunkds it calls (the internal client sends the id along), carries
/// `request_id`. The response body is polled in both too ([`LoggedBody`]), since a GET does its
/// chunk reads while the body streams, after this function returned.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let in_flight = app.metrics.start();
    let id = RequestId::generate();
    // ERROR level so that the span, and with it the request id, is there whenever any line
    // inside is written, even with RUST_LOG=warn; a span alone writes nothing.
    let span = tracing::error_span!("s3", request_id = %id);
    let served = request_id::scope(
        Some(id.clone()),
        respond(&app, req, id.as_str()).instrument(span.clone()),
    );
    let (mut resp, parts, endpoint, received) = served.await;
    let status = resp.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        resp.headers_mut().insert("x-amz-request-id", value);
    }
    let log = RequestLog {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        endpoint,
        status,
        request_id: id,
        span,
        received,
        started,
    };
    resp.map(|body| Body::new(LoggedBody::new(body, log, app.metrics.clone(), in_flight)))
}

/// Serves one request; returns the response (without its request id header), the request's
/// head, the endpoint's name and the count of body bytes received, for the log line.
async fn respond(
    app: &App,
    req: Request<Incoming>,
    request_id: &str,
) -> (Response<Body>, Parts, &'static str, Arc<AtomicU64>) {
    let (parts, body) = req.into_parts();
    let received = Arc::new(AtomicU64::new(0));
    let mut slot = BodySlot::new(body, received.clone());
    let (endpoint, result) = process(app, &parts, &mut slot).await;
    let head = parts.method == Method::HEAD;
    // A body no handler read: hyper sent no `100 Continue` for it.
    let unread = slot.take_left();
    let close = expects_continue(&parts) && (unread.is_some() || declares_empty_body(&parts));
    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            log_error(&err, &parts);
            if let Some(left) = unread {
                drain(left, &parts).await;
            }
            error_response(&err, &parts, request_id, head)
        }
    };
    let headers = resp.headers_mut();
    if close {
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Ok(id2) = HeaderValue::from_str(&format!("{:032x}", rand::random::<u128>())) {
        headers.insert("x-amz-id-2", id2);
    }
    (resp, parts, endpoint, received)
}

/// Whether the request asked `Expect: 100-continue`.
///
/// hyper sends `100 Continue` only when a handler reads the body, and not at all for an empty
/// body. botocore, after a final response that came without a `100 Continue`, keeps that
/// response's status line for every later response on the same connection (its
/// `AWSConnection.response_class` is never reset) and hangs on the next one. So such a
/// response closes the connection, which resets the client; the cost is one TCP connect after
/// an empty PUT or a refused upload.
fn expects_continue(parts: &Parts) -> bool {
    parts
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Whether the request says `Content-Length: 0`.
fn declares_empty_body(parts: &Parts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0")
}

/// Routes, authenticates, authorizes and dispatches; returns the endpoint's name for the log.
async fn process(
    app: &App,
    parts: &Parts,
    body: &mut BodySlot,
) -> (&'static str, S3Result<Response<Body>>) {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.host());
    // HTTP/1.1 requires a Host, SigV4 signs it, and virtual-hosted requests name their bucket
    // in it: a request without one is malformed, not unauthorized.
    if host.is_none() {
        let err = S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: Host.",
        );
        return ("Unrouted", Err(err));
    }
    let raw_query = parts.uri.query().unwrap_or("");
    let routed = route(
        &parts.method,
        host,
        parts.uri.path(),
        raw_query,
        &parts.headers,
        app.root_domain.as_deref(),
    );
    let endpoint = match routed {
        Ok(routed) => routed,
        Err(err) => return ("Unrouted", Err(err)),
    };
    let name = endpoint.name();
    let result = async {
        let pairs = parse_query(raw_query);
        let (identity, verified) = authenticate(app, parts, &pairs).await?;
        let identity = authorize(app, identity, &endpoint).await?;
        let ctx = ReqCtx {
            client: app.client.clone(),
            aborts: app.aborts.clone(),
            keys: app.keys.clone(),
            region: app.region.clone(),
            identity,
            verified,
            query: Query::parse(raw_query)?,
            headers: parts.headers.clone(),
        };
        crate::s3::dispatch(&ctx, endpoint, body).await
    }
    .await;
    (name, result)
}

/// Checks the request's SigV4 signature (header or presigned URL) with the secret of the key
/// that signed it. Anonymous requests are refused: every dfs bucket is private.
async fn authenticate(
    app: &App,
    parts: &Parts,
    pairs: &[(String, String)],
) -> S3Result<(Arc<AccessKey>, crate::auth::verify::Verified)> {
    let Some(auth) = V4Auth::from_request(&parts.headers, pairs)? else {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Access Denied: anonymous requests are not allowed; sign requests with an access key.",
        ));
    };
    let key = app.keys.get(auth.access_key_id()).await?;
    let request = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: pairs,
        headers: &parts.headers,
    };
    let now = i64::try_from(dfs_common::auth::unix_now()).unwrap_or(i64::MAX);
    let verified = auth.verify(&request, key.secret.expose(), now, Some(&app.region))?;
    Ok((key, verified))
}

/// Checks the key's grant for the endpoint. A refused key is fetched again once (a grant may
/// have been given a moment ago); a bucket that does not exist is `NoSuchBucket` rather than
/// `AccessDenied`, as in S3.
async fn authorize(
    app: &App,
    key: Arc<AccessKey>,
    endpoint: &Endpoint,
) -> S3Result<Arc<AccessKey>> {
    let bucket = endpoint.bucket().map(BucketName::as_str);
    let access = required_access(endpoint);
    if key.may(bucket, access) {
        return Ok(key);
    }
    let fresh = app.keys.fetch(&key.id).await?;
    if fresh.may(bucket, access) {
        return Ok(fresh);
    }
    if let Some(bucket) = bucket {
        match app.client.stat(&format!("/{bucket}")).await {
            Err(e) if e.code == ErrorCode::NotFound => {
                return Err(S3Error::no_such_bucket(bucket));
            }
            _ => {}
        }
    }
    let right = match access {
        Access::Authenticated => "a valid key",
        Access::Read => "the read grant",
        Access::Write => "the write grant",
        Access::Owner => "the owner grant",
    };
    Err(S3Error::new(
        S3ErrorCode::AccessDenied,
        format!("Access Denied: this operation needs {right} on the bucket."),
    )
    .with_source(format!(
        "access key {} has no {right} on {bucket:?} for {}",
        key.id,
        endpoint.name()
    )))
}

/// Logs a failed request (inside its span, which carries the request id): server errors as
/// warnings, client errors at debug.
fn log_error(err: &S3Error, parts: &Parts) {
    let chain = dfs_common::http::error_chain(err);
    let (method, path, code) = (&parts.method, parts.uri.path(), err.code());
    if err.http_status().is_server_error() {
        tracing::warn!(%method, path, ?code, error = %chain, "request failed");
    } else {
        tracing::debug!(%method, path, ?code, error = %chain, "request refused");
    }
}

/// Reads and drops a little of a body no handler read, so that the client, which may still be
/// sending it, gets the error response rather than a reset, and the connection stays usable.
/// A client that asked `Expect: 100-continue` never got the go-ahead: nothing to drain.
async fn drain(mut body: Incoming, parts: &Parts) {
    let length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if expects_continue(parts) || length.is_some_and(|l| l == 0 || l > DRAIN_LIMIT) {
        return;
    }
    let work = async {
        let mut read = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                read += data.len() as u64;
                if read > DRAIN_LIMIT {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, work).await;
}

/// The S3 error document with the error's status and headers; HEAD responses have no body.
fn error_response(err: &S3Error, parts: &Parts, request_id: &str, head: bool) -> Response<Body> {
    let body = if head || !err.has_body() {
        empty()
    } else {
        let doc = match err.resource() {
            Some(_) => err.to_xml(request_id),
            // Without a resource of its own, the error names the request path, as S3 does.
            None => S3Error::new(err.code(), err.message())
                .with_resource(parts.uri.path())
                .to_xml(request_id),
        };
        full(doc)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = err.http_status();
    if !head && err.has_body() {
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
    }
    for (name, value) in err.headers() {
        resp.headers_mut().append(name.clone(), value.clone());
    }
    resp
}

/// The admin endpoint: `/health/live` (the process answers), `/health/ready` (metad
/// answers too), `/metrics` (OpenMetrics text).
pub(crate) async fn handle_admin(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let text = |status: StatusCode, body: String| {
        let mut resp = Response::new(full(body));
        *resp.status_mut() = status;
        resp
    };
    match req.uri().path() {
        "/health/live" => ready_response(Ok(())),
        "/health/ready" => ready_response(
            match tokio::time::timeout(READY_TIMEOUT, app.client.stat("/")).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("metad: {e}")),
                Err(_) => Err(format!(
                    "metad did not answer within {} s",
                    READY_TIMEOUT.as_secs()
                )),
            },
        ),
        "/metrics" => dfs_common::metrics::text_metrics_response(app.metrics.render()),
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

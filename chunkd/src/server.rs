//! Request routing and the chunk handlers. Every route but `/metrics` and the health probes
//! needs the cluster signature.

use crate::format::MAX_CHUNK_LEN;
use crate::store::{Piece, PutOutcome};
use crate::stream::{self, OpenError};
use crate::{replicate, Node};
use dfs_common::auth::CONTENT_HEADER;
use dfs_common::checksum::{crc_from_hex, crc_to_hex};
use dfs_common::http::{check_signature, error_response, json_response, Body};
use dfs_common::metrics::{self as dmetrics, Probe, Timer};
use dfs_common::request_id;
use dfs_common::wire::{ChunkPutResp, CHUNK_PATH_PREFIX, LIST_CHUNKS_PATH, REPLICATE_PATH_PREFIX};
use dfs_common::{ChunkId, RpcError};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::Instrument;

/// Body pieces buffered between the network and the writer thread (each at most a few hundred
/// KiB, as hyper reads them).
const PUT_DEPTH: usize = 8;

/// How long a chunk body may go without a byte before the write is given up: a client that
/// vanished mid-body must not hold a blocking thread and a temp file until a restart. Far
/// above any pause of a live writer (the client's own timeout for a whole chunk is 30 s
/// plus a second per MiB).
const BODY_IDLE_TIMEOUT: Duration = if cfg!(test) {
    Duration::from_secs(1)
} else {
    Duration::from_secs(60)
};

/// Answers one request, inside a span with the operation, the chunk and, when the caller sent
/// one, the id of the S3 request that caused it ([`request_id`]): every line logged while
/// serving it carries them, including those of the blocking threads that read or write the
/// chunk, which enter the span too.
pub async fn handle(node: Arc<Node>, req: Request<Incoming>) -> Response<Body> {
    if let Some(probe) = Probe::of(req.method(), req.uri().path()) {
        return observe(&node, probe).await;
    }
    let id = request_id::from_headers(req.headers());
    let path = req.uri().path();
    let (op, chunk) = if let Some(rest) = path.strip_prefix(CHUNK_PATH_PREFIX) {
        (req.method().as_str().to_ascii_lowercase(), rest)
    } else if let Some(rest) = path.strip_prefix(REPLICATE_PATH_PREFIX) {
        ("replicate".to_owned(), rest)
    } else if path == LIST_CHUNKS_PATH {
        ("list".to_owned(), "")
    } else {
        ("other".to_owned(), "")
    };
    // ERROR level so that the span, and with it the request id, is there whenever any line
    // inside is written, even with RUST_LOG=warn; a span alone writes nothing.
    let span = tracing::error_span!(
        "chunk",
        request_id = tracing::field::Empty,
        op = %op,
        chunk = tracing::field::Empty,
    );
    if let Some(id) = &id {
        span.record("request_id", tracing::field::display(id));
    }
    if !chunk.is_empty() {
        span.record("chunk", chunk);
    }
    let started = Instant::now();
    let serve = async move {
        let resp = serve(node, req).await;
        // For a GET, the time to the response head: the data streams afterwards.
        tracing::debug!(
            status = resp.status().as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "chunk request served"
        );
        resp
    };
    request_id::scope(id, serve.instrument(span)).await
}

async fn serve(node: Arc<Node>, req: Request<Incoming>) -> Response<Body> {
    if let Err(e) = check_signature(&node.secret, &req) {
        tracing::debug!(error = %e, "request refused");
        return error_response(&e);
    }
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let result = if let Some(rest) = path.strip_prefix(CHUNK_PATH_PREFIX) {
        match parse_id(rest) {
            Err(e) => Err(e),
            Ok(id) => match method {
                Method::PUT => {
                    let _timer = Timer::start(node.metrics.write_seconds.clone());
                    put_chunk(&node, id, req).await
                }
                Method::GET => get_chunk(&node, id, &req).await,
                Method::DELETE => delete_chunk(&node, id).await,
                _ => Ok(not_allowed(&method, &path)),
            },
        }
    } else if let Some(rest) = path.strip_prefix(REPLICATE_PATH_PREFIX) {
        match (parse_id(rest), method) {
            (Err(e), _) => Err(e),
            (Ok(id), Method::POST) => replicate::handle(&node, id, req.uri().query()).await,
            (Ok(_), method) => Ok(not_allowed(&method, &path)),
        }
    } else if path == LIST_CHUNKS_PATH {
        match method {
            Method::GET => Ok(json_response(StatusCode::OK, &node.store.list())),
            method => Ok(not_allowed(&method, &path)),
        }
    } else {
        Err(RpcError::not_found(format!("no such endpoint: {path}")))
    };
    result.unwrap_or_else(|e| error_response(&e))
}

/// `/metrics`, `/health/live`, `/health/ready`.
async fn observe(node: &Arc<Node>, probe: Probe) -> Response<Body> {
    match probe {
        Probe::Live => dmetrics::ready_response(Ok(())),
        Probe::Metrics => dmetrics::text_metrics_response(node.metrics.render(node)),
        Probe::Ready => {
            let ready_node = Arc::clone(node);
            let ready = tokio::task::spawn_blocking(move || crate::metrics::ready(&ready_node))
                .await
                .unwrap_or_else(|e| Err(format!("the readiness check failed: {e}")));
            dmetrics::ready_response(ready)
        }
    }
}

/// Parses the chunk id of a path. Only 16 hex digits pass, so no id can walk out of the data
/// folder (`..`, `/`, encoded separators are all refused here).
fn parse_id(text: &str) -> Result<ChunkId, RpcError> {
    ChunkId::parse_hex(text).ok_or_else(|| {
        RpcError::invalid(format!(
            "{text:?} is not a chunk id (expected 16 hex digits)"
        ))
    })
}

/// An error answer with a status other than its code's usual one (411, 416, 405).
fn status_error(status: StatusCode, err: RpcError) -> Response<Body> {
    let mut resp = error_response(&err);
    *resp.status_mut() = status;
    resp
}

fn not_allowed(method: &Method, path: &str) -> Response<Body> {
    status_error(
        StatusCode::METHOD_NOT_ALLOWED,
        RpcError::invalid(format!("{method} is not supported on {path}")),
    )
}

/// `PUT /chunk/<id>`: stream the body to a temp file on a blocking thread, check length and
/// CRC, and make it durable under its name.
async fn put_chunk(
    node: &Arc<Node>,
    id: ChunkId,
    req: Request<Incoming>,
) -> Result<Response<Body>, RpcError> {
    let content = req
        .headers()
        .get(CONTENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected_crc = content
        .strip_prefix("crc32c=")
        .and_then(crc_from_hex)
        .ok_or_else(|| {
            RpcError::invalid(format!(
                "PUT of chunk {id} needs {CONTENT_HEADER}: crc32c=<8 hex digits>, got {content:?}"
            ))
        })?;
    // hyper knows the exact length for a Content-Length body and for a request without body;
    // a chunked upload has none, and we want the length up front (space check, no overrun).
    let Some(len) = req.body().size_hint().exact() else {
        return Ok(status_error(
            StatusCode::LENGTH_REQUIRED,
            RpcError::invalid(format!("PUT of chunk {id} needs a Content-Length")),
        ));
    };
    if len > MAX_CHUNK_LEN {
        return Err(RpcError::invalid(format!(
            "chunk {id}: {len} bytes is more than the maximum chunk size {MAX_CHUNK_LEN}"
        )));
    }
    let free = node.free_space();
    if len > free && !node.store.contains(id) {
        return Err(RpcError::unavailable(format!(
            "chunkd {} is full: {free} bytes free (capacity {}, {} held, a disk reserve kept), \
             chunk {id} needs {len}",
            node.advertise,
            node.capacity,
            node.store.used()
        )));
    }
    let (tx, mut rx) = mpsc::channel::<Piece>(PUT_DEPTH);
    let writer_node = Arc::clone(node);
    let span = tracing::Span::current();
    let writer = tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            writer_node
                .store
                .write_chunk(id, len, expected_crc, || rx.blocking_recv())
        })
    });
    let mut body = req.into_body();
    loop {
        let Ok(frame) = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame()).await else {
            // Dropping the sender without `End` makes the writer discard the temp file;
            // the answer waits for that, so nothing is left once it is sent.
            drop(tx);
            let _ = writer.await;
            tracing::warn!(%id, "chunk body stalled; write abandoned");
            return Err(RpcError::unavailable(format!(
                "the body of chunk {id} brought no data for {} s; nothing was stored",
                BODY_IDLE_TIMEOUT.as_secs()
            )));
        };
        match frame {
            None => {
                let _ = tx.send(Piece::End).await;
                break;
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if tx.send(Piece::Data(data)).await.is_err() {
                        break; // The writer stopped early; its error tells why.
                    }
                }
            }
            Some(Err(e)) => {
                // Dropping the sender without `End` makes the writer discard the temp file.
                tracing::debug!(error = %e, "request body failed");
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| RpcError::internal(format!("writer of chunk {id} failed: {e}")))?;
    let (outcome, header) = written.map_err(|e| {
        if e.is_disk_full() {
            node.space.mark_full();
        }
        tracing::warn!(error = %e, "chunk refused");
        e.to_rpc()
    })?;
    let status = match outcome {
        PutOutcome::Stored => StatusCode::CREATED,
        PutOutcome::AlreadyHeld => StatusCode::OK,
    };
    Ok(json_response(
        status,
        &ChunkPutResp {
            len: header.data_len,
            crc32c: header.crc32c,
        },
    ))
}

/// `GET /chunk/<id>`, whole or one range; blocks are verified before they are sent.
async fn get_chunk(
    node: &Arc<Node>,
    id: ChunkId,
    req: &Request<Incoming>,
) -> Result<Response<Body>, RpcError> {
    let range = match req.headers().get(header::RANGE) {
        None => None,
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| RpcError::invalid("Range header is not text"))?;
            Some(stream::parse_range(text).map_err(RpcError::invalid)?)
        }
    };
    // Observed when the response body is dropped: after its last byte, or when abandoned.
    let timer = Timer::start(node.metrics.read_seconds.clone());
    let opened = match stream::open(node, id, range).await {
        Ok(opened) => opened,
        Err(OpenError::Store(e)) => return Err(e.to_rpc()),
        Err(OpenError::Unsatisfiable { len }) => {
            let mut resp = status_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                RpcError::invalid(format!("range is outside chunk {id} of {len} bytes")),
            );
            insert_header(&mut resp, header::CONTENT_RANGE, format!("bytes */{len}"));
            return Ok(resp);
        }
    };
    let (start, end, len) = (opened.start, opened.end, opened.len);
    let body = opened.body.map_frame(move |frame| {
        let _alive = &timer;
        frame
    });
    let mut resp = Response::new(body.boxed());
    insert_header(&mut resp, header::CONTENT_LENGTH, (end - start).to_string());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // The whole chunk's CRC, so a reader can check what it assembled.
    insert_header(
        &mut resp,
        header::HeaderName::from_static(CONTENT_HEADER),
        format!("crc32c={}", crc_to_hex(opened.crc32c)),
    );
    if range.is_some() {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        insert_header(
            &mut resp,
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", end - 1),
        );
    }
    Ok(resp)
}

fn insert_header(resp: &mut Response<Body>, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, value);
    }
}

/// `DELETE /chunk/<id>`: 204 whether or not the chunk was here (deletes are retried).
async fn delete_chunk(node: &Arc<Node>, id: ChunkId) -> Result<Response<Body>, RpcError> {
    let store_node = Arc::clone(node);
    let span = tracing::Span::current();
    let removed =
        tokio::task::spawn_blocking(move || span.in_scope(|| store_node.store.delete(id)))
            .await
            .map_err(|e| RpcError::internal(format!("delete of chunk {id} failed: {e}")))?
            .map_err(|e| e.to_rpc())?;
    if removed {
        tracing::debug!("chunk deleted");
    }
    let mut resp = Response::new(dfs_common::http::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

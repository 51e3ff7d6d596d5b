//! Fetching one piece of a chunk slice from the replicas that hold it.

use super::plan::{stored_range, Piece};
use crate::DfsClient;
use bytes::{Bytes, BytesMut};
use dfs_common::auth::NO_CONTENT;
use dfs_common::checksum::{crc32c, crc_to_hex};
use dfs_common::http::{empty, error_from_response};
use dfs_common::wire::{ChunkInfo, Replica, CHUNK_PATH_PREFIX};
use dfs_common::{ErrorCode, RpcError};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use std::time::Duration;

/// How long a chunkd may take to start answering a chunk read.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a chunk body may stall between two pieces before the replica is given up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// Fetches `piece` of the slice `chunk` of the file `path` from the first replica that serves
/// it, live replicas first.
pub(super) async fn fetch_piece(
    client: &DfsClient,
    path: &str,
    chunk: &ChunkInfo,
    piece: Piece,
) -> Result<Bytes, RpcError> {
    let mut replicas: Vec<&Replica> = chunk.replicas.iter().collect();
    // Dead replicas last: metad's view may be stale, so they are still worth a try.
    replicas.sort_by_key(|r| !r.live);
    let mut last: Option<RpcError> = None;
    for replica in &replicas {
        match fetch_from(client, &replica.addr, chunk, piece).await {
            Ok(bytes) => return Ok(bytes),
            Err(err) => {
                tracing::warn!(
                    "chunk {} (at byte {} of {path}) from node {} at {}: {err}",
                    chunk.id,
                    chunk.offset,
                    replica.node,
                    replica.addr
                );
                last = Some(err);
            }
        }
    }
    let (code, why) = match last {
        // Missing everywhere is lost data, not a missing file.
        Some(err) if err.code == ErrorCode::NotFound => (ErrorCode::Unavailable, err.message),
        Some(err) => (err.code, err.message),
        None => (ErrorCode::Unavailable, "it has no replica".to_owned()),
    };
    Err(RpcError::new(
        code,
        format!(
            "cannot read chunk {} (at byte {}) of {path} from any of its {} replica(s): {why}",
            chunk.id,
            chunk.offset,
            replicas.len()
        ),
    ))
}

/// `GET /chunk/<id>` from one replica, with a `Range` unless the piece is the whole stored
/// chunk; checks the length, and the CRC32C whenever the whole chunk came back.
async fn fetch_from(
    client: &DfsClient,
    addr: &str,
    chunk: &ChunkInfo,
    piece: Piece,
) -> Result<Bytes, RpcError> {
    let range = stored_range(chunk, piece).map_err(RpcError::internal)?;
    let mut headers = HeaderMap::new();
    if !range.whole {
        let text = format!("bytes={}-{}", range.start, range.end.saturating_sub(1));
        let value = HeaderValue::from_str(&text)
            .map_err(|e| RpcError::internal(format!("bad range header {text}: {e}")))?;
        headers.insert(http::header::RANGE, value);
    }
    let path = format!("{CHUNK_PATH_PREFIX}{}", chunk.id);
    let send =
        client
            .http()
            .send_with_headers(Method::GET, addr, &path, NO_CONTENT, headers, empty());
    let resp = tokio::time::timeout(RESPONSE_TIMEOUT, send)
        .await
        .map_err(|_| {
            RpcError::unavailable(format!("no answer within {} s", RESPONSE_TIMEOUT.as_secs()))
        })??;
    let status = resp.status();
    if !status.is_success() {
        return Err(error_from_response(resp).await);
    }
    // A chunkd that ignores the range sends the whole chunk: cut the piece out of it.
    let (expected, cut) = if status == StatusCode::PARTIAL_CONTENT {
        (range.end - range.start, None)
    } else {
        (chunk.stored_len(), (!range.whole).then_some(range))
    };
    let body = read_exact_body(resp.into_body(), expected).await?;
    if status != StatusCode::PARTIAL_CONTENT {
        let crc = crc32c(&body);
        if crc != chunk.crc32c {
            return Err(RpcError::new(
                ErrorCode::ChecksumMismatch,
                format!(
                    "crc32c {} does not match the recorded {}",
                    crc_to_hex(crc),
                    crc_to_hex(chunk.crc32c)
                ),
            ));
        }
    }
    Ok(match cut {
        Some(range) => body.slice(range.start as usize..range.end as usize),
        None => body,
    })
}

/// Reads a body of exactly `expected` bytes, giving up when it stalls for [`IDLE_TIMEOUT`].
async fn read_exact_body(
    mut body: hyper::body::Incoming,
    expected: u64,
) -> Result<Bytes, RpcError> {
    let capacity = usize::try_from(expected)
        .map_err(|_| RpcError::internal(format!("a chunk of {expected} bytes does not fit")))?;
    let mut buf = BytesMut::with_capacity(capacity);
    loop {
        let frame = tokio::time::timeout(IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| {
                RpcError::unavailable(format!(
                    "the body stalled for {} s after {} of {expected} bytes",
                    IDLE_TIMEOUT.as_secs(),
                    buf.len()
                ))
            })?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| {
            RpcError::unavailable(format!(
                "the body broke off after {} of {expected} bytes: {e}",
                buf.len()
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            if (buf.len() + data.len()) as u64 > expected {
                return Err(RpcError::internal(format!(
                    "the body is longer than the expected {expected} bytes"
                )));
            }
            buf.extend_from_slice(&data);
        }
    }
    if buf.len() as u64 != expected {
        return Err(RpcError::unavailable(format!(
            "the body ended after {} of {expected} bytes",
            buf.len()
        )));
    }
    Ok(buf.freeze())
}

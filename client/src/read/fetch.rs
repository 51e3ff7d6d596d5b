//! Fetching one piece of a chunk slice from the replicas that hold it.

use super::plan::{stored_range, Piece};
use crate::DfsClient;
use bytes::{Bytes, BytesMut};
use dfs_common::auth::NO_CONTENT;
use dfs_common::checksum::{crc32c, crc_to_hex};
use dfs_common::http::{empty, error_from_response};
use dfs_common::wire::{ChunkInfo, Replica, CHUNK_PATH_PREFIX};
use dfs_common::{ErrorCode, ErrorDetail, RpcError};
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
    let mut failures = Vec::with_capacity(replicas.len());
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
                failures.push((*replica, err));
            }
        }
    }
    Err(no_replica_served(path, chunk, &failures))
}

/// The error of a piece no replica served. The data is lost (an error no client retries) when
/// no failure could pass: every copy is missing or bad, or on a chunkd metad has declared dead.
/// Otherwise a live chunkd failed for a reason that may pass (overloaded, restarting, a network
/// error): its error stands, and a retry may work. The message names nodes by id only: it may
/// reach an S3 client, which has no business with internal addresses.
fn no_replica_served(path: &str, chunk: &ChunkInfo, failures: &[(&Replica, RpcError)]) -> RpcError {
    let where_ = format!("chunk {} (at byte {}) of {path}", chunk.id, chunk.offset);
    let bad_copy = |err: &RpcError| {
        matches!(
            err.code,
            ErrorCode::NotFound | ErrorCode::Corrupt | ErrorCode::ChecksumMismatch
        )
    };
    let transient = failures
        .iter()
        .find(|(replica, err)| replica.live && !bad_copy(err));
    if let Some((replica, err)) = transient {
        return RpcError {
            message: format!(
                "cannot read {where_} from any of its {} replica(s); node {}: {}",
                failures.len(),
                replica.node,
                crate::upload::naming_node_by_id(&err.message, replica)
            ),
            ..err.clone()
        };
    }
    let copies: Vec<String> = failures
        .iter()
        .map(|(replica, err)| match bad_copy(err) {
            true => format!("node {} has no good copy", replica.node),
            false => format!("node {} is down", replica.node),
        })
        .collect();
    let copies = match copies.is_empty() {
        true => "no node holds a copy".to_owned(),
        false => copies.join(", "),
    };
    RpcError::detailed(
        ErrorDetail::DataLost,
        format!(
            "{where_} has no readable copy ({copies}); it can be read again only if a \
             chunkd that held it returns"
        ),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::{ChunkId, NodeId};

    fn replica(node: u64, live: bool) -> Replica {
        Replica {
            node: NodeId(node),
            addr: format!("10.0.0.{node}:7800"),
            live,
        }
    }

    fn chunk() -> ChunkInfo {
        ChunkInfo {
            id: ChunkId(7),
            offset: 8 << 20,
            len: 100,
            crc32c: 0,
            replicas: Vec::new(),
            chunk_offset: 0,
            chunk_len: 0,
        }
    }

    fn served(failures: &[(Replica, RpcError)]) -> RpcError {
        let failures: Vec<(&Replica, RpcError)> =
            failures.iter().map(|(r, e)| (r, e.clone())).collect();
        no_replica_served("/b/k", &chunk(), &failures)
    }

    /// Copies missing or corrupt everywhere, or held only by dead chunkds: lost, named by node
    /// id and never by address.
    #[test]
    fn no_copy_that_may_return_soon_is_lost_data() {
        let gone = RpcError::not_found("no chunk 7");
        let refused = RpcError::detailed(ErrorDetail::Unreachable, "connection refused");
        let cases = [
            vec![
                (replica(1, true), gone.clone()),
                (replica(2, false), refused),
            ],
            vec![
                (replica(1, true), RpcError::new(ErrorCode::Corrupt, "crc")),
                (replica(2, true), gone),
            ],
            vec![],
        ];
        for failures in cases {
            let err = served(&failures);
            assert!(err.is(ErrorDetail::DataLost), "{failures:?}: {err:?}");
            assert!(!err.message.contains("10.0.0."), "{}", err.message);
            let place = format!("chunk {} (at byte 8388608) of /b/k", ChunkId(7));
            assert!(err.message.contains(&place), "{err}");
        }
        let err = served(&[(replica(3, false), RpcError::unavailable("refused"))]);
        assert!(err.message.contains("node 3 is down"), "{err}");
    }

    /// A live chunkd that failed for a reason that may pass keeps the error retryable.
    #[test]
    fn a_live_replica_that_may_recover_keeps_its_error() {
        let err = served(&[
            (replica(1, true), RpcError::not_found("no chunk 7")),
            (
                replica(2, true),
                RpcError::unavailable("10.0.0.2:7800 overloaded"),
            ),
        ]);
        assert_eq!(err.code, ErrorCode::Unavailable);
        assert!(!err.is(ErrorDetail::DataLost));
        assert!(err.message.contains("node 2: node 2 overloaded"), "{err}");
    }
}

//! The read pipeline: a [`FileReader`] streams a byte range of a committed file, chunk by
//! chunk, from the first replica that answers, with a small prefetch.

use crate::DfsClient;
use bytes::{Bytes, BytesMut};
use dfs_common::auth::NO_CONTENT;
use dfs_common::checksum::{crc32c, crc_to_hex};
use dfs_common::http::{empty, error_from_response};
use dfs_common::request_id;
use dfs_common::wire::{ChunkInfo, Entry, Replica, CHUNK_PATH_PREFIX};
use dfs_common::{ErrorCode, RpcError};
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a chunkd may take to start answering a chunk read.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a chunk body may stall between two pieces before the replica is given up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Chunks fetched but not yet taken by the consumer: with the one the consumer holds and the
/// one the fetcher is working on, a stream holds at most three chunks.
const PREFETCH_QUEUE: usize = 1;

/// A committed file opened for reading: its entry and chunk map, fetched once at open.
#[derive(Clone, Debug)]
pub struct FileReader {
    client: DfsClient,
    path: String,
    entry: Entry,
    chunks: Arc<Vec<ChunkInfo>>,
}

/// The part of one chunk slice (an entry of the file's chunk list) that a range read needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Index of the chunk in the file's chunk list.
    pub chunk: usize,
    /// First byte wanted, relative to the slice's start.
    pub from: u64,
    /// One past the last byte wanted, relative to the slice's start.
    pub to: u64,
}

/// The chunk pieces covering bytes `[start, end)` of a file of `size` bytes, in order. `end`
/// is clamped to the size; an empty range needs no piece. Fails when the chunk list does not
/// cover the range without gaps (inconsistent metadata).
pub fn plan_range(
    chunks: &[ChunkInfo],
    size: u64,
    start: u64,
    end: u64,
) -> Result<Vec<Piece>, String> {
    let end = end.min(size);
    let mut pieces = Vec::new();
    if start >= end {
        return Ok(pieces);
    }
    let mut pos = start;
    for (index, chunk) in chunks.iter().enumerate() {
        let chunk_end = chunk.offset.saturating_add(chunk.len);
        if chunk_end <= pos {
            continue;
        }
        if chunk.offset >= end {
            break;
        }
        if chunk.offset > pos {
            return Err(format!(
                "no chunk holds bytes {pos}..{} (chunk {index} starts at {})",
                chunk.offset, chunk.offset
            ));
        }
        let piece_end = chunk_end.min(end);
        pieces.push(Piece {
            chunk: index,
            from: pos - chunk.offset,
            to: piece_end - chunk.offset,
        });
        pos = piece_end;
        if pos == end {
            return Ok(pieces);
        }
    }
    Err(format!(
        "the chunk list ends at byte {pos}, before the end of the range ({end})"
    ))
}

impl FileReader {
    pub(crate) fn new(
        client: DfsClient,
        path: String,
        entry: Entry,
        chunks: Vec<ChunkInfo>,
    ) -> Self {
        FileReader {
            client,
            path,
            entry,
            chunks: Arc::new(chunks),
        }
    }

    /// The file's entry as it was at open.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The file's chunks with their replicas, as they were at open.
    pub fn chunks(&self) -> &[ChunkInfo] {
        &self.chunks
    }

    /// Streams bytes `[start, end_exclusive)` (the end is clamped to the file's size). Each
    /// item is one chunk or the part of it in range. Chunks are fetched by a task of their own
    /// that keeps one chunk ready ahead of the consumer; dropping the stream stops it. After an
    /// error the stream yields that `Err` and ends: it never ends early without one.
    ///
    /// The stream must be polled inside a tokio runtime.
    pub fn stream(
        &self,
        start: u64,
        end_exclusive: u64,
    ) -> impl Stream<Item = Result<Bytes, RpcError>> + Send + 'static {
        let plan = plan_range(&self.chunks, self.entry.size, start, end_exclusive)
            .map_err(|e| RpcError::internal(format!("cannot read {}: {e}", self.path)));
        let fetcher = Fetcher {
            client: self.client.clone(),
            path: self.path.clone(),
            chunks: self.chunks.clone(),
        };
        futures_util::stream::unfold(State::Start(plan, fetcher), |state| async move {
            match state {
                State::Start(Err(err), _) => Some((Err(err), State::Done)),
                State::Start(Ok(pieces), _) if pieces.is_empty() => None,
                State::Start(Ok(pieces), fetcher) => {
                    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                        let err = RpcError::internal(
                            "FileReader::stream must be polled inside a tokio runtime",
                        );
                        return Some((Err(err), State::Done));
                    };
                    let (tx, rx) = mpsc::channel(PREFETCH_QUEUE);
                    let remaining = pieces.len();
                    let path = fetcher.path.clone();
                    // Task-locals do not cross `spawn`: carry the request id over.
                    runtime.spawn(request_id::in_current(fetcher.run(pieces, tx)));
                    next_piece(rx, remaining, path).await
                }
                State::Running {
                    rx,
                    remaining,
                    path,
                } => next_piece(rx, remaining, path).await,
                State::Done => None,
            }
        })
    }
}

/// The consumer side of a range stream.
enum State {
    Start(Result<Vec<Piece>, RpcError>, Fetcher),
    Running {
        rx: mpsc::Receiver<Result<Bytes, RpcError>>,
        remaining: usize,
        path: String,
    },
    Done,
}

async fn next_piece(
    mut rx: mpsc::Receiver<Result<Bytes, RpcError>>,
    remaining: usize,
    path: String,
) -> Option<(Result<Bytes, RpcError>, State)> {
    if remaining == 0 {
        return None;
    }
    match rx.recv().await {
        Some(Ok(bytes)) => Some((
            Ok(bytes),
            State::Running {
                rx,
                remaining: remaining - 1,
                path,
            },
        )),
        Some(Err(err)) => Some((Err(err), State::Done)),
        // The fetch task ended without an error and without every piece: never end the
        // stream as if the data were complete.
        None => Some((
            Err(RpcError::internal(format!(
                "the read of {path} stopped before its end"
            ))),
            State::Done,
        )),
    }
}

/// The producer side: fetches the pieces in order.
struct Fetcher {
    client: DfsClient,
    path: String,
    chunks: Arc<Vec<ChunkInfo>>,
}

impl Fetcher {
    async fn run(self, pieces: Vec<Piece>, tx: mpsc::Sender<Result<Bytes, RpcError>>) {
        for piece in pieces {
            let result = tokio::select! {
                result = self.fetch_piece(piece) => result,
                // The consumer went away: stop fetching at once.
                () = tx.closed() => return,
            };
            let failed = result.is_err();
            if tx.send(result).await.is_err() || failed {
                return;
            }
        }
    }

    /// Fetches one piece from the first replica that serves it, live replicas first.
    async fn fetch_piece(&self, piece: Piece) -> Result<Bytes, RpcError> {
        let Some(chunk) = self.chunks.get(piece.chunk) else {
            return Err(RpcError::internal(format!(
                "chunk {} of {} is not in its chunk list",
                piece.chunk, self.path
            )));
        };
        let mut replicas: Vec<&Replica> = chunk.replicas.iter().collect();
        // Dead replicas last: metad's view may be stale, so they are still worth a try.
        replicas.sort_by_key(|r| !r.live);
        let mut last: Option<RpcError> = None;
        for replica in &replicas {
            match fetch_from(&self.client, &replica.addr, chunk, piece).await {
                Ok(bytes) => return Ok(bytes),
                Err(err) => {
                    tracing::warn!(
                        "chunk {} ({} of {}) from node {} at {}: {err}",
                        chunk.id,
                        piece.chunk,
                        self.path,
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
                "cannot read chunk {} ({}) of {} from any of its {} replica(s): {why}",
                piece.chunk,
                chunk.id,
                self.path,
                replicas.len()
            ),
        ))
    }
}

/// The bytes of a stored chunk that a piece needs: `[start, end)` in the stored chunk (a
/// file's chunk may be a slice of the stored one), and whether that is the whole chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredRange {
    /// First byte, in the stored chunk.
    pub start: u64,
    /// One past the last byte, in the stored chunk.
    pub end: u64,
    /// Whether the range is the whole stored chunk (then its CRC32C can be checked).
    pub whole: bool,
}

/// Where `piece` (relative to the slice `chunk`) lies in the stored chunk. Fails when the
/// slice does not fit in the stored chunk (inconsistent metadata).
pub fn stored_range(chunk: &ChunkInfo, piece: Piece) -> Result<StoredRange, String> {
    let stored = chunk.stored_len();
    let start = chunk.chunk_offset.checked_add(piece.from);
    let end = chunk.chunk_offset.checked_add(piece.to);
    match (start, end) {
        (Some(start), Some(end)) if start <= end && end <= stored && piece.to <= chunk.len => {
            Ok(StoredRange {
                start,
                end,
                whole: start == 0 && end == stored,
            })
        }
        _ => Err(format!(
            "bytes {}..{} of a slice of {} bytes at offset {} do not fit in chunk {} of {stored} bytes",
            piece.from, piece.to, chunk.len, chunk.chunk_offset, chunk.id
        )),
    }
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
    use dfs_common::ChunkId;

    fn chunks(lens: &[u64]) -> Vec<ChunkInfo> {
        let mut offset = 0;
        lens.iter()
            .enumerate()
            .map(|(i, &len)| {
                let chunk = ChunkInfo {
                    id: ChunkId(i as u64 + 1),
                    offset,
                    len,
                    crc32c: 0,
                    replicas: Vec::new(),
                    chunk_offset: 0,
                    chunk_len: 0,
                };
                offset += len;
                chunk
            })
            .collect()
    }

    fn piece(chunk: usize, from: u64, to: u64) -> Piece {
        Piece { chunk, from, to }
    }

    #[test]
    fn whole_file() {
        let c = chunks(&[4, 4, 2]);
        assert_eq!(
            plan_range(&c, 10, 0, 10).unwrap(),
            [piece(0, 0, 4), piece(1, 0, 4), piece(2, 0, 2)]
        );
        // An end past the size is clamped.
        assert_eq!(
            plan_range(&c, 10, 0, u64::MAX).unwrap(),
            plan_range(&c, 10, 0, 10).unwrap()
        );
    }

    #[test]
    fn partial_ranges() {
        let c = chunks(&[4, 4, 2]);
        assert_eq!(plan_range(&c, 10, 0, 1).unwrap(), [piece(0, 0, 1)]);
        assert_eq!(
            plan_range(&c, 10, 3, 5).unwrap(),
            [piece(0, 3, 4), piece(1, 0, 1)]
        );
        assert_eq!(plan_range(&c, 10, 4, 8).unwrap(), [piece(1, 0, 4)]);
        assert_eq!(plan_range(&c, 10, 9, 10).unwrap(), [piece(2, 1, 2)]);
        assert_eq!(
            plan_range(&c, 10, 1, 9).unwrap(),
            [piece(0, 1, 4), piece(1, 0, 4), piece(2, 0, 1)]
        );
    }

    #[test]
    fn empty_ranges_need_nothing() {
        let c = chunks(&[4, 4, 2]);
        assert!(plan_range(&c, 10, 5, 5).unwrap().is_empty());
        assert!(plan_range(&c, 10, 7, 3).unwrap().is_empty());
        assert!(plan_range(&c, 10, 10, 20).unwrap().is_empty());
        assert!(plan_range(&[], 0, 0, 100).unwrap().is_empty());
    }

    #[test]
    fn gaps_and_short_lists_are_errors() {
        let mut c = chunks(&[4, 4]);
        c[1].offset = 5;
        assert!(plan_range(&c, 9, 0, 9).is_err());
        assert!(plan_range(&chunks(&[4]), 8, 0, 8).is_err());
        assert!(plan_range(&[], 3, 0, 3).is_err());
    }

    #[test]
    fn slices_read_their_part_of_the_stored_chunk() {
        // A file of three slices: bytes 4..8 of a 10-byte chunk, a whole 4-byte chunk, and
        // the first 2 bytes of a 6-byte chunk.
        let mut c = chunks(&[4, 4, 2]);
        c[0].chunk_offset = 4;
        c[0].chunk_len = 10;
        c[2].chunk_len = 6;
        // Planning is about the file's bytes: slices are entries like any other.
        assert_eq!(
            plan_range(&c, 10, 2, 9).unwrap(),
            [piece(0, 2, 4), piece(1, 0, 4), piece(2, 0, 1)]
        );
        let at = |chunk: usize, from, to| stored_range(&c[chunk], piece(chunk, from, to)).unwrap();
        let range = |start, end, whole| StoredRange { start, end, whole };
        assert_eq!(at(0, 2, 4), range(6, 8, false));
        assert_eq!(at(0, 0, 4), range(4, 8, false));
        assert_eq!(at(1, 0, 4), range(0, 4, true));
        assert_eq!(at(1, 1, 4), range(1, 4, false));
        // Whole slice, but not the whole stored chunk: no CRC check possible.
        assert_eq!(at(2, 0, 2), range(0, 2, false));
        // Metadata that does not fit is refused, not read.
        assert!(stored_range(&c[0], piece(0, 0, 7)).is_err());
        c[0].chunk_offset = u64::MAX;
        assert!(stored_range(&c[0], piece(0, 0, 1)).is_err());
    }

    #[tokio::test]
    async fn empty_file_streams_nothing() {
        use futures_util::StreamExt;
        let client = DfsClient::new(
            "127.0.0.1:1",
            dfs_common::auth::ClusterSecret::new("0123456789abcdef").unwrap(),
        );
        let entry = Entry {
            checksum: None,
            name: "empty".into(),
            kind: dfs_common::wire::EntryKind::File,
            inode: dfs_common::InodeId(7),
            size: 0,
            mtime_ms: 0,
            etag: crate::etag::etag_of(b""),
            content_type: None,
            meta: Vec::new(),
            explicit: false,
            chunk_count: 0,
            part_sizes: Vec::new(),
        };
        let reader = FileReader::new(client, "/b/empty".into(), entry, Vec::new());
        let items: Vec<_> = reader.stream(0, u64::MAX).collect().await;
        assert!(items.is_empty());
    }

    #[tokio::test]
    async fn unreachable_replicas_end_the_stream_with_an_error() {
        use futures_util::StreamExt;
        let client = DfsClient::new(
            "127.0.0.1:1",
            dfs_common::auth::ClusterSecret::new("0123456789abcdef").unwrap(),
        );
        // A port nothing listens on: bind one, note it, close it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .to_string();
        let mut c = chunks(&[4]);
        c[0].replicas = vec![Replica {
            node: dfs_common::NodeId(1),
            addr,
            live: true,
        }];
        let entry = Entry {
            checksum: None,
            name: "x".into(),
            kind: dfs_common::wire::EntryKind::File,
            inode: dfs_common::InodeId(8),
            size: 4,
            mtime_ms: 0,
            etag: String::new(),
            content_type: None,
            meta: Vec::new(),
            explicit: false,
            chunk_count: 1,
            part_sizes: Vec::new(),
        };
        let reader = FileReader::new(client, "/b/x".into(), entry, c);
        let items: Vec<_> = reader.stream(0, 4).collect().await;
        assert_eq!(items.len(), 1);
        let err = items[0].clone().unwrap_err();
        assert_eq!(err.code, ErrorCode::Unavailable);
        assert!(err.message.contains("/b/x"), "{}", err.message);
    }
}

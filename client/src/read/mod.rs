//! The read pipeline: a [`FileReader`] streams a byte range of a committed file, chunk by
//! chunk, from the first replica that answers, with a small prefetch. The chunk list is read
//! from metad a page at a time ([`MAX_CHUNK_PAGE`](dfs_common::wire::MAX_CHUNK_PAGE) slices),
//! as the stream reaches it, so a read of any range of any file holds one page, never the list
//! of a whole file.

mod fetch;
mod plan;

pub use plan::{plan_range, stored_range, Piece, StoredRange};

use crate::DfsClient;
use bytes::Bytes;
use dfs_common::request_id;
use dfs_common::wire::{ChunkInfo, Entry, StatResp};
use dfs_common::{ErrorCode, RpcError};
use futures_util::Stream;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Chunks fetched but not yet taken by the consumer: with the one the consumer holds and the
/// one the fetcher is working on, a stream holds at most three chunks.
const PREFETCH_QUEUE: usize = 1;

/// A committed file opened for reading: its entry, and the first page of its chunk list,
/// fetched at open; later pages are fetched as a stream needs them.
#[derive(Clone, Debug)]
pub struct FileReader {
    client: DfsClient,
    path: String,
    entry: Entry,
    first: Arc<ChunkPage>,
}

/// Consecutive slices of a file's chunk list, as metad sent them.
#[derive(Debug)]
struct ChunkPage {
    chunks: Vec<ChunkInfo>,
    /// Where the slice after the page starts, when there is one.
    next: Option<u64>,
}

impl ChunkPage {
    /// The byte the page reaches: where the next page starts, or the end of the file.
    fn end(&self, size: u64) -> u64 {
        self.next.unwrap_or(size)
    }

    /// Whether the page holds byte `pos` of a file of `size` bytes.
    fn holds(&self, pos: u64, size: u64) -> bool {
        self.chunks.first().is_some_and(|c| c.offset <= pos) && pos < self.end(size)
    }
}

impl FileReader {
    pub(crate) fn new(client: DfsClient, path: String, stat: StatResp) -> Self {
        FileReader {
            client,
            path,
            entry: stat.entry,
            first: Arc::new(ChunkPage {
                chunks: stat.chunks,
                next: stat.chunks_next,
            }),
        }
    }

    /// The file's entry as it was at open.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Streams bytes `[start, end_exclusive)` (the end is clamped to the file's size). Each
    /// item is one chunk or the part of it in range. Chunks are fetched by a task of their own
    /// that keeps one chunk ready ahead of the consumer, and asks metad for the next page of
    /// the chunk list when it reaches the end of one; dropping the stream stops it. After an
    /// error the stream yields that `Err` and ends: it never ends early without one. A file
    /// replaced while it is read ends the stream with `Conflict` when the next page is asked
    /// for (the replacement's bytes are never mixed in).
    ///
    /// The stream must be polled inside a tokio runtime.
    pub fn stream(
        &self,
        start: u64,
        end_exclusive: u64,
    ) -> impl Stream<Item = Result<Bytes, RpcError>> + Send + 'static {
        let end = end_exclusive.min(self.entry.size);
        let fetcher = Fetcher {
            client: self.client.clone(),
            path: self.path.clone(),
            entry: self.entry.clone(),
            first: self.first.clone(),
        };
        futures_util::stream::unfold(
            State::Start(Box::new(fetcher), start, end),
            |state| async move {
                match state {
                    State::Start(_, start, end) if start >= end => None,
                    State::Start(fetcher, start, end) => {
                        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                            let err = RpcError::internal(
                                "FileReader::stream must be polled inside a tokio runtime",
                            );
                            return Some((Err(err), State::Done));
                        };
                        let (tx, rx) = mpsc::channel(PREFETCH_QUEUE);
                        let path = fetcher.path.clone();
                        // Task-locals do not cross `spawn`: carry the request id over.
                        runtime.spawn(request_id::in_current(fetcher.run(start, end, tx)));
                        next_piece(rx, end - start, path).await
                    }
                    State::Running {
                        rx,
                        remaining,
                        path,
                    } => next_piece(rx, remaining, path).await,
                    State::Done => None,
                }
            },
        )
    }
}

/// The consumer side of a range stream.
enum State {
    Start(Box<Fetcher>, u64, u64),
    Running {
        rx: mpsc::Receiver<Result<Bytes, RpcError>>,
        /// Bytes of the range not received yet.
        remaining: u64,
        path: String,
    },
    Done,
}

async fn next_piece(
    mut rx: mpsc::Receiver<Result<Bytes, RpcError>>,
    remaining: u64,
    path: String,
) -> Option<(Result<Bytes, RpcError>, State)> {
    if remaining == 0 {
        return None;
    }
    match rx.recv().await {
        Some(Ok(bytes)) if bytes.len() as u64 <= remaining => {
            let remaining = remaining - bytes.len() as u64;
            Some((
                Ok(bytes),
                State::Running {
                    rx,
                    remaining,
                    path,
                },
            ))
        }
        Some(Ok(_)) => Some((
            Err(RpcError::internal(format!(
                "the read of {path} returned more bytes than its range"
            ))),
            State::Done,
        )),
        Some(Err(err)) => Some((Err(err), State::Done)),
        // The fetch task ended without an error and without every byte: never end the stream
        // as if the data were complete.
        None => Some((
            Err(RpcError::internal(format!(
                "the read of {path} stopped before its end"
            ))),
            State::Done,
        )),
    }
}

/// The producer side: walks the chunk list page by page and fetches the pieces in order.
struct Fetcher {
    client: DfsClient,
    path: String,
    entry: Entry,
    first: Arc<ChunkPage>,
}

impl Fetcher {
    async fn run(self, start: u64, end: u64, tx: mpsc::Sender<Result<Bytes, RpcError>>) {
        let size = self.entry.size;
        let mut page = self.first.clone();
        let mut pos = start;
        // Where the chunk list was last read again after a failed piece.
        let mut refreshed_at = None;
        'pages: while pos < end {
            if !page.holds(pos, size) {
                let fetched = tokio::select! {
                    fetched = self.page_at(pos, end) => fetched,
                    () = tx.closed() => return,
                };
                match fetched {
                    Ok(next) => page = Arc::new(next),
                    Err(err) => {
                        let _ = tx.send(Err(err)).await;
                        return;
                    }
                }
            }
            let page_end = page.end(size).min(end);
            let pieces = match plan_range(&page.chunks, size, pos, page_end) {
                Ok(pieces) => pieces,
                Err(e) => {
                    let err = RpcError::internal(format!("cannot read {}: {e}", self.path));
                    let _ = tx.send(Err(err)).await;
                    return;
                }
            };
            for piece in pieces {
                let chunk = &page.chunks[piece.chunk];
                let at = chunk.offset + piece.from;
                let result = tokio::select! {
                    result = fetch::fetch_piece(&self.client, &self.path, chunk, piece) => result,
                    // The consumer went away: stop fetching at once.
                    () = tx.closed() => return,
                };
                if result.is_err() && refreshed_at != Some(at) {
                    // The page may predate a repair that copied the chunk elsewhere, or a
                    // chunkd's return: read it again from metad, once, before giving up. If
                    // that fails too, the piece's own error is the one worth reporting.
                    refreshed_at = Some(at);
                    let fresh = tokio::select! {
                        fresh = self.page_at(at, end) => fresh,
                        () = tx.closed() => return,
                    };
                    if let Ok(fresh) = fresh {
                        page = Arc::new(fresh);
                        pos = at;
                        continue 'pages;
                    }
                }
                let failed = result.is_err();
                if tx.send(result).await.is_err() || failed {
                    return;
                }
            }
            pos = page_end;
        }
    }

    /// The page of the chunk list holding byte `pos`, from metad; refuses one of another
    /// version of the file.
    async fn page_at(&self, pos: u64, end: u64) -> Result<ChunkPage, RpcError> {
        let stat = self.client.stat_chunks(&self.path, pos, end).await?;
        if stat.entry.inode != self.entry.inode {
            return Err(RpcError::new(
                ErrorCode::Conflict,
                format!(
                    "{} was replaced while it was being read (at byte {pos})",
                    self.path
                ),
            ));
        }
        let page = ChunkPage {
            chunks: stat.chunks,
            next: stat.chunks_next,
        };
        if !page.holds(pos, self.entry.size) {
            return Err(RpcError::internal(format!(
                "metad's chunk list of {} has no slice holding byte {pos}",
                self.path
            )));
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::wire::Replica;
    use plan::whole_chunks as chunks;

    fn stat(entry: Entry, chunks: Vec<ChunkInfo>) -> StatResp {
        StatResp {
            entry,
            chunks,
            chunks_next: None,
        }
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
        let reader = FileReader::new(client, "/b/empty".into(), stat(entry, Vec::new()));
        let items: Vec<_> = reader.stream(0, u64::MAX).collect().await;
        assert!(items.is_empty());
    }

    #[tokio::test]
    async fn unreachable_replicas_end_the_stream_with_an_error() {
        use futures_util::StreamExt;
        // No metad either: the reader's second look at the chunk list fails fast.
        let client = DfsClient::new(
            "127.0.0.1:1",
            dfs_common::auth::ClusterSecret::new("0123456789abcdef").unwrap(),
        )
        .with_retry_policy(crate::RetryPolicy {
            deadline: std::time::Duration::from_millis(100),
            ..Default::default()
        });
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
        let reader = FileReader::new(client, "/b/x".into(), stat(entry, c));
        let items: Vec<_> = reader.stream(0, 4).collect().await;
        assert_eq!(items.len(), 1);
        let err = items[0].clone().unwrap_err();
        assert_eq!(err.code, ErrorCode::Unavailable);
        assert!(err.message.contains("/b/x"), "{}", err.message);
    }
}

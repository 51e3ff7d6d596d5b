//! Streaming a chunk (or a byte range of it) out of its file with bounded memory: a blocking
//! thread reads and verifies one block at a time and feeds a small channel that a response or
//! request body drains. A block is sent only after its CRC was checked.

use crate::store::StoreError;
use crate::Node;
use bytes::Bytes;
use dfs_common::http::BoxError;
use dfs_common::ChunkId;
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};

/// Blocks buffered between the reader thread and the network.
const STREAM_DEPTH: usize = 4;

/// A byte range as asked for by a `Range: bytes=...` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeReq {
    /// `A-B` (inclusive end) or `A-` (to the end).
    From(u64, Option<u64>),
    /// `-N`: the last N bytes.
    Suffix(u64),
}

/// Parses a single-range `Range` header value.
pub fn parse_range(value: &str) -> Result<RangeReq, String> {
    let bad =
        || format!("unsupported Range header {value:?} (expected bytes=A-B, bytes=A- or bytes=-N)");
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (first, last) = spec.split_once('-').ok_or_else(bad)?;
    let number = |text: &str| -> Result<u64, String> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        text.parse().map_err(|_| bad())
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => Ok(RangeReq::Suffix(number(suffix)?)),
        (start, "") => Ok(RangeReq::From(number(start)?, None)),
        (start, end) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(bad());
            }
            Ok(RangeReq::From(start, Some(end)))
        }
    }
}

/// The half-open span `[start, end)` of a chunk of `len` bytes that a request covers; `None`
/// when the range cannot be satisfied (HTTP 416).
pub fn resolve_range(range: Option<RangeReq>, len: u64) -> Option<(u64, u64)> {
    match range {
        None => Some((0, len)),
        Some(RangeReq::From(start, _)) if start >= len => None,
        Some(RangeReq::From(start, end)) => {
            let end = end.map_or(len, |e| e.saturating_add(1).min(len));
            Some((start, end))
        }
        Some(RangeReq::Suffix(0)) => None,
        Some(RangeReq::Suffix(_)) if len == 0 => None,
        Some(RangeReq::Suffix(n)) => Some((len.saturating_sub(n), len)),
    }
}

/// Why a chunk stream could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Missing, corrupt (already quarantined and reported), or unreadable.
    Store(StoreError),
    /// The requested range lies outside a chunk of `len` bytes.
    Unsatisfiable {
        /// The chunk's length.
        len: u64,
    },
}

/// An opened chunk stream: the first block of the span is already read and verified.
pub struct Opened {
    /// The chunk's length.
    pub len: u64,
    /// The chunk's whole-data CRC32C.
    pub crc32c: u32,
    /// First byte sent.
    pub start: u64,
    /// One past the last byte sent.
    pub end: u64,
    /// The bytes of `[start, end)`.
    pub body: ChannelBody,
}

/// Opens chunk `id` and starts streaming the span `range` asks for. Errors found before the
/// first byte (missing chunk, bad header, bad first block, bad range) come back here, so the
/// caller can still answer with an error status; later corruption ends the body with an error.
pub async fn open(
    node: &Arc<Node>,
    id: ChunkId,
    range: Option<RangeReq>,
) -> Result<Opened, OpenError> {
    let (first_tx, first_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel(STREAM_DEPTH);
    let reader_node = Arc::clone(node);
    // The caller's span (a request's, with its id) follows the reader to its thread.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| read_blocks(&reader_node, id, range, first_tx, tx))
    });
    match first_rx.await {
        Ok(Ok((len, crc32c, start, end))) => Ok(Opened {
            len,
            crc32c,
            start,
            end,
            body: ChannelBody {
                rx,
                remaining: end - start,
            },
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(OpenError::Store(StoreError::Corrupt {
            id,
            reason: "the reader thread ended unexpectedly".into(),
        })),
    }
}

type FirstAnswer = Result<(u64, u32, u64, u64), OpenError>;

/// The blocking half of [`open`].
fn read_blocks(
    node: &Arc<Node>,
    id: ChunkId,
    range: Option<RangeReq>,
    first_tx: oneshot::Sender<FirstAnswer>,
    tx: mpsc::Sender<Result<Bytes, BoxError>>,
) {
    let fail = |e: StoreError| {
        if matches!(e, StoreError::Corrupt { .. }) {
            node.corrupt_chunk(id, &e);
        }
        e
    };
    let opened = node.store.open_chunk(id).map_err(fail);
    let reader = match opened {
        Ok(reader) => reader,
        Err(e) => {
            let _ = first_tx.send(Err(OpenError::Store(e)));
            return;
        }
    };
    let header = reader.header();
    let Some((start, end)) = resolve_range(range, header.data_len) else {
        let _ = first_tx.send(Err(OpenError::Unsatisfiable {
            len: header.data_len,
        }));
        return;
    };
    let block_size = u64::from(header.block_size);
    let blocks = if start < end {
        start / block_size..(end - 1) / block_size + 1
    } else {
        0..0
    };
    let mut first_tx = Some(first_tx);
    if blocks.is_empty() {
        if let Some(first) = first_tx.take() {
            let _ = first.send(Ok((header.data_len, header.crc32c, start, end)));
        }
        return;
    }
    for index in blocks {
        let block = match reader.read_block(index).map_err(fail) {
            Ok(block) => block,
            Err(e) => {
                match first_tx.take() {
                    Some(first) => {
                        let _ = first.send(Err(OpenError::Store(e)));
                    }
                    None => {
                        // Headers are out: the only honest signal left is a failed body.
                        let _ = tx.blocking_send(Err(Box::new(e.to_rpc())));
                    }
                }
                return;
            }
        };
        if let Some(first) = first_tx.take() {
            if first
                .send(Ok((header.data_len, header.crc32c, start, end)))
                .is_err()
            {
                return;
            }
        }
        let block_start = index * block_size;
        let lo = start.saturating_sub(block_start) as usize;
        let hi = (end - block_start).min(block.len() as u64) as usize;
        let bytes = Bytes::from(block).slice(lo..hi);
        if tx.blocking_send(Ok(bytes)).is_err() {
            return; // The receiver went away (client disconnected).
        }
    }
}

/// A body fed by a channel, with an exact length. If the channel closes before `remaining`
/// bytes went through, the body ends with an error, never cleanly short.
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, BoxError>>,
    remaining: u64,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(Some(Err(format!(
                "chunk stream ended {} bytes early",
                self.remaining
            )
            .into()))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("bytes=0-0"), Ok(RangeReq::From(0, Some(0))));
        assert_eq!(parse_range("bytes=5-"), Ok(RangeReq::From(5, None)));
        assert_eq!(parse_range("bytes=-7"), Ok(RangeReq::Suffix(7)));
        for bad in [
            "bytes=",
            "bytes=-",
            "bytes=3-1",
            "items=0-1",
            "bytes=0-1,4-5",
            "bytes=a-b",
            "bytes=+1-2",
        ] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_resolve() {
        assert_eq!(resolve_range(None, 0), Some((0, 0)));
        assert_eq!(
            resolve_range(Some(RangeReq::From(0, Some(0))), 10),
            Some((0, 1))
        );
        assert_eq!(
            resolve_range(Some(RangeReq::From(2, Some(100))), 10),
            Some((2, 10))
        );
        assert_eq!(
            resolve_range(Some(RangeReq::From(9, None)), 10),
            Some((9, 10))
        );
        assert_eq!(resolve_range(Some(RangeReq::From(10, None)), 10), None);
        assert_eq!(resolve_range(Some(RangeReq::Suffix(3)), 10), Some((7, 10)));
        assert_eq!(resolve_range(Some(RangeReq::Suffix(30)), 10), Some((0, 10)));
        assert_eq!(resolve_range(Some(RangeReq::Suffix(0)), 10), None);
        assert_eq!(resolve_range(Some(RangeReq::Suffix(1)), 0), None);
        assert_eq!(resolve_range(Some(RangeReq::From(0, None)), 0), None);
    }
}

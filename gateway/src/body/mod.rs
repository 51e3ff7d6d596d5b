//! The request body pipeline: from hyper frames to verified payload bytes.
//!
//! Frames are read as they arrive. An aws-chunked body goes through the auth module's
//! [`ChunkedDecoder`] (chunk signatures checked, framing dropped: it is never stored). Each
//! payload piece is handed to the sink (the chunk writer of a PUT, a small buffer for XML
//! bodies) and, as the same `Bytes`, to ONE hashing thread fed by a bounded channel, which
//! computes the MD5 (the ETag), the SHA-256 when `x-amz-content-sha256` is a hex hash, and the
//! flexible checksum when the request names one: every byte is hashed once per algorithm, off
//! the network path. Only at the end of the body are the digests compared; the caller commits
//! only if [`stream_body`] returns `Ok`. Memory is bounded by the sink's window and the
//! channel's few slots, never by the object's size.

use crate::auth::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher, ExpectedChecksums};
use crate::auth::content_sha256::ContentSha256;
use crate::auth::verify::BodyCheck;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Payload pieces queued for the hashing thread ahead of the one it is hashing.
const HASH_QUEUE: usize = 8;
/// A body that sends nothing for this long is given up (S3's `RequestTimeout`).
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A body must bring at least [`MIN_BYTES_PER_WINDOW`] per this much time spent waiting for it.
const PACE_WINDOW: Duration = Duration::from_secs(60);
/// See [`PACE_WINDOW`]: about 1 KiB/s, far below any real link.
const MIN_BYTES_PER_WINDOW: u64 = 64 * 1024;

/// The pace of a request body: the time spent waiting for the client (not for the cluster,
/// which may hold the body back while chunks are stored) and the bytes it brought meanwhile.
/// A client trickling its body (a byte a second never trips the idle timeout) would hold a
/// connection, a write session and a chunk buffer for ever; it is cut off with
/// `RequestTimeout` once a window of waiting brought less than the minimum.
#[derive(Default)]
struct Pace {
    waited: Duration,
    bytes: u64,
}

impl Pace {
    /// Counts one wait for the body and the bytes it brought.
    fn record(&mut self, waited: Duration, bytes: u64, total: u64) -> S3Result<()> {
        self.waited += waited;
        self.bytes += bytes;
        if self.waited < PACE_WINDOW {
            return Ok(());
        }
        if self.bytes < MIN_BYTES_PER_WINDOW {
            return Err(
                S3Error::from_code(S3ErrorCode::RequestTimeout).with_source(format!(
                    "the body brought {} bytes in {} s (at least {MIN_BYTES_PER_WINDOW} are \
                     needed), after {total} bytes",
                    self.bytes,
                    self.waited.as_secs()
                )),
            );
        }
        *self = Pace::default();
        Ok(())
    }
}

/// The request body, until a handler takes it. The server drains what is left after an
/// error, so that a keep-alive connection stays usable.
#[derive(Debug)]
pub(crate) struct BodySlot {
    body: Option<Incoming>,
    received: Arc<AtomicU64>,
}

impl BodySlot {
    /// Holds `body`; payload bytes read from it are added to `received`.
    pub(crate) fn new(body: Incoming, received: Arc<AtomicU64>) -> Self {
        BodySlot {
            body: Some(body),
            received,
        }
    }

    /// Takes the body (once).
    pub(crate) fn take(&mut self) -> S3Result<Incoming> {
        self.body
            .take()
            .ok_or_else(|| S3Error::internal("the request body was taken twice"))
    }

    /// The body if no handler took it.
    pub(crate) fn take_left(&mut self) -> Option<Incoming> {
        self.body.take()
    }

    /// The counter of payload bytes received.
    pub(crate) fn received(&self) -> &AtomicU64 {
        &self.received
    }
}

/// Where payload bytes go.
pub(crate) trait PayloadSink: Send {
    /// Accepts the next piece of payload.
    fn write(&mut self, data: Bytes) -> impl Future<Output = S3Result<()>> + Send;
}

impl PayloadSink for dfs_client::FileWriter {
    async fn write(&mut self, data: Bytes) -> S3Result<()> {
        dfs_client::FileWriter::write(self, data)
            .await
            .map_err(|e| S3Error::from_rpc(e, S3ErrorCode::NoSuchBucket))
    }
}

/// Collects a small body (an XML document) of at most `limit` bytes.
#[derive(Debug)]
pub(crate) struct BufferSink {
    /// What was received.
    pub buf: BytesMut,
    limit: usize,
}

impl BufferSink {
    /// A buffer refusing bodies longer than `limit`.
    pub(crate) fn new(limit: usize) -> Self {
        BufferSink {
            buf: BytesMut::new(),
            limit,
        }
    }
}

impl PayloadSink for BufferSink {
    async fn write(&mut self, data: Bytes) -> S3Result<()> {
        if self.buf.len() + data.len() > self.limit {
            return Err(S3Error::new(
                S3ErrorCode::MaxMessageLengthExceeded,
                format!("The request body is longer than {} bytes.", self.limit),
            ));
        }
        self.buf.extend_from_slice(&data);
        Ok(())
    }
}

/// The digests of a payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Digests {
    /// MD5, the ETag of a single-part object.
    pub md5: [u8; 16],
    /// SHA-256, when asked for.
    pub sha256: Option<[u8; 32]>,
    /// The flexible checksum, when asked for.
    pub checksum: Option<Checksum>,
    /// Payload bytes hashed.
    pub len: u64,
}

/// Every digest of one payload, computed in one pass. Synchronous: runs on the hashing thread,
/// and directly in tests.
#[derive(Clone)]
pub(crate) struct PayloadHasher {
    md5: Md5,
    sha256: Option<Sha256>,
    checksum: Option<ChecksumHasher>,
    len: u64,
}

impl PayloadHasher {
    /// A hasher computing MD5, SHA-256 when `sha256`, and the flexible checksum `checksum`.
    pub(crate) fn new(sha256: bool, checksum: Option<ChecksumAlgorithm>) -> Self {
        PayloadHasher {
            md5: Md5::new(),
            sha256: sha256.then(Sha256::new),
            checksum: checksum.map(ChecksumHasher::new),
            len: 0,
        }
    }

    /// Adds payload bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some(sha) = &mut self.sha256 {
            sha.update(data);
        }
        if let Some(checksum) = &mut self.checksum {
            checksum.update(data);
        }
        self.len += data.len() as u64;
    }

    /// The digests of everything added.
    pub(crate) fn finish(self) -> Digests {
        Digests {
            md5: self.md5.finalize().into(),
            sha256: self.sha256.map(|s| s.finalize().into()),
            checksum: self.checksum.map(ChecksumHasher::finish),
            len: self.len,
        }
    }
}

/// A [`PayloadHasher`] running on a blocking thread, fed through a bounded channel: a slow
/// hasher holds the body back instead of piling up memory.
struct HashTask {
    feed: mpsc::Sender<Bytes>,
    result: JoinHandle<Digests>,
}

impl HashTask {
    fn start(hasher: PayloadHasher) -> Self {
        let (feed, mut rx) = mpsc::channel::<Bytes>(HASH_QUEUE);
        let result = tokio::task::spawn_blocking(move || {
            let mut hasher = hasher;
            while let Some(piece) = rx.blocking_recv() {
                hasher.update(&piece);
            }
            hasher.finish()
        });
        HashTask { feed, result }
    }

    async fn feed(&self, piece: Bytes) -> S3Result<()> {
        self.feed
            .send(piece)
            .await
            .map_err(|_| S3Error::internal("the payload hashing thread stopped unexpectedly"))
    }

    async fn finish(self) -> S3Result<Digests> {
        drop(self.feed);
        self.result
            .await
            .map_err(|e| S3Error::internal(format!("the payload hashing thread failed: {e}")))
    }
}

/// A payload received completely, whose every check held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BodyOutcome {
    /// Payload bytes.
    pub len: u64,
    /// Its MD5.
    pub md5: [u8; 16],
    /// The flexible checksum the request named, verified.
    pub checksum: Option<Checksum>,
}

impl BodyOutcome {
    /// The S3 ETag: the quoted hex MD5.
    pub(crate) fn etag(&self) -> String {
        dfs_client::format_etag(&self.md5)
    }
}

/// Reads `body` to its end, passing the payload to `sink`, and checks it: aws-chunked framing
/// and signatures (`check`), the SHA-256 of `x-amz-content-sha256`, `Content-MD5` and the
/// flexible checksum (`expected`), in that order. A payload longer than `max_len` is refused
/// with `too_large` as soon as it is seen. `received` counts payload bytes as they arrive.
pub(crate) async fn stream_body<B, S>(
    body: B,
    check: BodyCheck,
    expected: &ExpectedChecksums,
    max_len: u64,
    received: &AtomicU64,
    sink: &mut S,
) -> S3Result<BodyOutcome>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
    S: PayloadSink,
{
    let (mut decoder, expected_sha256) = match check {
        BodyCheck::Unsigned => (None, None),
        BodyCheck::Sha256(hash) => (None, Some(hash)),
        BodyCheck::Chunked(decoder) => (Some(decoder), None),
    };
    let hasher = PayloadHasher::new(
        expected_sha256.is_some(),
        expected.checksum.map(|c| c.algorithm()),
    );
    let task = HashTask::start(hasher);
    let mut body = body;
    let mut ranges = Vec::new();
    let mut len: u64 = 0;
    let mut pace = Pace::default();
    loop {
        let asked = tokio::time::Instant::now();
        let frame = match tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame()).await {
            Err(_) => {
                return Err(
                    S3Error::from_code(S3ErrorCode::RequestTimeout).with_source(format!(
                        "no body data for {} s after {len} payload bytes",
                        BODY_IDLE_TIMEOUT.as_secs()
                    )),
                )
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(S3Error::from_code(S3ErrorCode::IncompleteBody)
                    .with_source(format!("the request body broke off after {len} bytes: {e}")))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        // HTTP trailers of a chunked transfer carry nothing S3 needs; aws-chunked trailers are
        // inside the data and decoded below.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pace.record(asked.elapsed(), data.len() as u64, len)?;
        let pieces: Vec<Bytes> = match decoder.as_mut() {
            None => vec![data],
            Some(decoder) => {
                ranges.clear();
                decoder.feed(&data, &mut ranges)?;
                ranges.iter().map(|r| data.slice(r.clone())).collect()
            }
        };
        for piece in pieces {
            if piece.is_empty() {
                continue;
            }
            len += piece.len() as u64;
            received.fetch_add(piece.len() as u64, Ordering::Relaxed);
            if len > max_len {
                return Err(S3Error::new(
                    S3ErrorCode::EntityTooLarge,
                    format!(
                        "Your proposed upload exceeds the maximum allowed size of {max_len} bytes."
                    ),
                ));
            }
            task.feed(piece.clone()).await?;
            sink.write(piece).await?;
        }
    }
    let trailers = match decoder.as_mut() {
        Some(decoder) => decoder.finish()?.trailers,
        None => Vec::new(),
    };
    let digests = task.finish().await?;
    if let (Some(want), Some(got)) = (expected_sha256, digests.sha256) {
        ContentSha256::Hash(want).verify_body_hash(&got)?;
    }
    expected.verify_md5(&digests.md5)?;
    let checksum = expected.verify_checksum(digests.checksum.as_ref(), &trailers)?;
    Ok(BodyOutcome {
        len: digests.len,
        md5: digests.md5,
        checksum,
    })
}

#[cfg(test)]
mod tests;

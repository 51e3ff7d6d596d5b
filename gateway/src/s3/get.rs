//! GetObject and HeadObject (preconditions, one byte range, response overrides, the stored
//! checksum on request), and GetObjectAcl.
//!
//! A GET streams the object from the chunkds as the client reads it (a small prefetch, never
//! the whole object in memory). Once the headers are sent a failure cannot become an error
//! response: the body then ends with an error, which makes hyper abort the connection, so the
//! client sees a broken transfer and never a clean short body.

use super::conditions::{parse_range, Preconditions, RangeSpec, Verdict};
use super::meta::{check_version_id, write_object_headers, ObjectMeta};
use super::part_number::{part_range, requested_part};
use super::{header_value, rpc_error, xml_response};
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http_date::format_http_date;
use crate::xml;
use bytes::Bytes;
use dfs_client::FileReader;
use dfs_common::http::{empty, Body, BoxError};
use dfs_common::names::ObjectPath;
use dfs_common::wire::Entry;
use dfs_common::{ErrorCode, RpcError};
use futures_util::{Stream, StreamExt};
use http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Maps a metad error of a read: every way of not being an object is `NoSuchKey` (or
/// `NoSuchBucket`).
fn read_error(err: RpcError, target: &ObjectPath) -> S3Error {
    let bucket = target.bucket.as_str();
    let err = match err.code {
        ErrorCode::IsADirectory | ErrorCode::NotADirectory => RpcError::not_found(err.message),
        _ => err,
    };
    rpc_error(err, bucket, S3ErrorCode::NoSuchKey, target.to_string())
}

/// The object at a key: its entry, and for a GET the reader of the bytes `[from, until)` (or
/// more) of its data. A key ending in `/` names a directory object (its payload is the
/// object's data), any other key a file only ([`Entry::is_object`]).
async fn find_object(
    ctx: &ReqCtx,
    target: &ObjectPath,
    with_data: Option<(u64, u64)>,
) -> S3Result<(Entry, Option<FileReader>)> {
    let path = target.to_string();
    let (entry, reader) = if let Some((from, until)) = with_data {
        let reader = ctx
            .client
            .open_at(&path, from, until)
            .await
            .map_err(|e| read_error(e, target))?;
        (reader.entry().clone(), Some(reader))
    } else {
        let entry = ctx
            .client
            .stat(&path)
            .await
            .map_err(|e| read_error(e, target))?;
        (entry, None)
    };
    if !entry.is_object(target.key.names_dir()) {
        return Err(S3Error::no_such_key(&target.bucket, &target.key));
    }
    Ok((entry, reader))
}

/// The bytes a GET will read, as far as they are known before the object's size: those of a
/// range `bytes=A-B` or `bytes=A-`; from the start for anything else (a suffix range, a part,
/// the whole object). Only a hint for which page of the chunk list to fetch first.
fn range_hint(range_header: Option<&str>) -> (u64, u64) {
    let suffix = range_header
        .and_then(|h| h.trim().strip_prefix("bytes="))
        .is_some_and(|spec| spec.trim_start().starts_with('-'));
    match parse_range(range_header, u64::MAX) {
        RangeSpec::Partial { start, end } if !suffix => (start, end.saturating_add(1)),
        _ => (0, u64::MAX),
    }
}

/// `GET` or `HEAD /bucket/key`.
pub(super) async fn get_object(
    ctx: &ReqCtx,
    target: &ObjectPath,
    head: bool,
) -> S3Result<Response<Body>> {
    check_version_id(&ctx.query)?;
    let range_header = ctx.headers.get("range").and_then(|v| v.to_str().ok());
    let with_data = (!head).then(|| range_hint(range_header));
    let (entry, reader) = find_object(ctx, target, with_data).await?;
    let last_modified = header_value(&format_http_date(entry.mtime_ms))?;
    let etag = header_value(&entry.etag)?;
    match Preconditions::from_headers(&ctx.headers, "").evaluate(&entry.etag, entry.mtime_ms) {
        Verdict::Proceed => {}
        Verdict::NotModified => {
            return Err(S3Error::from_code(S3ErrorCode::NotModified)
                .with_header(ETAG, etag)
                .with_header(LAST_MODIFIED, last_modified))
        }
        Verdict::PreconditionFailed => {
            return Err(S3Error::from_code(S3ErrorCode::PreconditionFailed)
                .with_resource(target.to_string()))
        }
    }
    let mut parts_count = None;
    let (status, start, end_exclusive) = match requested_part(&ctx.query)? {
        Some(_) if range_header.is_some() => {
            return Err(S3Error::invalid_request(
                "Cannot specify both Range header and partNumber query parameter.",
            ))
        }
        // One part of the object, answered like a range of it.
        Some(number) => {
            let part = part_range(&entry, number)?;
            parts_count = part.parts_count;
            let status = if part.end_exclusive > part.start {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            (status, part.start, part.end_exclusive)
        }
        None => match parse_range(range_header, entry.size) {
            RangeSpec::Full => (StatusCode::OK, 0, entry.size),
            RangeSpec::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end + 1),
            RangeSpec::Unsatisfiable => {
                return Err(S3Error::from_code(S3ErrorCode::InvalidRange)
                    .with_resource(target.to_string())
                    .with_header(
                        CONTENT_RANGE,
                        header_value(&format!("bytes */{}", entry.size))?,
                    ))
            }
        },
    };
    let checksum_mode = ctx
        .header("x-amz-checksum-mode")?
        .is_some_and(|v| v.eq_ignore_ascii_case("ENABLED"));
    let object = ObjectMeta {
        content_type: entry.content_type.clone(),
        meta: entry.meta.clone(),
        checksum: entry.checksum.clone(),
    };
    let mut headers = HeaderMap::new();
    // A checksum covers the whole object: never sent with a part of it.
    write_object_headers(
        &mut headers,
        &object,
        &ctx.query,
        checksum_mode && status == StatusCode::OK,
    )?;
    headers.insert(LAST_MODIFIED, last_modified);
    headers.insert(ETAG, etag);
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let length = end_exclusive - start;
    headers.insert(CONTENT_LENGTH, header_value(&length.to_string())?);
    if let Some(count) = parts_count {
        headers.insert("x-amz-mp-parts-count", header_value(&count.to_string())?);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{}", end_exclusive - 1, entry.size);
        headers.insert(CONTENT_RANGE, header_value(&range)?);
    }
    let body = match reader {
        Some(reader) if !head && length > 0 => {
            let mut stream: ChunkStream = Box::pin(reader.stream(start, end_exclusive));
            // The first piece is fetched before the headers go: while nothing is sent, a
            // failure (no replica reachable) can still be a proper error response.
            let first = match stream.next().await {
                Some(Ok(bytes)) => Some(bytes),
                Some(Err(e)) => return Err(read_error(e, target)),
                None => None,
            };
            Body::new(ReadBody {
                first,
                stream: std::sync::Mutex::new(stream),
                remaining: length,
                path: target.to_string(),
            })
        }
        _ => empty(),
    };
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// `GET /bucket/key?acl`: the owner has full control of every object.
pub(super) async fn get_object_acl(ctx: &ReqCtx, target: &ObjectPath) -> S3Result<Response<Body>> {
    find_object(ctx, target, None).await?;
    Ok(xml_response(xml::access_control_policy(&ctx.owner())))
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, RpcError>> + Send>>;

/// The body of a GET: the reader's stream as frames. The stream is only `Send`; the mutex
/// makes the body `Sync` as the server's body type requires, and is never locked (it is only
/// reached through `&mut`, with `get_mut`).
struct ReadBody {
    /// The piece fetched before the headers were sent.
    first: Option<Bytes>,
    stream: std::sync::Mutex<ChunkStream>,
    remaining: u64,
    path: String,
}

impl hyper::body::Body for ReadBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(bytes) = this.first.take() {
            this.remaining = this.remaining.saturating_sub(bytes.len() as u64);
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        let stream = match this.stream.get_mut() {
            Ok(stream) => stream,
            Err(poisoned) => poisoned.into_inner(),
        };
        match stream.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                this.remaining = this.remaining.saturating_sub(bytes.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Poll::Ready(Some(Err(err))) => {
                tracing::warn!(
                    path = %this.path,
                    unsent = this.remaining,
                    error = %err,
                    "GET failed after the headers were sent"
                );
                Poll::Ready(Some(Err(Box::new(err))))
            }
            Poll::Ready(None) if this.remaining > 0 => {
                let err = RpcError::internal(format!(
                    "the read of {} ended {} bytes early",
                    this.path, this.remaining
                ));
                tracing::warn!(error = %err, "GET ended early");
                this.remaining = 0;
                Poll::Ready(Some(Err(Box::new(err))))
            }
            Poll::Ready(None) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        // hyper stops polling a body of known length once it has it all: this tells the
        // access log that the response is complete.
        self.remaining == 0 && self.first.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::range_hint;

    #[test]
    fn a_range_with_a_start_hints_at_its_bytes_and_anything_else_at_the_start() {
        assert_eq!(range_hint(Some("bytes=100-199")), (100, 200));
        assert_eq!(range_hint(Some("bytes=100-")), (100, u64::MAX));
        assert_eq!(range_hint(Some("bytes=-100")), (0, u64::MAX));
        assert_eq!(range_hint(Some("bytes=5-1")), (0, u64::MAX));
        assert_eq!(range_hint(Some("items=1-2")), (0, u64::MAX));
        assert_eq!(range_hint(None), (0, u64::MAX));
    }
}

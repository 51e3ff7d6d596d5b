//! The S3 operations, one family per file, behind one `match`.
//!
//! Handlers take a [`ReqCtx`] (and the body slot when they read a body), talk to the cluster
//! through the client, and return a response or an [`S3Error`]; the server adds the request
//! id, renders errors and logs.

mod bucket;
mod conditions;
mod copy;
mod delete;
mod get;
mod list;
mod meta;
mod multipart;
mod part_number;
mod put;

use crate::auth::checksum::ExpectedChecksums;
use crate::body::{stream_body, BodySlot, BufferSink};
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::Endpoint;
use bytes::Bytes;
use dfs_common::http::{empty, full, Body};
use dfs_common::{ErrorDetail, RpcError};
use http::{HeaderValue, Response, StatusCode};

/// Answers one request.
pub(crate) async fn dispatch(
    ctx: &ReqCtx,
    endpoint: Endpoint,
    body: &mut BodySlot,
) -> S3Result<Response<Body>> {
    match endpoint {
        Endpoint::ListBuckets => bucket::list_buckets(ctx).await,
        Endpoint::CreateBucket { bucket } => bucket::create_bucket(ctx, &bucket, body).await,
        Endpoint::HeadBucket { bucket } => bucket::head_bucket(ctx, &bucket).await,
        Endpoint::DeleteBucket { bucket } => bucket::delete_bucket(ctx, &bucket).await,
        Endpoint::GetBucketLocation { .. } => bucket::get_bucket_location(ctx),
        Endpoint::GetBucketVersioning { .. } => bucket::get_bucket_versioning(ctx),
        Endpoint::GetBucketAcl { .. } => bucket::get_bucket_acl(ctx),
        Endpoint::BucketSubresource {
            bucket,
            config,
            method,
        } => bucket::bucket_subresource(&bucket, config, &method),
        Endpoint::ListObjects { bucket } => list::list_objects(ctx, &bucket, false).await,
        Endpoint::ListObjectsV2 { bucket } => list::list_objects(ctx, &bucket, true).await,
        Endpoint::DeleteObjects { bucket } => delete::delete_objects(ctx, &bucket, body).await,
        Endpoint::GetObject { object } => get::get_object(ctx, &object, false).await,
        Endpoint::HeadObject { object } => get::get_object(ctx, &object, true).await,
        Endpoint::GetObjectAcl { object } => get::get_object_acl(ctx, &object).await,
        Endpoint::PutObject { object } => put::put_object(ctx, &object, body).await,
        Endpoint::CopyObject { object, source } => copy::copy_object(ctx, &object, &source).await,
        Endpoint::DeleteObject { object } => delete::delete_object(ctx, &object).await,
        Endpoint::ListMultipartUploads { bucket } => {
            multipart::list::list_multipart_uploads(ctx, &bucket).await
        }
        Endpoint::CreateMultipartUpload { object } => {
            multipart::create_multipart_upload(ctx, &object).await
        }
        Endpoint::UploadPart {
            object,
            upload_id,
            part_number,
        } => multipart::upload_part(ctx, &object, body, &upload_id, part_number).await,
        Endpoint::UploadPartCopy {
            object,
            upload_id,
            part_number,
            source,
        } => {
            multipart::copy::upload_part_copy(ctx, &object, &upload_id, part_number, &source).await
        }
        Endpoint::CompleteMultipartUpload { object, upload_id } => {
            multipart::complete::complete_multipart_upload(ctx, &object, body, &upload_id).await
        }
        Endpoint::AbortMultipartUpload { object, upload_id } => {
            multipart::abort_multipart_upload(ctx, &object, &upload_id).await
        }
        Endpoint::ListParts { object, upload_id } => {
            multipart::list::list_parts(ctx, &object, &upload_id).await
        }
        Endpoint::NotImplemented { operation, .. } => Err(S3Error::not_implemented(operation)),
    }
}

/// Reads a small request body (an XML document) of at most `limit` bytes, with every check a
/// PUT body gets: aws-chunked signatures, payload SHA-256, `Content-MD5`, flexible checksum.
pub(crate) async fn read_small_body(
    ctx: &ReqCtx,
    body: &mut BodySlot,
    limit: usize,
) -> S3Result<Bytes> {
    read_small_body_checked(ctx, &ctx.headers, body, limit).await
}

/// Like [`read_small_body`], with the checksum headers taken from `checksum_headers` (a
/// handler may drop those that describe something other than the document).
pub(crate) async fn read_small_body_checked(
    ctx: &ReqCtx,
    checksum_headers: &http::HeaderMap,
    body: &mut BodySlot,
    limit: usize,
) -> S3Result<Bytes> {
    let expected = ExpectedChecksums::from_headers(checksum_headers)?;
    let check = ctx.verified.body_check(&ctx.headers)?;
    let incoming = body.take()?;
    let mut sink = BufferSink::new(limit);
    stream_body(
        incoming,
        check,
        &expected,
        // The sink enforces the limit, with the error S3 gives for documents.
        u64::MAX,
        body.received(),
        &mut sink,
    )
    .await?;
    Ok(sink.buf.freeze())
}

/// A 200 response carrying an XML document, sent in one piece.
pub(crate) fn xml_response(doc: String) -> Response<Body> {
    let mut resp = Response::new(full(doc));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// A response without a body.
pub(crate) fn empty_response(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = status;
    resp
}

/// A header value made by the gateway itself (ETags, dates, lengths): always valid, checked
/// anyway so that a surprise is a 500 in the log, never a panic.
pub(crate) fn header_value(text: &str) -> S3Result<HeaderValue> {
    HeaderValue::from_str(text).map_err(|_| {
        S3Error::internal(format!(
            "the gateway built an invalid header value {text:?}"
        ))
    })
}

/// Maps a metad error met while working on `bucket`: a missing bucket is `NoSuchBucket`, any
/// other missing path is `not_found`; `resource` names what the request was about.
pub(crate) fn rpc_error(
    err: RpcError,
    bucket: &str,
    not_found: S3ErrorCode,
    resource: String,
) -> S3Error {
    if err.is(ErrorDetail::NoSuchBucket) {
        return S3Error::no_such_bucket(bucket).with_source(err);
    }
    S3Error::from_rpc(err, not_found).with_resource(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_buckets_are_told_from_missing_keys() {
        let bucket = RpcError::no_such_bucket("no such bucket \"b\" (in /b/x)");
        let err = rpc_error(bucket, "b", S3ErrorCode::NoSuchKey, "/b/x".into());
        assert_eq!(err.code(), S3ErrorCode::NoSuchBucket);
        assert_eq!(err.resource(), Some("/b"));
        let key = RpcError::not_found("no such file or directory: /b/x");
        let err = rpc_error(key, "b", S3ErrorCode::NoSuchKey, "/b/x".into());
        assert_eq!(err.code(), S3ErrorCode::NoSuchKey);
        assert_eq!(err.resource(), Some("/b/x"));
        let busy = RpcError::unavailable("metad is shutting down");
        let err = rpc_error(busy, "b", S3ErrorCode::NoSuchKey, "/b/x".into());
        assert_eq!(err.code(), S3ErrorCode::ServiceUnavailable);
    }
}

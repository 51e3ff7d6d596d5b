//! Multipart uploads: CreateMultipartUpload, UploadPart and AbortMultipartUpload, and what the
//! other multipart operations share (the mapping of metad's errors, the upload's settings).
//!
//! metad keeps the uploads and their parts; a part's data is written like a PUT's, through the
//! same body pipeline (aws-chunked signatures, `Content-MD5`, flexible checksums, streamed to
//! the chunkds as it arrives, never buffered), and stored with `commit_part`. Every call that
//! names an upload passes the request's `/bucket/key`, so metad answers `NoSuchUpload` for an
//! upload of another key (a grant on one bucket never reaches another's uploads).
//!
//! An upload created with a checksum algorithm gets a checksum for every part: the one the
//! request sent (verified), or, when it sent none, one the gateway computes as the part
//! streams. Completion makes the object's checksum from them (see `checksum`).

pub(super) mod checksum;
pub(super) mod complete;
pub(super) mod copy;
pub(super) mod list;

use super::meta::{check_write_headers, full_object, ObjectMeta};
use super::put::declared_length;
use super::{empty_response, header_value, xml_response};
use crate::auth::checksum::{ChecksumAlgorithm, ChecksumHasher, ExpectedChecksums};
use crate::body::{stream_body, BodySlot, PayloadSink};
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::xml;
use bytes::Bytes;
use checksum::UploadChecksum;
use dfs_client::{CreateOptions, FinishPartOptions};
use dfs_common::http::Body;
use dfs_common::names::ObjectPath;
use dfs_common::wire::{AbortUploadReq, CreateUploadReq, ListPartsReq, UploadInfo, MAX_PART_SIZE};
use dfs_common::{ErrorCode, ErrorDetail, RpcError};
use http::{HeaderValue, Response, StatusCode};

/// Maps a metad error of a multipart call on `bucket`/`key`: a missing bucket is
/// `NoSuchBucket`, any other missing thing the upload (`NoSuchUpload`, naming it); every other
/// condition as [`crate::error::s3_mapping`] says.
pub(crate) fn upload_error(err: RpcError, target: &ObjectPath, upload_id: &str) -> S3Error {
    let bucket = target.bucket.as_str();
    let resource = target.to_string();
    if err.is(ErrorDetail::NoSuchBucket) {
        return S3Error::no_such_bucket(bucket).with_source(err);
    }
    if err.code == ErrorCode::NotFound {
        return S3Error::no_such_upload(upload_id)
            .with_resource(resource)
            .with_source(err);
    }
    S3Error::from_rpc(err, S3ErrorCode::NoSuchUpload).with_resource(resource)
}

/// What the gateway needs to know of an open upload: its settings as metad keeps them.
pub(crate) async fn upload_info(
    ctx: &ReqCtx,
    target: &ObjectPath,
    upload_id: &str,
) -> S3Result<UploadInfo> {
    // A page of no part is the cheapest way to ask metad about an upload.
    let page = ctx
        .client
        .uploads()
        .list_parts(&ListPartsReq {
            upload_id: upload_id.to_owned(),
            path: Some(target.clone()),
            part_number_marker: 0,
            max_parts: 0,
        })
        .await
        .map_err(|e| upload_error(e, target, upload_id))?;
    Ok(page.upload)
}

/// The checksum setting of an upload.
pub(crate) fn upload_checksum(info: &UploadInfo) -> Option<UploadChecksum> {
    UploadChecksum::from_stored(info.checksum_algorithm, info.checksum_type)
}

/// `POST /bucket/key?uploads`.
pub(super) async fn create_multipart_upload(
    ctx: &ReqCtx,
    target: &ObjectPath,
) -> S3Result<Response<Body>> {
    let (bucket, key) = (target.bucket.as_str(), target.key.as_str());
    let resource = target.to_string();
    check_write_headers(&ctx.headers)?;
    let object = ObjectMeta::from_request(&ctx.headers)?;
    let checksum = UploadChecksum::from_request(
        ctx.header("x-amz-checksum-algorithm")?,
        ctx.header("x-amz-checksum-type")?,
    )?;
    let resp = ctx
        .client
        .uploads()
        .create(&CreateUploadReq {
            path: target.clone(),
            content_type: object.content_type,
            meta: object.meta,
            checksum_algorithm: checksum.map(|c| c.algorithm),
            checksum_type: checksum.map(|c| c.kind),
            owner_key: Some(ctx.identity.id.clone()),
        })
        .await
        .map_err(|e| {
            if e.is(ErrorDetail::NoSuchBucket) {
                S3Error::no_such_bucket(bucket).with_source(e)
            } else {
                S3Error::from_rpc(e, S3ErrorCode::NoSuchKey).with_resource(resource.clone())
            }
        })?;
    tracing::debug!("upload {} started for {resource}", resp.upload_id);
    let mut out = xml_response(xml::initiate_multipart_upload_result(
        bucket,
        key,
        &resp.upload_id,
    ));
    if let Some(checksum) = checksum {
        let headers = out.headers_mut();
        headers.insert(
            "x-amz-checksum-algorithm",
            HeaderValue::from_static(checksum.algorithm.name()),
        );
        headers.insert(
            "x-amz-checksum-type",
            HeaderValue::from_static(checksum.kind.name()),
        );
    }
    Ok(out)
}

/// Passes the payload on to the part writer, computing the upload's checksum on the way when
/// the request did not send one (so that every part of such an upload has one). The CRCs run
/// at several GB/s; the SHAs are slower but still well ahead of a network stream.
struct ChecksumSink<'w, S> {
    inner: &'w mut S,
    hasher: Option<ChecksumHasher>,
}

impl<S: PayloadSink> PayloadSink for ChecksumSink<'_, S> {
    async fn write(&mut self, data: Bytes) -> S3Result<()> {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&data);
        }
        self.inner.write(data).await
    }
}

/// The algorithm of the checksum a request sends (header or trailer), if any.
fn request_algorithm(expected: &ExpectedChecksums) -> Option<ChecksumAlgorithm> {
    expected.checksum.map(|c| c.algorithm())
}

/// `PUT /bucket/key?partNumber=N&uploadId=U`.
pub(super) async fn upload_part(
    ctx: &ReqCtx,
    target: &ObjectPath,
    body: &mut BodySlot,
    upload_id: &str,
    part_number: u32,
) -> S3Result<Response<Body>> {
    let resource = target.to_string();
    let expected = ExpectedChecksums::from_headers(&ctx.headers)?;
    let check = ctx.verified.body_check(&ctx.headers)?;
    if declared_length(ctx, &check)?.is_some_and(|len| len > MAX_PART_SIZE) {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            format!(
                "Your proposed upload exceeds the maximum allowed part size of {MAX_PART_SIZE} \
                 bytes."
            ),
        )
        .with_resource(resource));
    }
    let info = upload_info(ctx, target, upload_id).await?;
    let upload_algorithm = upload_checksum(&info).map(|c| c.algorithm);
    let sent = request_algorithm(&expected);
    if let (Some(want), Some(got)) = (upload_algorithm, sent) {
        if want != got {
            return Err(S3Error::invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum \
                 Type: {}",
                want.name().to_ascii_lowercase(),
                got.name().to_ascii_lowercase()
            ))
            .with_resource(resource));
        }
    }
    let mut writer = ctx
        .client
        .create_part(
            target,
            upload_id,
            part_number,
            CreateOptions {
                compute_etag: false,
                ..CreateOptions::default()
            },
        )
        .await
        .map_err(|e| upload_error(e, target, upload_id))?;
    let incoming = body.take()?;
    let mut sink = ChecksumSink {
        inner: &mut writer,
        hasher: upload_algorithm
            .filter(|_| sent.is_none())
            .map(ChecksumHasher::new),
    };
    let streamed = stream_body(
        incoming,
        check,
        &expected,
        MAX_PART_SIZE,
        body.received(),
        &mut sink,
    )
    .await;
    let computed = sink.hasher.take().map(ChecksumHasher::finish);
    let outcome = match streamed {
        Ok(outcome) => outcome,
        Err(err) => {
            writer.abort().await;
            return Err(err);
        }
    };
    let checksum = outcome.checksum.or(computed);
    let etag = outcome.etag();
    let part = writer
        .finish_part(FinishPartOptions {
            etag: Some(etag),
            checksum: checksum.as_ref().map(full_object),
        })
        .await
        .map_err(|e| upload_error(e, target, upload_id))?;
    let mut out = empty_response(StatusCode::OK);
    let headers = out.headers_mut();
    headers.insert(http::header::ETAG, header_value(&part.etag)?);
    if let Some(checksum) = checksum {
        headers.insert(
            checksum.algorithm().header_name(),
            header_value(&checksum.to_base64())?,
        );
    }
    Ok(out)
}

/// `DELETE /bucket/key?uploadId=U`: the parts' data is collected by metad. When metad is away
/// the client gets a 503 and the gateway sends the abort again once it is back.
pub(super) async fn abort_multipart_upload(
    ctx: &ReqCtx,
    target: &ObjectPath,
    upload_id: &str,
) -> S3Result<Response<Body>> {
    let req = AbortUploadReq {
        upload_id: upload_id.to_owned(),
        path: Some(target.clone()),
    };
    if let Err(e) = ctx.client.uploads().abort(&req).await {
        ctx.aborts.keep(req, &e);
        return Err(upload_error(e, target, upload_id));
    }
    tracing::debug!("upload {upload_id} of {target} aborted");
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ObjectPath {
        ObjectPath::parse("/bkt/k").unwrap()
    }

    fn code(err: RpcError) -> S3ErrorCode {
        upload_error(err, &target(), "u1").code()
    }

    #[test]
    fn multipart_errors_name_the_bucket_or_the_upload() {
        assert_eq!(
            code(RpcError::not_found("no upload u1")),
            S3ErrorCode::NoSuchUpload
        );
        let err = upload_error(RpcError::no_such_bucket("no such bucket"), &target(), "u");
        assert_eq!(
            (err.code(), err.resource()),
            (S3ErrorCode::NoSuchBucket, Some("/bkt"))
        );
        let err = upload_error(
            RpcError::detailed(ErrorDetail::InvalidPart, "no part 3"),
            &target(),
            "u",
        );
        assert!(err
            .message()
            .starts_with("One or more of the specified parts"));
        assert!(err.message().ends_with("(no part 3)"), "{}", err.message());
        let err = upload_error(
            RpcError::detailed(ErrorDetail::InvalidRange, "past the end"),
            &target(),
            "u",
        );
        assert_eq!(err.message(), "past the end");
        assert_eq!(err.resource(), Some("/bkt/k"));
        // A message that looks like an S3 code means nothing: only the detail counts.
        assert_eq!(
            code(RpcError::invalid("InvalidPart: upload u1 has no part 3")),
            S3ErrorCode::InvalidArgument
        );
    }
}

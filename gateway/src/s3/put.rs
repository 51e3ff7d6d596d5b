//! PutObject: the body streams into the cluster's chunk pipeline as it arrives and is
//! committed only once every check of the body held.
//!
//! A key ending in `/` names a directory in dfs (`x/` is the directory `x`); its object `x/`
//! (the "folder marker" S3 consoles create, or any data) is the directory's payload. metad
//! stores it when the write commits to `/bucket/x/`, so such a PUT takes the same path as any
//! other.

use super::meta::{add_checksum_headers, check_write_headers, ObjectMeta};
use super::{empty_response, header_value, rpc_error};
use crate::auth::checksum::ExpectedChecksums;
use crate::auth::content_sha256::decoded_content_length;
use crate::auth::verify::BodyCheck;
use crate::body::{stream_body, BodySlot};
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use dfs_client::{CreateOptions, FinishOptions};
use dfs_common::http::Body;
use dfs_common::names::ObjectPath;
use dfs_common::{ErrorCode, RpcError};
use http::{Response, StatusCode};

/// Largest object one PUT stores, as in S3 (bigger objects need a multipart upload).
pub(super) const MAX_PUT_BYTES: u64 = 5 << 30;

/// S3's conditional writes, checked by metad atomically with the commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct WriteConditions {
    /// `If-None-Match: *`: only if no object exists at the key.
    pub if_none_match: bool,
    /// `If-Match`: only if the object exists with one of these ETags (or `*`).
    pub if_match: Option<String>,
}

impl WriteConditions {
    /// Reads `If-None-Match` (only `*` is meaningful for a write, as in S3) and `If-Match`.
    pub(super) fn from_request(ctx: &ReqCtx) -> S3Result<WriteConditions> {
        let if_none_match = match ctx.header("if-none-match")?.map(str::trim) {
            None => false,
            Some("*") => true,
            Some(_) => {
                return Err(S3Error::not_implemented(
                    "If-None-Match with a value other than * on a write",
                ))
            }
        };
        let if_match = ctx
            .header("if-match")?
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        Ok(WriteConditions {
            if_none_match,
            if_match,
        })
    }
}

/// The payload length the request announces: `x-amz-decoded-content-length` for aws-chunked
/// bodies, `Content-Length` otherwise (absent with `Transfer-Encoding: chunked`).
pub(super) fn declared_length(ctx: &ReqCtx, check: &BodyCheck) -> S3Result<Option<u64>> {
    if matches!(check, BodyCheck::Chunked(_)) {
        return Ok(Some(decoded_content_length(&ctx.headers)?));
    }
    match ctx.header("content-length")? {
        None => Ok(None),
        Some(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
            S3Error::invalid_argument(format!("Content-Length {text:?} is not a number."))
        }),
    }
}

/// `PUT /bucket/key`.
pub(super) async fn put_object(
    ctx: &ReqCtx,
    target: &ObjectPath,
    body: &mut BodySlot,
) -> S3Result<Response<Body>> {
    let bucket = target.bucket.as_str();
    let resource = target.to_string();
    check_write_headers(&ctx.headers)?;
    let expected = ExpectedChecksums::from_headers(&ctx.headers)?;
    let check = ctx.verified.body_check(&ctx.headers)?;
    let declared = declared_length(ctx, &check)?;
    if declared.is_some_and(|len| len > MAX_PUT_BYTES) {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            format!(
                "Your proposed upload exceeds the maximum allowed size of {MAX_PUT_BYTES} bytes \
                 for a single PUT; use a multipart upload."
            ),
        )
        .with_resource(resource));
    }
    let object = ObjectMeta::from_request(&ctx.headers)?;
    let conditions = WriteConditions::from_request(ctx)?;
    let mut writer = ctx
        .client
        .create(
            &resource,
            CreateOptions {
                compute_etag: false,
                ..CreateOptions::default()
            },
        )
        .await
        .map_err(|e| rpc_error(e, bucket, S3ErrorCode::NoSuchKey, resource.clone()))?;
    let incoming = body.take()?;
    let streamed = stream_body(
        incoming,
        check,
        &expected,
        MAX_PUT_BYTES,
        body.received(),
        &mut writer,
    )
    .await;
    let outcome = match streamed {
        Ok(outcome) => outcome,
        Err(err) => {
            writer.abort().await;
            return Err(err);
        }
    };
    let etag = outcome.etag();
    let object = object.with_checksum(outcome.checksum.as_ref());
    let finished = writer
        .finish(FinishOptions {
            etag: Some(etag),
            content_type: object.content_type,
            meta: object.meta.clone(),
            checksum: object.checksum.clone(),
            if_none_match: conditions.if_none_match,
            if_match: conditions.if_match.clone(),
        })
        .await;
    let entry = match finished {
        Ok(entry) => entry,
        Err(e) => return Err(write_refused(ctx, e, &conditions, target).await),
    };
    let mut out = empty_response(StatusCode::OK);
    out.headers_mut()
        .insert(http::header::ETAG, header_value(&entry.etag)?);
    add_checksum_headers(out.headers_mut(), object.checksum.as_ref());
    Ok(out)
}

/// Maps the refusal of a write's commit. With `If-Match`, S3 tells a missing object (404
/// `NoSuchKey`) from one with another ETag (412): metad refuses both as a failed precondition,
/// so the object is looked up to choose (only on this error path).
pub(super) async fn write_refused(
    ctx: &ReqCtx,
    err: RpcError,
    conditions: &WriteConditions,
    target: &ObjectPath,
) -> S3Error {
    let bucket = target.bucket.as_str();
    let resource = target.to_string();
    if err.code == ErrorCode::PreconditionFailed && conditions.if_match.is_some() {
        let missing = match ctx.client.stat(&resource).await {
            Err(stat) => stat.code == ErrorCode::NotFound,
            Ok(entry) => !entry.is_object(target.key.names_dir()),
        };
        if missing {
            return S3Error::no_such_key(&target.bucket, &target.key).with_source(err);
        }
    }
    rpc_error(err, bucket, S3ErrorCode::NoSuchKey, resource)
}

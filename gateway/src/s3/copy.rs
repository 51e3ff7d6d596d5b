//! CopyObject, done at metad: the copy shares the source's chunks, no data passes through the
//! gateway.
//!
//! `x-amz-metadata-directive: COPY` (the default) keeps the source's content type and stored
//! headers; `REPLACE` takes them from the request (the stored checksum stays: the data is the
//! same). Copying an object onto itself is allowed only with `REPLACE`. The
//! `x-amz-copy-source-if-*` conditions are evaluated on the source as it is looked up, and the
//! copy then names the ETag it saw, so metad refuses it if the source changed in between (the
//! copy is then retried on the new source). Either key may end in `/`: the object is then the
//! payload of a directory (see `put`), copied by metad like a file's data.

use super::conditions::{Preconditions, Verdict};
use super::meta::{check_write_headers, checksums_xml, ObjectMeta};
use super::put::{write_refused, WriteConditions};
use super::{rpc_error, xml_response};
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::keys::Access;
use crate::router::CopySource;
use crate::xml;
use dfs_common::checksum::ChecksumType;
use dfs_common::http::Body;
use dfs_common::names::ObjectPath;
use dfs_common::path::DfsPath;
use dfs_common::wire::{CopyReq, Entry, ReplaceMeta};
use dfs_common::ErrorCode;
use http::Response;

/// Attempts at a copy whose source changes between its lookup and the copy.
const COPY_ATTEMPTS: usize = 3;

/// `x-amz-metadata-directive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directive {
    Copy,
    Replace,
}

fn directive(ctx: &ReqCtx) -> S3Result<Directive> {
    match ctx.header("x-amz-metadata-directive")?.map(str::trim) {
        None => Ok(Directive::Copy),
        Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(Directive::Copy),
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(Directive::Replace),
        Some(v) => Err(S3Error::invalid_argument(format!(
            "Unknown metadata directive {v:?}: it must be COPY or REPLACE."
        ))),
    }
}

/// The content type and stored headers of the copy, with `REPLACE`: from the request, the
/// source's checksum kept.
fn replacement(ctx: &ReqCtx, source: &Entry) -> S3Result<ObjectMeta> {
    let mut object = ObjectMeta::from_request(&ctx.headers)?;
    // The copy's bytes are the source's, so a checksum of them still holds; a composite one
    // (of a multipart source's parts) is not kept, as before typed checksums.
    object.checksum = source
        .checksum
        .clone()
        .filter(|c| c.kind == ChecksumType::FullObject);
    Ok(object)
}

/// `PUT /bucket/key` with `x-amz-copy-source`.
pub(super) async fn copy_object(
    ctx: &ReqCtx,
    target: &ObjectPath,
    source: &CopySource,
) -> S3Result<Response<Body>> {
    let bucket = target.bucket.as_str();
    check_write_headers(&ctx.headers)?;
    check_source_access(ctx, &source.object.bucket).await?;
    if let Some(version) = source.version_id.as_deref().filter(|v| *v != "null") {
        return Err(S3Error::invalid_argument(format!(
            "Invalid version id {version:?}: dfs keeps one version of each object."
        )));
    }
    let directive = directive(ctx)?;
    if source.object == *target && directive == Directive::Copy {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata, storage class, website redirect location \
             or encryption attributes.",
        ));
    }
    let conditions = Preconditions::from_headers(&ctx.headers, "x-amz-copy-source-");
    let dest = WriteConditions::from_request(ctx)?;
    let src_path = source.object.to_string();
    let dst_path = target.to_string();
    let mut attempt = 0;
    let entry = loop {
        attempt += 1;
        let src = lookup(ctx, source, &conditions).await?;
        let replace_meta = match directive {
            Directive::Copy => None,
            Directive::Replace => {
                let object = replacement(ctx, &src)?;
                Some(ReplaceMeta {
                    content_type: object.content_type,
                    meta: object.meta,
                    checksum: object.checksum,
                })
            }
        };
        let req = CopyReq {
            src: DfsPath::from(&source.object),
            dst: DfsPath::from(target),
            replace_meta,
            if_match: dest.if_match.clone(),
            if_none_match: dest.if_none_match,
            src_if_match: Some(src.etag.clone()),
        };
        match ctx.client.copy_with(&req).await {
            Ok(entry) => break entry,
            Err(e) if e.code == ErrorCode::PreconditionFailed && attempt < COPY_ATTEMPTS => {
                // Either the source changed since the lookup (try again on the new one) or
                // the destination's own condition failed (the next lookup finds the same
                // source and the same refusal comes back, after the last attempt).
                let now = lookup(ctx, source, &conditions).await?;
                if now.etag == src.etag {
                    return Err(
                        S3Error::from_rpc(e, S3ErrorCode::NoSuchKey).with_resource(dst_path)
                    );
                }
            }
            Err(e) if e.code == ErrorCode::NotFound => {
                return Err(rpc_error(e, bucket, S3ErrorCode::NoSuchKey, src_path))
            }
            Err(e) if e.code == ErrorCode::PreconditionFailed => {
                return Err(write_refused(ctx, e, &dest, target).await)
            }
            Err(e) => return Err(rpc_error(e, bucket, S3ErrorCode::NoSuchKey, dst_path)),
        }
    };
    Ok(xml_response(xml::copy_object_result(
        &entry.etag,
        entry.mtime_ms,
        &checksums_xml(entry.checksum.as_ref()),
    )))
}

/// The source must be readable by the key; a source bucket that does not exist is
/// `NoSuchBucket`.
pub(super) async fn check_source_access(ctx: &ReqCtx, bucket: &str) -> S3Result<()> {
    if ctx.identity.may(Some(bucket), Access::Read) {
        return Ok(());
    }
    let fresh = ctx.keys.fetch(&ctx.identity.id).await?;
    if fresh.may(Some(bucket), Access::Read) {
        return Ok(());
    }
    match ctx.client.stat(&format!("/{bucket}")).await {
        Err(e) if e.code == ErrorCode::NotFound => Err(S3Error::no_such_bucket(bucket)),
        _ => Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            format!("Access Denied: the access key may not read the source bucket {bucket:?}."),
        )),
    }
}

/// The source object, which must exist and pass the copy-source conditions (all of which
/// answer 412 when they fail, 304 included).
async fn lookup(ctx: &ReqCtx, source: &CopySource, conditions: &Preconditions) -> S3Result<Entry> {
    let path = source.object.to_string();
    let entry = ctx.client.stat(&path).await.map_err(|e| {
        rpc_error(
            e,
            &source.object.bucket,
            S3ErrorCode::NoSuchKey,
            path.clone(),
        )
    })?;
    check_source(&entry, source, conditions)?;
    Ok(entry)
}

/// The source must be an object ([`Entry::is_object`]: a file, or for a key ending in `/` a
/// directory object, whose payload is the object's data) and pass the copy-source conditions, all of which
/// answer 412 when they fail, 304 included.
pub(super) fn check_source(
    entry: &Entry,
    source: &CopySource,
    conditions: &Preconditions,
) -> S3Result<()> {
    if !entry.is_object(source.object.key.names_dir()) {
        return Err(S3Error::no_such_key(
            &source.object.bucket,
            &source.object.key,
        ));
    }
    match conditions.evaluate(&entry.etag, entry.mtime_ms) {
        Verdict::Proceed => Ok(()),
        Verdict::NotModified | Verdict::PreconditionFailed => {
            Err(S3Error::from_code(S3ErrorCode::PreconditionFailed)
                .with_resource(source.object.to_string()))
        }
    }
}

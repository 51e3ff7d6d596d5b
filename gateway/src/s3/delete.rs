//! DeleteObject and DeleteObjects.
//!
//! Deleting a key that does not exist succeeds, as in S3. A key ending in `/` deletes the
//! object of an explicit directory: metad clears only its payload while the directory still
//! has children, and removes it otherwise.

use super::meta::check_version_id;
use super::{empty_response, read_small_body, rpc_error, xml_response};
use crate::auth::checksum::ExpectedChecksums;
use crate::body::BodySlot;
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::xml::{self, DeleteErrorItem, DeletedItem};
use dfs_common::http::Body;
use dfs_common::names::{BucketName, ObjectKey, ObjectPath};
use dfs_common::path::DfsPath;
use dfs_common::wire::DeleteReq;
use dfs_common::{ErrorCode, ErrorDetail};
use futures_util::StreamExt;
use http::{Response, StatusCode};

/// Largest DeleteObjects document read: 1000 keys of up to 1024 bytes, escaped, with markup.
const MAX_DELETE_BODY: usize = 8 << 20;
/// Deletions of one DeleteObjects request in flight at once.
const DELETE_PARALLEL: usize = 16;

/// Deletes one object; a missing one is not an error.
async fn delete_one(ctx: &ReqCtx, object: &ObjectPath) -> S3Result<()> {
    let req = DeleteReq {
        path: DfsPath::from(object),
        recursive: false,
        object: true,
    };
    match ctx.client.delete_with(&req).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == ErrorCode::NotFound && !e.is(ErrorDetail::NoSuchBucket) => Ok(()),
        Err(e) => Err(rpc_error(
            e,
            &object.bucket,
            S3ErrorCode::NoSuchKey,
            object.to_string(),
        )),
    }
}

/// `DELETE /bucket/key`: 204 whether or not the object existed.
pub(super) async fn delete_object(ctx: &ReqCtx, object: &ObjectPath) -> S3Result<Response<Body>> {
    check_version_id(&ctx.query)?;
    delete_one(ctx, object).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// `POST /bucket?delete`: up to 1000 keys, each deleted on its own; the answer lists what was
/// deleted (unless quiet) and what failed.
pub(super) async fn delete_objects(
    ctx: &ReqCtx,
    bucket: &BucketName,
    body: &mut BodySlot,
) -> S3Result<Response<Body>> {
    // As S3: a request that deletes up to 1,000 objects must prove its document arrived as
    // sent, so a corrupted key can never delete the wrong object.
    let expected = ExpectedChecksums::from_headers(&ctx.headers)?;
    if expected.content_md5.is_none() && expected.checksum.is_none() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: Content-MD5 (or an x-amz-checksum-* \
             header or trailer).",
        ));
    }
    let doc = read_small_body(ctx, body, MAX_DELETE_BODY).await?;
    let request = xml::parse_delete(&doc)?;
    let results: Vec<_> = futures_util::stream::iter(request.objects)
        .map(|object| async move {
            let result = match object.version_id.as_deref() {
                // dfs keeps one version of each object, which S3 calls "null".
                // The key comes from the document: checked here as the router checks a path's.
                None | Some("null") => match ObjectKey::new(object.key.as_str()) {
                    Ok(key) => delete_one(ctx, &ObjectPath::new(bucket.clone(), key)).await,
                    Err(err) => Err(S3Error::from(err)),
                },
                Some(other) => Err(S3Error::new(
                    S3ErrorCode::NoSuchVersion,
                    format!("The version {other:?} does not exist: dfs keeps no versions."),
                )),
            };
            (object, result)
        })
        .buffered(DELETE_PARALLEL)
        .collect()
        .await;
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for (object, result) in results {
        match result {
            Ok(()) => deleted.push(DeletedItem {
                key: object.key,
                version_id: object.version_id,
            }),
            Err(err) => {
                if err.http_status().is_server_error() {
                    // Inside the request's span, which carries the request id.
                    tracing::warn!(
                        %bucket,
                        key = %object.key,
                        error = %dfs_common::http::error_chain(&err),
                        "DeleteObjects: object not deleted"
                    );
                }
                errors.push(DeleteErrorItem::from_error(
                    object.key,
                    object.version_id,
                    &err,
                ));
            }
        }
    }
    Ok(xml_response(xml::delete_result(
        &deleted,
        &errors,
        request.quiet,
    )))
}

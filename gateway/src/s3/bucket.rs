//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, and the bucket
//! configuration reads dfs can answer truthfully (location, versioning, ACL, the
//! configurations it never has).

use super::meta::check_write_headers;
use super::{empty_response, header_value, read_small_body, xml_response};
use crate::body::BodySlot;
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::BucketConfig;
use crate::xml::{self, BucketItem, XmlWriter};
use dfs_common::http::Body;
use dfs_common::names::BucketName;
use dfs_common::wire::{CreateBucketReq, DeleteBucketReq};
use http::{Method, Response, StatusCode};

/// Largest CreateBucketConfiguration document read.
const MAX_CREATE_BUCKET_BODY: usize = 64 * 1024;

/// `GET /`: the buckets the key has a grant on.
pub(super) async fn list_buckets(ctx: &ReqCtx) -> S3Result<Response<Body>> {
    let resp = ctx
        .client
        .buckets()
        .list(Some(ctx.identity.id.clone()))
        .await
        .map_err(|e| S3Error::from_rpc(e, S3ErrorCode::NoSuchBucket))?;
    let items: Vec<BucketItem> = resp
        .buckets
        .into_iter()
        .map(|b| BucketItem {
            name: b.name,
            creation_ms: b.created_ms,
        })
        .collect();
    Ok(xml_response(xml::list_all_my_buckets(&ctx.owner(), &items)))
}

/// `PUT /bucket`: creates the bucket, owned by the key, which gets every grant on it.
pub(super) async fn create_bucket(
    ctx: &ReqCtx,
    bucket: &BucketName,
    body: &mut BodySlot,
) -> S3Result<Response<Body>> {
    check_write_headers(&ctx.headers)?;
    let lock = ctx.header("x-amz-bucket-object-lock-enabled")?;
    if lock.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(S3Error::not_implemented("Object lock"));
    }
    let doc = read_small_body(ctx, body, MAX_CREATE_BUCKET_BODY).await?;
    if let Some(location) = xml::parse_create_bucket_configuration(&doc)? {
        if location != *ctx.region {
            return Err(S3Error::new(
                S3ErrorCode::InvalidLocationConstraint,
                format!(
                    "The location constraint {location:?} is not this endpoint's region ({}).",
                    ctx.region
                ),
            ));
        }
    }
    let resp = ctx
        .client
        .buckets()
        .create(&CreateBucketReq {
            name: bucket.clone(),
            owner_key: Some(ctx.identity.id.clone()),
        })
        .await
        .map_err(|e| S3Error::from_rpc(e, S3ErrorCode::NoSuchBucket))?;
    // The key's grants changed: the next request must see them.
    ctx.keys.invalidate(&ctx.identity.id);
    if !resp.created {
        let code = if resp.owned_by_caller {
            S3ErrorCode::BucketAlreadyOwnedByYou
        } else {
            S3ErrorCode::BucketAlreadyExists
        };
        return Err(S3Error::from_code(code).with_resource(format!("/{bucket}")));
    }
    let mut out = empty_response(StatusCode::OK);
    out.headers_mut()
        .insert(http::header::LOCATION, header_value(&format!("/{bucket}"))?);
    Ok(out)
}

/// `HEAD /bucket`.
pub(super) async fn head_bucket(ctx: &ReqCtx, bucket: &BucketName) -> S3Result<Response<Body>> {
    ctx.client
        .stat(&format!("/{bucket}"))
        .await
        .map_err(|e| S3Error::from_rpc(e, S3ErrorCode::NoSuchBucket))?;
    let mut out = empty_response(StatusCode::OK);
    out.headers_mut()
        .insert("x-amz-bucket-region", header_value(&ctx.region)?);
    Ok(out)
}

/// `DELETE /bucket`: only an empty bucket (`BucketNotEmpty` otherwise).
pub(super) async fn delete_bucket(ctx: &ReqCtx, bucket: &BucketName) -> S3Result<Response<Body>> {
    ctx.client
        .buckets()
        .delete(&DeleteBucketReq {
            name: bucket.clone(),
        })
        .await
        .map_err(|e| {
            S3Error::from_rpc(e, S3ErrorCode::NoSuchBucket).with_resource(format!("/{bucket}"))
        })?;
    ctx.keys.invalidate(&ctx.identity.id);
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// `GET /bucket?location`: the gateway's region.
pub(super) fn get_bucket_location(ctx: &ReqCtx) -> S3Result<Response<Body>> {
    Ok(xml_response(xml::location_constraint(&ctx.region)))
}

/// `GET /bucket?versioning`: dfs never versions, so versioning was never enabled.
pub(super) fn get_bucket_versioning(_ctx: &ReqCtx) -> S3Result<Response<Body>> {
    Ok(xml_response(xml::versioning_configuration()))
}

/// `GET /bucket?acl`: the owner has full control, the only ACL dfs has.
pub(super) fn get_bucket_acl(ctx: &ReqCtx) -> S3Result<Response<Body>> {
    Ok(xml_response(xml::access_control_policy(&ctx.owner())))
}

/// A bucket configuration dfs does not keep. A GET answers what S3 answers for a bucket
/// without it: the "no such configuration" error, or the empty document for those S3 always
/// has (logging, notification, accelerate, request payment). Deleting a configuration that
/// cannot exist is done (204); setting one is `NotImplemented`, never a fake success.
pub(super) fn bucket_subresource(
    bucket: &BucketName,
    config: BucketConfig,
    method: &Method,
) -> S3Result<Response<Body>> {
    let name = config.query_name();
    if *method == Method::GET {
        if let Some(code) = config.missing_code() {
            return Err(S3Error::from_code(code).with_resource(format!("/{bucket}?{name}")));
        }
        let doc = match config {
            BucketConfig::Logging => empty_document("BucketLoggingStatus"),
            BucketConfig::Notification => empty_document("NotificationConfiguration"),
            BucketConfig::Accelerate => empty_document("AccelerateConfiguration"),
            BucketConfig::RequestPayment => {
                let mut w = XmlWriter::new();
                w.root("RequestPaymentConfiguration");
                w.elem("Payer", "BucketOwner");
                w.close("RequestPaymentConfiguration");
                w.finish()
            }
            _ => {
                return Err(S3Error::not_implemented(format!(
                    "Reading the bucket {name} configuration"
                )))
            }
        };
        return Ok(xml_response(doc));
    }
    if *method == Method::DELETE && config.missing_code().is_some() {
        return Ok(empty_response(StatusCode::NO_CONTENT));
    }
    Err(S3Error::not_implemented(format!(
        "Changing the bucket {name} configuration"
    )))
}

fn empty_document(root: &str) -> String {
    let mut w = XmlWriter::new();
    w.empty_root(root);
    w.finish()
}

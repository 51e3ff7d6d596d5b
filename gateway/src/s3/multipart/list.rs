//! ListParts and ListMultipartUploads: one metad call per page.
//!
//! The initiator and owner of an upload are the access key that created it (its name as the
//! display name), looked up through the key cache; an upload made without one (by another
//! client of the cluster) shows the key that asks.

use super::{upload_checksum, upload_error};
use crate::ctx::{owner_of, ReqCtx};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::{rpc_error, xml_response};
use crate::xml::{self, ListMultipartUploadsResult, ListPartsResult, Owner, PartItem, UploadItem};
use dfs_common::http::Body;
use dfs_common::names::{BucketName, ObjectPath};
use dfs_common::wire::{ListPartsReq, ListUploadsReq, MAX_LIST_PARTS, MAX_LIST_UPLOADS};
use http::Response;
use std::collections::HashMap;

/// A page size parameter (`max-parts`, `max-uploads`): `cap` when absent, capped at `cap`;
/// a negative or non-numeric value is `InvalidArgument`.
fn parse_page_size(value: Option<&str>, name: &str, cap: u32) -> S3Result<u32> {
    let Some(text) = value else {
        return Ok(cap);
    };
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(u32::try_from(n).unwrap_or(u32::MAX).min(cap)),
        _ => Err(S3Error::invalid_argument(format!(
            "Argument {name} must be an integer between 0 and 2147483647 (got {text:?})."
        ))),
    }
}

/// `part-number-marker`: 0 when absent.
fn parse_part_marker(value: Option<&str>) -> S3Result<u32> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    text.parse::<u32>().map_err(|_| {
        S3Error::invalid_argument(format!(
            "Argument part-number-marker must be an integer between 0 and 2147483647 (got \
             {text:?})."
        ))
    })
}

/// The owners of the access keys that started uploads, each looked up once per request.
struct Owners<'c> {
    ctx: &'c ReqCtx,
    seen: HashMap<String, Owner>,
}

impl<'c> Owners<'c> {
    fn new(ctx: &'c ReqCtx) -> Self {
        Owners {
            ctx,
            seen: HashMap::new(),
        }
    }

    /// The owner shown for an upload started by `key_id`. A key that no longer exists is
    /// shown by its id.
    async fn of(&mut self, key_id: Option<&str>) -> Owner {
        let Some(id) = key_id.filter(|id| *id != self.ctx.identity.id) else {
            return self.ctx.owner();
        };
        if let Some(owner) = self.seen.get(id) {
            return owner.clone();
        }
        let owner = match self.ctx.keys.get(id).await {
            Ok(key) => owner_of(&key),
            Err(e) => {
                tracing::debug!("the key {id} that started an upload cannot be looked up: {e}");
                Owner {
                    id: id.to_owned(),
                    display_name: id.to_owned(),
                }
            }
        };
        self.seen.insert(id.to_owned(), owner.clone());
        owner
    }
}

/// `GET /bucket/key?uploadId=U`.
pub(crate) async fn list_parts(
    ctx: &ReqCtx,
    target: &ObjectPath,
    upload_id: &str,
) -> S3Result<Response<Body>> {
    let (bucket, key) = (target.bucket.as_str(), target.key.as_str());
    let q = &ctx.query;
    let max_parts = parse_page_size(q.get("max-parts"), "max-parts", MAX_LIST_PARTS)?;
    let part_number_marker = parse_part_marker(q.get("part-number-marker"))?;
    let page = ctx
        .client
        .uploads()
        .list_parts(&ListPartsReq {
            upload_id: upload_id.to_owned(),
            path: Some(target.clone()),
            part_number_marker,
            max_parts,
        })
        .await
        .map_err(|e| upload_error(e, target, upload_id))?;
    // A part's checksum is shown only when it is of the upload's algorithm (a part of an
    // upload without one may still have been sent with a checksum).
    let setting = upload_checksum(&page.upload);
    let algorithm = setting.map(|c| c.algorithm);
    let parts: Vec<PartItem> = page
        .parts
        .into_iter()
        .map(|p| {
            let shown = p
                .checksum
                .as_ref()
                .filter(|c| Some(c.algorithm) == algorithm);
            PartItem {
                part_number: p.part_number,
                last_modified_ms: p.mtime_ms,
                etag: p.etag,
                size: p.size,
                checksums: crate::s3::meta::checksums_xml(shown),
            }
        })
        .collect();
    let owner = Owners::new(ctx).of(page.upload.owner_key.as_deref()).await;
    let next_part_number_marker = (!parts.is_empty()).then_some(page.next_part_number_marker);
    let result = ListPartsResult {
        bucket: bucket.to_string(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        part_number_marker,
        next_part_number_marker,
        max_parts,
        is_truncated: page.truncated,
        parts,
        initiator: owner.clone(),
        owner,
        checksum_algorithm: setting.map(|c| c.algorithm.name().to_owned()),
        checksum_type: setting.map(|c| c.kind.name().to_owned()),
    };
    Ok(xml_response(xml::list_parts(&result)))
}

/// `GET /bucket?uploads`.
pub(crate) async fn list_multipart_uploads(
    ctx: &ReqCtx,
    bucket: &BucketName,
) -> S3Result<Response<Body>> {
    let q = &ctx.query;
    let prefix = q.get("prefix").map(str::to_owned);
    let delimiter = q
        .get("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let key_marker = q.get("key-marker").unwrap_or_default().to_owned();
    let upload_id_marker = q.get("upload-id-marker").unwrap_or_default().to_owned();
    let max_uploads = parse_page_size(q.get("max-uploads"), "max-uploads", MAX_LIST_UPLOADS)?;
    let url_encoding = crate::s3::list::parse_encoding(q.get("encoding-type"))?;
    let key_given = !key_marker.is_empty();
    let page = ctx
        .client
        .uploads()
        .list(&ListUploadsReq {
            bucket: bucket.clone(),
            prefix: prefix.clone().unwrap_or_default(),
            delimiter: delimiter.clone(),
            key_marker: key_given.then(|| key_marker.clone()),
            // S3 ignores the upload id marker without a key marker.
            upload_id_marker: (key_given && !upload_id_marker.is_empty())
                .then(|| upload_id_marker.clone()),
            max_uploads,
        })
        .await
        .map_err(|e| rpc_error(e, bucket, S3ErrorCode::NoSuchBucket, format!("/{bucket}")))?;
    let mut owners = Owners::new(ctx);
    let mut uploads = Vec::with_capacity(page.uploads.len());
    for upload in page.uploads {
        let initiator = owners.of(upload.owner_key.as_deref()).await;
        uploads.push(UploadItem {
            key: upload.key,
            upload_id: upload.upload_id,
            initiated_ms: upload.initiated_ms,
            initiator: Some(initiator),
            checksum_algorithm: upload.checksum_algorithm.map(|a| a.name().to_owned()),
            checksum_type: upload.checksum_type.map(|t| t.name().to_owned()),
        });
    }
    let me = ctx.owner();
    let result = ListMultipartUploadsResult {
        bucket: bucket.to_string(),
        key_marker,
        upload_id_marker,
        next_key_marker: page.next_key_marker.filter(|_| page.truncated),
        next_upload_id_marker: page.next_upload_id_marker.filter(|_| page.truncated),
        prefix,
        delimiter,
        max_uploads,
        url_encoding,
        is_truncated: page.truncated,
        uploads,
        common_prefixes: page.common_prefixes,
        initiator: me.clone(),
        owner: me,
    };
    Ok(xml_response(xml::list_multipart_uploads(&result)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(parse_page_size(None, "max-parts", 1000).unwrap(), 1000);
        assert_eq!(parse_page_size(Some("0"), "max-parts", 1000).unwrap(), 0);
        assert_eq!(parse_page_size(Some(" 2 "), "max-parts", 1000).unwrap(), 2);
        assert_eq!(
            parse_page_size(Some("5000"), "max-parts", 1000).unwrap(),
            1000
        );
        for bad in ["-1", "x", ""] {
            let err = parse_page_size(Some(bad), "max-uploads", 1000).unwrap_err();
            assert_eq!(err.code(), S3ErrorCode::InvalidArgument, "{bad:?}");
            assert!(err.message().contains("max-uploads"));
        }
    }

    #[test]
    fn part_markers() {
        assert_eq!(parse_part_marker(None).unwrap(), 0);
        assert_eq!(parse_part_marker(Some("")).unwrap(), 0);
        assert_eq!(parse_part_marker(Some("7")).unwrap(), 7);
        for bad in ["-1", "x", "1.5"] {
            assert_eq!(
                parse_part_marker(Some(bad)).unwrap_err().code(),
                S3ErrorCode::InvalidArgument
            );
        }
    }
}

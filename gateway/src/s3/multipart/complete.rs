//! CompleteMultipartUpload: the object appears at its key, atomically, made of the listed
//! parts (metad checks the list as S3 does and moves no data).
//!
//! When the upload has a checksum algorithm, the gateway first reads the parts' checksums
//! (ListParts), checks those the request repeats, and computes the object's checksum, which
//! metad stores with the object. A repeated completion (the same parts, after a success whose
//! answer the client lost) finds no parts to list: metad answers it with the object it made,
//! whose stored checksum is the one reported.

use super::checksum::{ChecksumType, UploadChecksum};
use super::{upload_checksum, upload_error};
use crate::auth::checksum::{Checksum, ChecksumAlgorithm, SDK_ALGORITHM_HEADER, TRAILER_HEADER};
use crate::body::BodySlot;
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::meta::checksums_xml;
use crate::s3::put::{write_refused, WriteConditions};
use crate::s3::xml_response;
use crate::xml::{self, Checksums, CompletePart};
use bytes::Bytes;
use dfs_common::checksum::Checksum as StoredChecksum;
use dfs_common::http::Body;
use dfs_common::names::ObjectPath;
use dfs_common::wire::{CompleteUploadReq, ListPartsReq, PartInfo, MAX_LIST_PARTS};
use dfs_common::{ErrorCode, ErrorDetail};
use http::Response;
use std::collections::BTreeMap;

/// Largest CompleteMultipartUpload document read: 10 000 parts with a SHA-256 each take
/// about 1.5 MiB.
const MAX_COMPLETE_BODY: usize = 4 << 20;

/// `POST /bucket/key?uploadId=U`.
pub(crate) async fn complete_multipart_upload(
    ctx: &ReqCtx,
    target: &ObjectPath,
    body: &mut BodySlot,
    upload_id: &str,
) -> S3Result<Response<Body>> {
    let (bucket, key) = (target.bucket.as_str(), target.key.as_str());
    let conditions = WriteConditions::from_request(ctx)?;
    let doc = read_document(ctx, body).await?;
    let parts = xml::parse_complete_multipart_upload(&doc)?;
    let checksum = object_checksum(ctx, target, upload_id, &parts).await?;
    let resp = ctx
        .client
        .uploads()
        .complete(&CompleteUploadReq {
            upload_id: upload_id.to_owned(),
            path: Some(target.clone()),
            parts: parts
                .iter()
                .map(|p| (p.part_number, p.etag.clone()))
                .collect(),
            if_none_match: conditions.if_none_match,
            if_match: conditions.if_match.clone(),
            checksum,
        })
        .await;
    let resp = match resp {
        Ok(resp) => resp,
        Err(e) if e.code == ErrorCode::PreconditionFailed => {
            return Err(write_refused(ctx, e, &conditions, target).await)
        }
        Err(e) => return Err(upload_error(e, target, upload_id)),
    };
    tracing::debug!(
        %upload_id,
        path = %target.to_string(),
        parts = parts.len(),
        size = resp.entry.size,
        "upload completed"
    );
    Ok(xml_response(xml::complete_multipart_upload_result(
        &location(ctx, target),
        bucket,
        key,
        &resp.etag,
        &checksums_xml(resp.entry.checksum.as_ref()),
        resp.entry.checksum.as_ref().map(|c| c.kind.name()),
    )))
}

/// Reads the XML document with every check a body gets. An `x-amz-checksum-*` header of this
/// request is the whole object's checksum, not the document's: it is checked against the
/// computed one instead (a trailer, sent only by aws-chunked bodies, is the document's).
async fn read_document(ctx: &ReqCtx, body: &mut BodySlot) -> S3Result<Bytes> {
    let mut headers = ctx.headers.clone();
    for algorithm in ChecksumAlgorithm::ALL {
        headers.remove(algorithm.header_name());
    }
    if !headers.contains_key(TRAILER_HEADER) {
        headers.remove(SDK_ALGORITHM_HEADER);
    }
    crate::s3::read_small_body_checked(ctx, &headers, body, MAX_COMPLETE_BODY).await
}

/// The object's URL as the client sees the gateway (`Host`, and `X-Forwarded-Proto` from a
/// TLS proxy), path style unless the host already names the bucket.
fn location(ctx: &ReqCtx, target: &ObjectPath) -> String {
    let (bucket, key) = (target.bucket.as_str(), target.key.as_str());
    let scheme = match ctx.header("x-forwarded-proto") {
        Ok(Some(proto)) if proto.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = ctx.header("host").ok().flatten().unwrap_or("localhost");
    let key = xml::url_encode(key);
    let virtual_host = host.to_ascii_lowercase().starts_with(&format!("{bucket}."));
    if virtual_host {
        format!("{scheme}://{host}/{key}")
    } else {
        format!("{scheme}://{host}/{bucket}/{key}")
    }
}

/// An ETag without quotes, for comparison.
fn bare(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// The checksum the request repeats for a part, under the upload's algorithm.
fn repeated_checksum(checksums: &Checksums, algorithm: ChecksumAlgorithm) -> Option<&str> {
    let value = match algorithm {
        ChecksumAlgorithm::Crc32 => &checksums.crc32,
        ChecksumAlgorithm::Crc32c => &checksums.crc32c,
        ChecksumAlgorithm::Crc64Nvme => &checksums.crc64nvme,
        ChecksumAlgorithm::Sha1 => &checksums.sha1,
        ChecksumAlgorithm::Sha256 => &checksums.sha256,
    };
    value.as_deref().map(str::trim)
}

/// The checksum to store with the object: `None` when the upload has no checksum algorithm,
/// or when it is already completed (metad then answers for it).
async fn object_checksum(
    ctx: &ReqCtx,
    target: &ObjectPath,
    upload_id: &str,
    parts: &[CompletePart],
) -> S3Result<Option<StoredChecksum>> {
    let Some((setting, stored)) = stored_parts(ctx, target, upload_id, parts).await? else {
        return Ok(None);
    };
    let mut values = Vec::with_capacity(parts.len());
    for part in parts {
        let number = part.part_number;
        let invalid = |why: String| {
            S3Error::new(
                S3ErrorCode::InvalidPart,
                format!("{} ({why})", S3ErrorCode::InvalidPart.default_message()),
            )
            .with_resource(target.to_string())
        };
        let Some(found) = stored.get(&number) else {
            return Err(invalid(format!("upload {upload_id} has no part {number}")));
        };
        if bare(&found.etag) != bare(&part.etag) {
            return Err(invalid(format!(
                "part {number} has ETag {}, not {}",
                found.etag, part.etag
            )));
        }
        let algorithm = setting.algorithm.name();
        let Some(value) = found.checksum.as_ref().map(|c| c.value.as_str()) else {
            return Err(invalid(format!(
                "part {number} has no {algorithm} checksum"
            )));
        };
        let others = part.checksums.elements().into_iter().any(|(tag, v)| {
            v.is_some() && !tag.eq_ignore_ascii_case(&format!("Checksum{algorithm}"))
        });
        if others {
            return Err(invalid(format!(
                "part {number} names a checksum other than the upload's {algorithm}"
            )));
        }
        if let Some(sent) = repeated_checksum(&part.checksums, setting.algorithm) {
            if sent != value {
                return Err(invalid(format!(
                    "part {number} has the {algorithm} checksum {value}, not {sent}"
                )));
            }
        }
        values.push((value, found.size));
    }
    let computed = setting.object_checksum(&values)?;
    check_object_header(ctx, setting, &computed)?;
    Ok(Some(StoredChecksum {
        algorithm: setting.algorithm,
        kind: setting.kind,
        value: computed,
    }))
}

/// Checks the object checksum a client may send with the completion (`x-amz-checksum-<alg>`,
/// typically for a full-object checksum it computed itself) against the computed one.
fn check_object_header(ctx: &ReqCtx, setting: UploadChecksum, computed: &str) -> S3Result<()> {
    let Some(sent) = ctx.header(setting.algorithm.header_name())? else {
        return Ok(());
    };
    let sent = sent.trim();
    let matches = match setting.kind {
        ChecksumType::FullObject => sent == computed,
        // A composite value may come with or without its `-N` suffix.
        ChecksumType::Composite => {
            sent == computed || computed.split_once('-').is_some_and(|(v, _)| v == sent)
        }
    };
    if !matches {
        let well_formed = setting.kind == ChecksumType::Composite
            || Checksum::parse_base64(setting.algorithm, sent).is_ok();
        let why = if well_formed {
            format!(
                "The {} you specified did not match the calculated checksum ({computed}).",
                setting.algorithm.name()
            )
        } else {
            format!(
                "Value for {} header is invalid.",
                setting.algorithm.header_name()
            )
        };
        return Err(S3Error::new(S3ErrorCode::BadDigest, why));
    }
    Ok(())
}

/// The upload's checksum setting and its parts, by number, up to the highest one the request
/// lists; `None` when the upload has no checksum algorithm or is already completed.
async fn stored_parts(
    ctx: &ReqCtx,
    target: &ObjectPath,
    upload_id: &str,
    parts: &[CompletePart],
) -> S3Result<Option<(UploadChecksum, BTreeMap<u32, PartInfo>)>> {
    let highest = parts.iter().map(|p| p.part_number).max().unwrap_or(0);
    let mut stored = BTreeMap::new();
    let mut setting = None;
    let mut marker = 0;
    loop {
        let page = ctx
            .client
            .uploads()
            .list_parts(&ListPartsReq {
                upload_id: upload_id.to_owned(),
                path: Some(target.clone()),
                part_number_marker: marker,
                // Until the setting is known, ask for no part: most uploads have none.
                max_parts: if setting.is_some() { MAX_LIST_PARTS } else { 0 },
            })
            .await;
        let page = match page {
            Ok(page) => page,
            // A completed upload is not listed: the completion answers for it.
            Err(e) if e.code == ErrorCode::NotFound && !e.is(ErrorDetail::NoSuchBucket) => {
                return Ok(None)
            }
            Err(e) => return Err(upload_error(e, target, upload_id)),
        };
        if setting.is_none() {
            match upload_checksum(&page.upload) {
                None => return Ok(None),
                Some(found) => {
                    setting = Some(found);
                    continue;
                }
            }
        }
        let last = page.parts.last().map(|p| p.part_number);
        stored.extend(page.parts.into_iter().map(|p| (p.part_number, p)));
        match last {
            Some(last) if page.truncated && last < highest => marker = last,
            _ => break,
        }
    }
    Ok(setting.map(|s| (s, stored)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_compare_without_quotes() {
        assert_eq!(bare("\"abc\""), "abc");
        assert_eq!(bare(" abc "), "abc");
        assert_eq!(bare("\"abc-2\""), "abc-2");
    }

    #[test]
    fn repeated_checksums_are_picked_by_algorithm() {
        let checksums = Checksums {
            crc32: Some(" AAAAAA== ".into()),
            sha256: Some("x".into()),
            ..Checksums::default()
        };
        assert_eq!(
            repeated_checksum(&checksums, ChecksumAlgorithm::Crc32),
            Some("AAAAAA==")
        );
        assert_eq!(
            repeated_checksum(&checksums, ChecksumAlgorithm::Crc32c),
            None
        );
        assert_eq!(
            repeated_checksum(&checksums, ChecksumAlgorithm::Sha256),
            Some("x")
        );
    }
}

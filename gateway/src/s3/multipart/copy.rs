//! UploadPartCopy: a part made from an existing object, or a byte range of it
//! (`x-amz-copy-source-range: bytes=first-last`). metad makes the part share the source's
//! chunks; no byte is written.
//!
//! S3 makes a part's ETag the MD5 of its bytes. metad can reuse the source's ETag only for a
//! whole source written in one piece; for a range, a multipart source, or an upload that needs
//! a checksum per part, the gateway streams the bytes once through the read pipeline and hashes
//! them (nothing is stored), then names the source inode it read, so that metad refuses the copy
//! if the source was replaced meanwhile (the copy is then retried on the new source).

use super::{upload_checksum, upload_error, upload_info};
use crate::auth::checksum::ChecksumAlgorithm;
use crate::body::{Digests, PayloadHasher};
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::CopySource;
use crate::s3::conditions::Preconditions;
use crate::s3::copy::{check_source, check_source_access};
use crate::s3::meta::checksums_xml;
use crate::s3::{rpc_error, xml_response};
use crate::xml;
use dfs_client::FileReader;
use dfs_common::http::Body;
use dfs_common::names::ObjectPath;
use dfs_common::wire::CopyPartReq;
use dfs_common::{ErrorCode, InodeId};
use futures_util::StreamExt;
use http::Response;

/// Attempts at a copy whose source changes between its read and the copy.
const COPY_ATTEMPTS: usize = 3;

/// Parses `x-amz-copy-source-range`: `bytes=first-last`, both given, `first <= last`
/// (inclusive, zero-based), else `InvalidArgument` as S3 answers.
pub(crate) fn parse_copy_range(text: &str) -> S3Result<(u64, u64)> {
    let invalid = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where \
             first and last are the zero-based offsets of the first and last bytes to copy",
        )
        .with_source(format!("x-amz-copy-source-range {text:?}"))
    };
    let spec = text.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (number(first), number(last)) {
        (Some(first), Some(last)) if first <= last => Ok((first, last)),
        _ => Err(invalid()),
    }
}

/// Checks a copy range against the source's size.
fn check_range(range: (u64, u64), size: u64) -> S3Result<()> {
    if range.1 >= size {
        return Err(S3Error::invalid_argument(format!(
            "Range specified is not valid for source object of size: {size}"
        )));
    }
    Ok(())
}

/// Whether an ETag is the plain MD5 of an object written in one piece (not `"...-N"`).
fn is_plain_md5(etag: &str) -> bool {
    let bare = etag.trim().trim_matches('"');
    bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the copy request carries about the source as the gateway saw it.
struct Prepared {
    /// The source's ETag, which metad must still find.
    src_etag: String,
    /// The inode that was read, when the part's bytes were hashed.
    src_inode: Option<InodeId>,
    /// The part's ETag, when hashed here.
    etag: Option<String>,
    /// The part's checksum, when the upload needs one.
    checksum: Option<dfs_common::checksum::Checksum>,
}

/// `PUT /bucket/key?partNumber=N&uploadId=U` with `x-amz-copy-source`.
pub(crate) async fn upload_part_copy(
    ctx: &ReqCtx,
    target: &ObjectPath,
    upload_id: &str,
    part_number: u32,
    source: &CopySource,
) -> S3Result<Response<Body>> {
    check_source_access(ctx, &source.object.bucket).await?;
    if let Some(version) = source.version_id.as_deref().filter(|v| *v != "null") {
        return Err(S3Error::invalid_argument(format!(
            "Invalid version id {version:?}: dfs keeps one version of each object."
        )));
    }
    let range = ctx
        .header("x-amz-copy-source-range")?
        .map(parse_copy_range)
        .transpose()?;
    let conditions = Preconditions::from_headers(&ctx.headers, "x-amz-copy-source-");
    let info = upload_info(ctx, target, upload_id).await?;
    let algorithm = upload_checksum(&info).map(|c| c.algorithm);
    let src_path = source.object.to_string();
    let mut attempt = 0;
    let resp = loop {
        attempt += 1;
        let prepared = prepare(ctx, source, &conditions, range, algorithm).await?;
        let req = CopyPartReq {
            upload_id: upload_id.to_owned(),
            part_number,
            path: Some(target.clone()),
            src: source.object.clone(),
            range,
            src_if_match: Some(prepared.src_etag),
            src_if_none_match: None,
            src_if_modified_since_ms: None,
            src_if_unmodified_since_ms: None,
            etag: prepared.etag,
            checksum: prepared.checksum,
            src_inode: prepared.src_inode,
        };
        match ctx.client.uploads().copy_part(&req).await {
            Ok(resp) => break resp,
            // The source changed since it was looked at: look again (its conditions too).
            Err(e)
                if matches!(e.code, ErrorCode::PreconditionFailed | ErrorCode::Conflict)
                    && attempt < COPY_ATTEMPTS =>
            {
                tracing::debug!("copy of {src_path} into upload {upload_id} retried: {e}");
            }
            Err(e) if e.code == ErrorCode::NotFound => {
                // The source may have gone since it was looked at, or the upload.
                return Err(match ctx.client.stat(&src_path).await {
                    Err(s) if s.code == ErrorCode::NotFound => {
                        rpc_error(s, &source.object.bucket, S3ErrorCode::NoSuchKey, src_path)
                    }
                    _ => upload_error(e, target, upload_id),
                });
            }
            Err(e) => return Err(upload_error(e, target, upload_id)),
        }
    };
    let part = resp.part;
    let shown = part
        .checksum
        .as_ref()
        .filter(|c| Some(c.algorithm) == algorithm);
    Ok(xml_response(xml::copy_part_result(
        &part.etag,
        part.mtime_ms,
        &checksums_xml(shown),
    )))
}

/// Looks the source up, checks the copy-source conditions on it, and hashes the part's
/// bytes when metad cannot name the ETag itself or the upload needs a checksum.
async fn prepare(
    ctx: &ReqCtx,
    source: &CopySource,
    conditions: &Preconditions,
    range: Option<(u64, u64)>,
    algorithm: Option<ChecksumAlgorithm>,
) -> S3Result<Prepared> {
    let path = source.object.to_string();
    let lookup_error = |e| {
        rpc_error(
            e,
            &source.object.bucket,
            S3ErrorCode::NoSuchKey,
            path.clone(),
        )
    };
    if range.is_none() && algorithm.is_none() {
        let entry = ctx.client.stat(&path).await.map_err(lookup_error)?;
        check_source(&entry, source, conditions)?;
        if is_plain_md5(&entry.etag) {
            // metad names the part by the source's own ETag.
            return Ok(Prepared {
                src_etag: entry.etag,
                src_inode: None,
                etag: None,
                checksum: None,
            });
        }
    }
    let (from, until) = range.map_or((0, u64::MAX), |r| (r.0, r.1.saturating_add(1)));
    let reader = ctx
        .client
        .open_at(&path, from, until)
        .await
        .map_err(lookup_error)?;
    let entry = reader.entry().clone();
    check_source(&entry, source, conditions)?;
    let (start, end_exclusive) = match range {
        Some(range) => {
            check_range(range, entry.size)?;
            (range.0, range.1 + 1)
        }
        None => (0, entry.size),
    };
    let digests = hash_range(&reader, &path, start, end_exclusive, algorithm).await?;
    Ok(Prepared {
        src_etag: entry.etag,
        src_inode: Some(entry.inode),
        etag: Some(dfs_client::format_etag(&digests.md5)),
        checksum: digests.checksum.as_ref().map(crate::s3::meta::full_object),
    })
}

/// Reads bytes `[start, end_exclusive)` of the source once and hashes them (MD5, and the
/// upload's checksum), on a blocking thread so that the hashing never holds up the runtime.
/// Memory: the reader's small prefetch.
async fn hash_range(
    reader: &FileReader,
    path: &str,
    start: u64,
    end_exclusive: u64,
    algorithm: Option<ChecksumAlgorithm>,
) -> S3Result<Digests> {
    let mut stream = std::pin::pin!(reader.stream(start, end_exclusive));
    let mut hasher = PayloadHasher::new(false, algorithm);
    while let Some(piece) = stream.next().await {
        let piece =
            piece.map_err(|e| S3Error::from_rpc(e, S3ErrorCode::NoSuchKey).with_resource(path))?;
        hasher = tokio::task::spawn_blocking(move || {
            let mut hasher = hasher;
            hasher.update(&piece);
            hasher
        })
        .await
        .map_err(|e| S3Error::internal(format!("the copy hashing thread failed: {e}")))?;
    }
    let digests = hasher.finish();
    let want = end_exclusive - start;
    if digests.len != want {
        return Err(S3Error::internal(format!(
            "reading {path} for a part copy gave {} bytes of {want}",
            digests.len
        )));
    }
    Ok(digests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges_parse() {
        assert_eq!(parse_copy_range("bytes=0-0").unwrap(), (0, 0));
        assert_eq!(parse_copy_range("bytes=5-9").unwrap(), (5, 9));
        assert_eq!(
            parse_copy_range(" bytes=0-5368709119 ").unwrap(),
            (0, 5_368_709_119)
        );
        for bad in [
            "",
            "bytes=",
            "bytes=5",
            "bytes=5-",
            "bytes=-5",
            "bytes=9-5",
            "bytes=a-b",
            "bytes=1-2,4-5",
            "items=0-1",
            "bytes=+1-2",
            "bytes=0-99999999999999999999999",
        ] {
            assert_eq!(
                parse_copy_range(bad).unwrap_err().code(),
                S3ErrorCode::InvalidArgument,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn copy_ranges_must_lie_in_the_source() {
        assert!(check_range((0, 9), 10).is_ok());
        assert!(check_range((9, 9), 10).is_ok());
        let err = check_range((0, 10), 10).unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::InvalidArgument);
        assert!(err.message().ends_with("size: 10"), "{}", err.message());
        assert!(check_range((0, 0), 0).is_err());
    }

    #[test]
    fn plain_md5_etags() {
        assert!(is_plain_md5("\"d41d8cd98f00b204e9800998ecf8427e\""));
        assert!(is_plain_md5("d41d8cd98f00b204e9800998ecf8427e"));
        assert!(!is_plain_md5("\"d41d8cd98f00b204e9800998ecf8427e-2\""));
        assert!(!is_plain_md5(""));
    }
}

//! ListObjects (V1) and ListObjectsV2: one metad `ListObjectsReq` per page, whose cost is
//! proportional to the page, not to the bucket.
//!
//! The V2 continuation token is opaque to clients but simple: base64url (no padding) of a
//! version byte and the key after which the next page starts. It names a position, not a
//! snapshot, so it survives concurrent deletes (the next page starts after that key whether or
//! not it still exists).

use super::{rpc_error, xml_response};
use crate::ctx::ReqCtx;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::xml::{self, ListObjectsResult, ListVersion, ObjectItem};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dfs_common::http::Body;
use dfs_common::names::BucketName;
use dfs_common::wire::{ListObjectsReq, MAX_LIST_KEYS};
use http::Response;

/// The version byte of continuation tokens made by this gateway.
const TOKEN_VERSION: u8 = 1;

/// The continuation token of a page that ends at `start_after`.
pub(super) fn encode_token(start_after: &str) -> String {
    let mut raw = Vec::with_capacity(1 + start_after.len());
    raw.push(TOKEN_VERSION);
    raw.extend_from_slice(start_after.as_bytes());
    URL_SAFE_NO_PAD.encode(raw)
}

/// The position a continuation token names; anything this gateway did not make is
/// `InvalidArgument`, as S3 answers.
pub(super) fn decode_token(token: &str) -> S3Result<String> {
    let invalid = || {
        S3Error::invalid_argument("The continuation token provided is incorrect.")
            .with_source(format!("undecodable continuation token {token:?}"))
    };
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    match raw.split_first() {
        Some((&TOKEN_VERSION, key)) => String::from_utf8(key.to_vec()).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

/// `max-keys`: default and cap 1000; a negative or non-numeric value is `InvalidArgument`.
pub(super) fn parse_max_keys(value: Option<&str>) -> S3Result<u32> {
    let Some(text) = value else {
        return Ok(MAX_LIST_KEYS);
    };
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(u32::try_from(n).unwrap_or(u32::MAX).min(MAX_LIST_KEYS)),
        _ => Err(S3Error::invalid_argument(format!(
            "max-keys must be a non-negative integer, not {text:?}."
        ))),
    }
}

/// `encoding-type`: only `url` exists.
pub(super) fn parse_encoding(value: Option<&str>) -> S3Result<bool> {
    match value {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("url") => Ok(true),
        Some(v) => Err(S3Error::invalid_argument(format!(
            "Invalid Encoding Method specified in Request: {v:?} (only url is supported)."
        ))),
    }
}

/// `GET /bucket` (V1) or `GET /bucket?list-type=2` (V2).
pub(super) async fn list_objects(
    ctx: &ReqCtx,
    bucket: &BucketName,
    v2: bool,
) -> S3Result<Response<Body>> {
    let q = &ctx.query;
    let prefix = q.get("prefix").unwrap_or_default().to_owned();
    let delimiter = q
        .get("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let max_keys = parse_max_keys(q.get("max-keys"))?;
    let url_encoding = parse_encoding(q.get("encoding-type"))?;
    let (start_after, version) = if v2 {
        let token = q.get("continuation-token").map(str::to_owned);
        let start_after_param = q.get("start-after").map(str::to_owned);
        let position = match &token {
            Some(token) => Some(decode_token(token)?),
            None => start_after_param.clone().filter(|s| !s.is_empty()),
        };
        (
            position,
            ListVersion::V2 {
                continuation_token: token,
                next_continuation_token: None,
                start_after: start_after_param,
            },
        )
    } else {
        let marker = q.get("marker").unwrap_or_default().to_owned();
        (
            Some(marker.clone()).filter(|m| !m.is_empty()),
            ListVersion::V1 {
                marker,
                next_marker: None,
            },
        )
    };
    let resp = ctx
        .client
        .buckets()
        .list_objects(&ListObjectsReq {
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            delimiter: delimiter.clone(),
            start_after,
            max_keys,
        })
        .await
        .map_err(|e| rpc_error(e, bucket, S3ErrorCode::NoSuchBucket, format!("/{bucket}")))?;
    let next = resp.next_start_after.filter(|_| resp.truncated);
    let version = match version {
        ListVersion::V1 { marker, .. } => ListVersion::V1 {
            marker,
            // S3 sends NextMarker only with a delimiter; without one clients continue from
            // the last key of the page.
            next_marker: next.filter(|_| delimiter.is_some()),
        },
        ListVersion::V2 {
            continuation_token,
            start_after,
            ..
        } => ListVersion::V2 {
            continuation_token,
            next_continuation_token: next.as_deref().map(encode_token),
            start_after,
        },
    };
    let fetch_owner = !v2 || q.get("fetch-owner").is_some_and(|v| v == "true");
    let result = ListObjectsResult {
        bucket: bucket.to_string(),
        prefix,
        delimiter,
        max_keys,
        url_encoding,
        is_truncated: resp.truncated,
        contents: resp
            .objects
            .into_iter()
            .map(|o| ObjectItem {
                key: o.key,
                last_modified_ms: o.mtime_ms,
                etag: o.etag,
                size: o.size,
            })
            .collect(),
        common_prefixes: resp.common_prefixes,
        owner: fetch_owner.then(|| ctx.owner()),
        version,
    };
    Ok(xml_response(xml::list_objects(&result)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip() {
        for key in ["", "a", "photos/2024/é.jpg", "a b+c/?&=%", "x\u{0}y"] {
            let token = encode_token(key);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
            assert_eq!(decode_token(&token).unwrap(), key);
        }
    }

    #[test]
    fn garbage_tokens_are_invalid_argument() {
        let wrong_version = URL_SAFE_NO_PAD.encode([2u8, b'a']);
        let not_utf8 = URL_SAFE_NO_PAD.encode([TOKEN_VERSION, 0xff, 0xfe]);
        for bad in ["", "!!!", "not base64 at all", &wrong_version, &not_utf8] {
            let err = decode_token(bad).unwrap_err();
            assert_eq!(err.code(), S3ErrorCode::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn max_keys_defaults_caps_and_refuses() {
        assert_eq!(parse_max_keys(None).unwrap(), 1000);
        assert_eq!(parse_max_keys(Some("0")).unwrap(), 0);
        assert_eq!(parse_max_keys(Some("7")).unwrap(), 7);
        assert_eq!(parse_max_keys(Some("5000")).unwrap(), 1000);
        assert_eq!(parse_max_keys(Some("99999999999999")).unwrap(), 1000);
        for bad in ["-1", "ten", ""] {
            assert_eq!(
                parse_max_keys(Some(bad)).unwrap_err().code(),
                S3ErrorCode::InvalidArgument
            );
        }
    }

    #[test]
    fn encoding_type() {
        assert!(!parse_encoding(None).unwrap());
        assert!(parse_encoding(Some("url")).unwrap());
        assert!(parse_encoding(Some("base64")).is_err());
    }
}

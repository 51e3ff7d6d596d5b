//! Query strings and copy sources.
//!
//! Query decoding: names and values are percent-decoded once, and `+` decodes to a space, as
//! in HTML forms. That is how S3 itself, Go's `url.ParseQuery` (MinIO) and the `url` crate
//! (Garage) read a query; SDKs always send `%20` and `%2B`, so they are unaffected, and the
//! gateway's SigV4 check decodes the query the same way (`auth::sigv4::parse_query`), so both
//! see the same parameters. Paths differ: there `+` is a literal plus.

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::MAX_KEY_BYTES;
use dfs_common::names::{BucketName, NameError, ObjectKey, ObjectPath};
use percent_encoding::percent_decode_str;

/// The decoded parameters of a query string, in order. A name given twice keeps its first value
/// for [`Query::get`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (without the `?`). A parameter without `=` has an empty value
    /// (`?uploads`). Names and values that do not decode to UTF-8 are `InvalidURI`.
    pub fn parse(raw: &str) -> S3Result<Query> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode_query_part(name)?, decode_query_part(value)?));
        }
        Ok(Query { pairs })
    }

    /// The value of the first parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a parameter called `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// Every parameter, decoded, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

fn decode_query_part(raw: &str) -> S3Result<String> {
    // `+` first, so that an encoded plus (`%2B`) stays a plus.
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidURI,
                format!("The query parameter {raw:?} does not decode to UTF-8."),
            )
        })
}

/// The object named by `x-amz-copy-source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySource {
    /// The source object, its key decoded.
    pub object: ObjectPath,
    /// `?versionId=` of the header, if any.
    pub version_id: Option<String>,
}

/// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, URL-encoded. A `?` that is part
/// of the key arrives encoded (`%3F`), so the first raw `?` starts the version query. The key is
/// decoded like a path: `+` stays a plus.
pub fn parse_copy_source(value: &str) -> S3Result<CopySource> {
    let (raw_path, raw_query) = value.split_once('?').unwrap_or((value, ""));
    let version_id = Query::parse(raw_query)?.get("versionId").map(str::to_owned);
    let decoded = percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| S3Error::invalid_argument("x-amz-copy-source does not decode to UTF-8."))?;
    let path = decoded.strip_prefix('/').unwrap_or(&decoded);
    let bad = || {
        S3Error::invalid_argument(format!(
            "Invalid copy source {value:?}: it must be bucket/key, URL-encoded."
        ))
    };
    let (bucket, key) = path.split_once('/').ok_or_else(bad)?;
    let bucket = BucketName::new(bucket).map_err(|_| bad())?;
    let key = ObjectKey::new(key).map_err(|err| match err {
        NameError::KeyTooLong { len } => S3Error::new(
            S3ErrorCode::KeyTooLongError,
            format!("The copy source key is {len} bytes, at most {MAX_KEY_BYTES}."),
        ),
        _ => bad(),
    })?;
    Ok(CopySource {
        object: ObjectPath::new(bucket, key),
        version_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Query::parse("list-type=2&prefix=a%20b+c%2Bd&delimiter=%2F&uploads&x=1=2").unwrap();
        assert_eq!(q.get("list-type"), Some("2"));
        assert_eq!(q.get("prefix"), Some("a b c+d"));
        assert_eq!(q.get("delimiter"), Some("/"));
        assert_eq!(q.get("uploads"), Some(""));
        assert!(q.has("uploads"));
        assert_eq!(q.get("x"), Some("1=2"));
        assert!(!q.has("missing"));
        let q = Query::parse("prefix=%E6%97%A5&prefix=second&&").unwrap();
        assert_eq!(q.get("prefix"), Some("日"));
        assert_eq!(q.pairs().len(), 2);
        assert!(Query::parse("").unwrap().pairs().is_empty());
        // A stray % is kept literally, as the signature check decodes it.
        assert_eq!(Query::parse("p=100%").unwrap().get("p"), Some("100%"));
        assert_eq!(
            Query::parse("p=%FF").unwrap_err().code(),
            S3ErrorCode::InvalidURI
        );
    }

    #[test]
    fn copy_sources() {
        let src = parse_copy_source("/bucket/a%20b%2Bc/d+e").unwrap();
        assert_eq!(src.object.bucket.as_str(), "bucket");
        assert_eq!(src.object.key.as_str(), "a b+c/d+e");
        assert_eq!(src.version_id, None);
        let src = parse_copy_source("bucket/k%3Fq?versionId=null").unwrap();
        assert_eq!(src.object.key.as_str(), "k?q");
        assert_eq!(src.version_id.as_deref(), Some("null"));
        let src = parse_copy_source("bucket/a//b/../c").unwrap();
        assert_eq!(src.object.key.as_str(), "a//b/../c");
        for bad in [
            "",
            "/",
            "bucket",
            "bucket/",
            "/bucket/",
            "BAD_BUCKET/k",
            "%FF/k",
        ] {
            assert!(parse_copy_source(bad).is_err(), "{bad:?}");
        }
        let long = format!("bucket/{}", "k".repeat(MAX_KEY_BYTES + 1));
        assert_eq!(
            parse_copy_source(&long).unwrap_err().code(),
            S3ErrorCode::KeyTooLongError
        );
    }
}

//! What an object keeps from the request that wrote it, and how it comes back on GET and HEAD.
//!
//! The content type goes into the entry's own field, and so does the verified flexible checksum
//! (typed: algorithm, type, value), returned only when the client asks with
//! `x-amz-checksum-mode: ENABLED`. Everything else lives in the entry's `meta` list under
//! lower-case header names: the standard headers S3 stores ([`STORED_HEADERS`]) and the user
//! metadata (`x-amz-meta-*`).

use crate::auth::checksum::{self as auth, ChecksumAlgorithm};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::Query;
use crate::xml::Checksums;
use dfs_common::checksum::{Checksum, ChecksumType};
use http::{HeaderMap, HeaderName, HeaderValue};

/// What S3 answers as the content type of an object stored without one.
pub(crate) const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// The standard headers stored with an object and returned with it.
pub(crate) const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];
/// Prefix of user metadata headers.
pub(crate) const USER_META_PREFIX: &str = "x-amz-meta-";
/// Most bytes of user metadata (names without the prefix, and values), as S3 allows.
pub(crate) const MAX_USER_META_BYTES: usize = 2048;

/// The query parameters that override a response header of GET and HEAD, and the header each
/// overrides.
const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// Content type and stored headers of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ObjectMeta {
    /// The `Content-Type` given at write time.
    pub content_type: Option<String>,
    /// Stored headers and user metadata, by lower-case name, sorted.
    pub meta: Vec<(String, String)>,
    /// The flexible checksum of the data.
    pub checksum: Option<Checksum>,
}

/// A header value as text: UTF-8 when it is (returned as the same bytes), else each byte as
/// its Latin-1 character (what HTTP/1.1's obs-text means).
fn value_text(value: &HeaderValue) -> String {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => text.to_owned(),
        Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// `Content-Encoding` without the `aws-chunked` transfer framing, which is never stored.
fn stored_content_encoding(value: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

impl ObjectMeta {
    /// Reads what a PUT (or a copy with `REPLACE`) stores from its headers. A header sent
    /// several times keeps its values joined by `,`. More than [`MAX_USER_META_BYTES`] of user
    /// metadata is `MetadataTooLarge`.
    pub(crate) fn from_request(headers: &HeaderMap) -> S3Result<ObjectMeta> {
        let joined = |name: &str| -> Option<String> {
            let values: Vec<String> = headers.get_all(name).iter().map(value_text).collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let content_type = joined("content-type").filter(|t| !t.is_empty());
        let mut meta = Vec::new();
        for name in STORED_HEADERS {
            let Some(value) = joined(name) else { continue };
            let value = if name == "content-encoding" {
                match stored_content_encoding(&value) {
                    Some(value) => value,
                    None => continue,
                }
            } else {
                value
            };
            meta.push((name.to_owned(), value));
        }
        let mut user_bytes = 0;
        for name in headers.keys() {
            let name = name.as_str();
            let Some(short) = name.strip_prefix(USER_META_PREFIX) else {
                continue;
            };
            let value = joined(name).unwrap_or_default();
            user_bytes += short.len() + value.len();
            meta.push((name.to_owned(), value));
        }
        if user_bytes > MAX_USER_META_BYTES {
            return Err(S3Error::new(
                S3ErrorCode::MetadataTooLarge,
                format!(
                    "Your metadata headers are {user_bytes} bytes; at most \
                     {MAX_USER_META_BYTES} are allowed."
                ),
            ));
        }
        meta.sort();
        Ok(ObjectMeta {
            content_type,
            meta,
            checksum: None,
        })
    }

    /// Records the verified checksum of the payload (a checksum of its bytes).
    pub(crate) fn with_checksum(mut self, checksum: Option<&auth::Checksum>) -> ObjectMeta {
        if let Some(checksum) = checksum {
            self.checksum = Some(full_object(checksum));
        }
        self
    }
}

/// A computed digest as the typed checksum of the bytes it covers (an object's or a part's).
pub(crate) fn full_object(checksum: &auth::Checksum) -> Checksum {
    Checksum {
        algorithm: checksum.algorithm(),
        kind: ChecksumType::FullObject,
        value: checksum.to_base64(),
    }
}

/// Canned ACLs that say what dfs does anyway (the owner alone has access).
const HONEST_ACLS: [&str; 2] = ["private", "bucket-owner-full-control"];
/// Request headers asking for something dfs does not do; accepting them silently would be a
/// fake success (a client would believe its object public, encrypted, tagged or locked).
const UNSUPPORTED_HEADERS: [(&str, &str); 11] = [
    ("x-amz-grant-read", "Access control grants"),
    ("x-amz-grant-write", "Access control grants"),
    ("x-amz-grant-read-acp", "Access control grants"),
    ("x-amz-grant-write-acp", "Access control grants"),
    ("x-amz-grant-full-control", "Access control grants"),
    ("x-amz-server-side-encryption", "Server-side encryption"),
    (
        "x-amz-server-side-encryption-customer-algorithm",
        "Server-side encryption",
    ),
    ("x-amz-object-lock-mode", "Object lock"),
    ("x-amz-object-lock-retain-until-date", "Object lock"),
    ("x-amz-object-lock-legal-hold", "Object lock"),
    ("x-amz-tagging", "Object tagging"),
];

/// Refuses the request headers of a write that ask for what dfs does not do: an ACL other than
/// the owner's, grants, server-side encryption, object lock, tags (`NotImplemented`), or a
/// storage class other than `STANDARD` (`InvalidStorageClass`).
pub(crate) fn check_write_headers(headers: &HeaderMap) -> S3Result<()> {
    if let Some(acl) = headers.get("x-amz-acl") {
        let honest = acl
            .to_str()
            .is_ok_and(|v| HONEST_ACLS.iter().any(|h| v.trim().eq_ignore_ascii_case(h)));
        if !honest {
            return Err(S3Error::not_implemented(format!(
                "The canned ACL {:?} (dfs objects and buckets are private to their keys)",
                String::from_utf8_lossy(acl.as_bytes())
            )));
        }
    }
    for (name, what) in UNSUPPORTED_HEADERS {
        if headers.contains_key(name) {
            return Err(S3Error::not_implemented(format!("{what} ({name})")));
        }
    }
    if let Some(class) = headers.get("x-amz-storage-class") {
        if !class.as_bytes().eq_ignore_ascii_case(b"STANDARD") {
            return Err(S3Error::new(
                S3ErrorCode::InvalidStorageClass,
                format!(
                    "The storage class {:?} is not available: dfs has one, STANDARD.",
                    String::from_utf8_lossy(class.as_bytes())
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a `versionId` other than `null` (the one version dfs keeps of each object).
pub(crate) fn check_version_id(query: &Query) -> S3Result<()> {
    match query.get("versionId") {
        None | Some("null") => Ok(()),
        Some(other) => Err(S3Error::new(
            S3ErrorCode::NoSuchVersion,
            format!("The version {other:?} does not exist: dfs keeps one version of each object."),
        )),
    }
}

/// The checksum as the XML documents report it (CopyObjectResult, ListParts...).
pub(crate) fn checksums_xml(checksum: Option<&Checksum>) -> Checksums {
    let mut out = Checksums::default();
    if let Some(checksum) = checksum {
        let slot = match checksum.algorithm {
            ChecksumAlgorithm::Crc32 => &mut out.crc32,
            ChecksumAlgorithm::Crc32c => &mut out.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &mut out.crc64nvme,
            ChecksumAlgorithm::Sha1 => &mut out.sha1,
            ChecksumAlgorithm::Sha256 => &mut out.sha256,
        };
        *slot = Some(checksum.value.clone());
    }
    out
}

/// Adds the checksum headers (`x-amz-checksum-<alg>` and `x-amz-checksum-type`).
pub(crate) fn add_checksum_headers(out: &mut HeaderMap, checksum: Option<&Checksum>) {
    if let Some(checksum) = checksum {
        if let Ok(header) = HeaderValue::from_str(&checksum.value) {
            out.insert(checksum.algorithm.header_name(), header);
            out.insert(
                "x-amz-checksum-type",
                HeaderValue::from_static(checksum.kind.name()),
            );
        }
    }
}

/// Writes the object's content type, stored headers and user metadata into a GET or HEAD
/// response, with the `response-*` query overrides applied; the checksum too when
/// `with_checksum`. An override value that cannot be a header is `InvalidArgument`.
pub(crate) fn write_object_headers(
    out: &mut HeaderMap,
    object: &ObjectMeta,
    query: &Query,
    with_checksum: bool,
) -> S3Result<()> {
    let content_type = object
        .content_type
        .as_deref()
        .unwrap_or(DEFAULT_CONTENT_TYPE);
    insert_stored(out, "content-type", content_type);
    for (name, value) in &object.meta {
        let stored = STORED_HEADERS.contains(&name.as_str());
        if stored || name.starts_with(USER_META_PREFIX) {
            insert_stored(out, name, value);
        }
    }
    if with_checksum {
        add_checksum_headers(out, object.checksum.as_ref());
    }
    for (param, header) in RESPONSE_OVERRIDES {
        if let Some(value) = query.get(param) {
            let value = HeaderValue::from_str(value).map_err(|_| {
                S3Error::invalid_argument(format!("The {param} value is not a valid header value."))
            })?;
            out.insert(HeaderName::from_static(header), value);
        }
    }
    Ok(())
}

/// Inserts a stored header. Stored values came from request headers, so they are valid ones;
/// one that is not (written by another client of the cluster) is left out rather than failing
/// the read.
fn insert_stored(out: &mut HeaderMap, name: &str, value: &str) {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_bytes()),
    ) {
        (Ok(name), Ok(value)) => {
            out.append(name, value);
        }
        _ => tracing::debug!("stored header {name:?} is not a valid header; left out"),
    }
}

#[cfg(test)]
mod tests;

//! Routing: (method, host, path, query, headers) to the S3 operation, carrying its validated
//! bucket or object.
//!
//! A plain `match` on the method with the bucket, the key and the subresource present: no
//! macro DSL. Both addressing styles are understood: path style (`/bucket/key`) and virtual-host
//! style (`bucket.<root domain>/key`). The key is percent-decoded from the raw path exactly once
//! and never normalised: `a//b`, `./`, `../` and a decoded `%2F` stay as given, and `+` in a path
//! is a literal plus. See [`query`] for how query strings are decoded.

mod bucket_config;
pub mod query;

pub use bucket_config::BucketConfig;
pub use query::{parse_copy_source, CopySource, Query};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use dfs_common::names::{BucketName, ObjectKey, ObjectPath};
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;

pub use dfs_common::names::MAX_KEY_BYTES;

/// The header that makes a PUT a copy.
pub const COPY_SOURCE_HEADER: &str = "x-amz-copy-source";

/// One S3 operation, with what the router already parsed for it: each variant carries the
/// validated bucket or object it acts on, so that a handler cannot ask for a key that is not
/// there. Listing and conditional parameters stay in the [`Query`] and headers for the handler
/// to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /`.
    ListBuckets,
    /// `PUT /bucket`.
    CreateBucket {
        /// The bucket to create.
        bucket: BucketName,
    },
    /// `HEAD /bucket`.
    HeadBucket {
        /// The bucket.
        bucket: BucketName,
    },
    /// `DELETE /bucket`.
    DeleteBucket {
        /// The bucket.
        bucket: BucketName,
    },
    /// `GET /bucket?location`.
    GetBucketLocation {
        /// The bucket.
        bucket: BucketName,
    },
    /// `GET /bucket?versioning`.
    GetBucketVersioning {
        /// The bucket.
        bucket: BucketName,
    },
    /// `GET /bucket?acl`.
    GetBucketAcl {
        /// The bucket.
        bucket: BucketName,
    },
    /// `GET /bucket` (ListObjects V1).
    ListObjects {
        /// The bucket.
        bucket: BucketName,
    },
    /// `GET /bucket?list-type=2`.
    ListObjectsV2 {
        /// The bucket.
        bucket: BucketName,
    },
    /// `GET /bucket?uploads`.
    ListMultipartUploads {
        /// The bucket.
        bucket: BucketName,
    },
    /// `POST /bucket?delete`.
    DeleteObjects {
        /// The bucket.
        bucket: BucketName,
    },
    /// A bucket configuration dfs does not keep (lifecycle, cors, policy...): the handler answers
    /// the "no such configuration" error or an empty document for GET, and `NotImplemented`
    /// for changes.
    BucketSubresource {
        /// The bucket.
        bucket: BucketName,
        /// Which configuration.
        config: BucketConfig,
        /// GET, PUT or DELETE.
        method: Method,
    },
    /// `GET /bucket/key`.
    GetObject {
        /// The object.
        object: ObjectPath,
    },
    /// `HEAD /bucket/key`.
    HeadObject {
        /// The object.
        object: ObjectPath,
    },
    /// `PUT /bucket/key`.
    PutObject {
        /// The object.
        object: ObjectPath,
    },
    /// `PUT /bucket/key` with `x-amz-copy-source`.
    CopyObject {
        /// The object to write.
        object: ObjectPath,
        /// The object to copy.
        source: CopySource,
    },
    /// `DELETE /bucket/key`.
    DeleteObject {
        /// The object.
        object: ObjectPath,
    },
    /// `POST /bucket/key?uploads`.
    CreateMultipartUpload {
        /// The object the upload will make.
        object: ObjectPath,
    },
    /// `PUT /bucket/key?partNumber=N&uploadId=U`.
    UploadPart {
        /// The object the upload will make.
        object: ObjectPath,
        /// The upload.
        upload_id: String,
        /// 1..=10000.
        part_number: u32,
    },
    /// `PUT /bucket/key?partNumber=N&uploadId=U` with `x-amz-copy-source`.
    UploadPartCopy {
        /// The object the upload will make.
        object: ObjectPath,
        /// The upload.
        upload_id: String,
        /// 1..=10000.
        part_number: u32,
        /// The object to copy from (a range may come in `x-amz-copy-source-range`).
        source: CopySource,
    },
    /// `POST /bucket/key?uploadId=U`.
    CompleteMultipartUpload {
        /// The object the upload makes.
        object: ObjectPath,
        /// The upload.
        upload_id: String,
    },
    /// `DELETE /bucket/key?uploadId=U`.
    AbortMultipartUpload {
        /// The object the upload would have made.
        object: ObjectPath,
        /// The upload.
        upload_id: String,
    },
    /// `GET /bucket/key?uploadId=U`.
    ListParts {
        /// The object the upload will make.
        object: ObjectPath,
        /// The upload.
        upload_id: String,
    },
    /// `GET /bucket/key?acl`.
    GetObjectAcl {
        /// The object.
        object: ObjectPath,
    },
    /// A valid S3 operation dfs does not implement (object tagging, retention, restore...):
    /// the handler answers 501 `NotImplemented` naming it.
    NotImplemented {
        /// The bucket it names: the grant check comes first, as for the operations dfs has.
        bucket: BucketName,
        /// The operation's AWS name.
        operation: &'static str,
    },
}

impl Endpoint {
    /// The operation's AWS name (a bucket subresource's query name, such as `lifecycle`), for
    /// logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::ListBuckets => "ListBuckets",
            Endpoint::CreateBucket { .. } => "CreateBucket",
            Endpoint::HeadBucket { .. } => "HeadBucket",
            Endpoint::DeleteBucket { .. } => "DeleteBucket",
            Endpoint::GetBucketLocation { .. } => "GetBucketLocation",
            Endpoint::GetBucketVersioning { .. } => "GetBucketVersioning",
            Endpoint::GetBucketAcl { .. } => "GetBucketAcl",
            Endpoint::ListObjects { .. } => "ListObjects",
            Endpoint::ListObjectsV2 { .. } => "ListObjectsV2",
            Endpoint::ListMultipartUploads { .. } => "ListMultipartUploads",
            Endpoint::DeleteObjects { .. } => "DeleteObjects",
            Endpoint::BucketSubresource { config, .. } => config.query_name(),
            Endpoint::GetObject { .. } => "GetObject",
            Endpoint::HeadObject { .. } => "HeadObject",
            Endpoint::PutObject { .. } => "PutObject",
            Endpoint::CopyObject { .. } => "CopyObject",
            Endpoint::DeleteObject { .. } => "DeleteObject",
            Endpoint::CreateMultipartUpload { .. } => "CreateMultipartUpload",
            Endpoint::UploadPart { .. } => "UploadPart",
            Endpoint::UploadPartCopy { .. } => "UploadPartCopy",
            Endpoint::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Endpoint::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Endpoint::ListParts { .. } => "ListParts",
            Endpoint::GetObjectAcl { .. } => "GetObjectAcl",
            Endpoint::NotImplemented { operation, .. } => operation,
        }
    }

    /// The bucket the operation acts on (for an object operation, the object's); `None` only
    /// for ListBuckets. Grants are checked against it.
    pub fn bucket(&self) -> Option<&BucketName> {
        match self {
            Endpoint::ListBuckets => None,
            Endpoint::CreateBucket { bucket }
            | Endpoint::HeadBucket { bucket }
            | Endpoint::DeleteBucket { bucket }
            | Endpoint::GetBucketLocation { bucket }
            | Endpoint::GetBucketVersioning { bucket }
            | Endpoint::GetBucketAcl { bucket }
            | Endpoint::ListObjects { bucket }
            | Endpoint::ListObjectsV2 { bucket }
            | Endpoint::ListMultipartUploads { bucket }
            | Endpoint::DeleteObjects { bucket }
            | Endpoint::BucketSubresource { bucket, .. }
            | Endpoint::NotImplemented { bucket, .. } => Some(bucket),
            Endpoint::GetObject { object }
            | Endpoint::HeadObject { object }
            | Endpoint::PutObject { object }
            | Endpoint::CopyObject { object, .. }
            | Endpoint::DeleteObject { object }
            | Endpoint::CreateMultipartUpload { object }
            | Endpoint::UploadPart { object, .. }
            | Endpoint::UploadPartCopy { object, .. }
            | Endpoint::CompleteMultipartUpload { object, .. }
            | Endpoint::AbortMultipartUpload { object, .. }
            | Endpoint::ListParts { object, .. }
            | Endpoint::GetObjectAcl { object } => Some(&object.bucket),
        }
    }
}

/// Routes one request. `path` is the raw (still percent-encoded) path of the request line and
/// `query` its raw query string; `host` is the `Host` header; `root_domain` (such as
/// `s3.example.com`) enables virtual-host style for `BUCKET.s3.example.com`.
///
/// A bucket name that breaks the naming rules is `InvalidBucketName` for CreateBucket and
/// `NoSuchBucket` for anything else (no such bucket can exist, and S3 answers so for names it
/// once allowed); it is checked once the operation is known, so that a malformed request is
/// told so first. A key over [`MAX_KEY_BYTES`] is `KeyTooLongError`.
pub fn route(
    method: &Method,
    host: Option<&str>,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    root_domain: Option<&str>,
) -> S3Result<Endpoint> {
    let Some(raw_rest) = path.strip_prefix('/') else {
        return Err(S3Error::new(
            S3ErrorCode::InvalidURI,
            format!("The request path {path:?} does not start with /."),
        ));
    };
    let (bucket, raw_key) = match virtual_host_bucket(host, root_domain) {
        Some(bucket) => (Some(bucket), raw_rest),
        None if raw_rest.is_empty() => (None, ""),
        None => {
            let (raw_bucket, raw_key) = raw_rest.split_once('/').unwrap_or((raw_rest, ""));
            (Some(decode_path(raw_bucket)?), raw_key)
        }
    };
    let key = if raw_key.is_empty() {
        None
    } else {
        Some(decode_path(raw_key)?)
    };
    let query = Query::parse(query)?;
    match (bucket, key) {
        (None, _) => service_endpoint(method),
        (Some(bucket), None) => bucket_endpoint(method, &query, &bucket),
        (Some(bucket), Some(key)) => {
            let bucket = existing_bucket(&bucket)?;
            let object = ObjectPath::new(bucket, ObjectKey::new(key)?);
            object_endpoint(method, &query, headers, object)
        }
    }
}

/// The bucket of a request other than CreateBucket: a name that breaks the naming rules is
/// `NoSuchBucket`.
fn existing_bucket(name: &str) -> S3Result<BucketName> {
    BucketName::new(name).map_err(|err| {
        S3Error::from_code(S3ErrorCode::NoSuchBucket)
            .with_resource(format!("/{name}"))
            .with_source(err)
    })
}

/// The bucket named by the host in virtual-host style, if `host` is `BUCKET.<root_domain>`
/// (port ignored, case-insensitive as DNS is). Any other host means path style.
fn virtual_host_bucket(host: Option<&str>, root_domain: Option<&str>) -> Option<String> {
    let host = strip_port(host?).to_ascii_lowercase();
    let root = strip_port(root_domain?.trim_start_matches('.')).to_ascii_lowercase();
    if root.is_empty() {
        return None;
    }
    let bucket = host.strip_suffix(&root)?.strip_suffix('.')?;
    (!bucket.is_empty()).then(|| bucket.to_owned())
}

/// `host:port` to `host`; IPv6 literals (`[::1]:9000`) are returned whole (never a bucket).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Percent-decodes a path segment once; `+` stays a plus. Invalid UTF-8 is `InvalidURI`.
fn decode_path(raw: &str) -> S3Result<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidURI,
                format!("The path {raw:?} does not decode to UTF-8."),
            )
        })
}

fn method_not_allowed(method: &Method, what: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MethodNotAllowed,
        format!("The specified method {method} is not allowed against this {what}."),
    )
}

fn service_endpoint(method: &Method) -> S3Result<Endpoint> {
    match *method {
        Method::GET => Ok(Endpoint::ListBuckets),
        _ => Err(method_not_allowed(method, "service")),
    }
}

fn bucket_endpoint(method: &Method, q: &Query, name: &str) -> S3Result<Endpoint> {
    let config = BucketConfig::find(q);
    // Checked only where an operation is found, so that a malformed request is told so first.
    let bucket = || existing_bucket(name);
    let endpoint = match *method {
        Method::HEAD => Endpoint::HeadBucket { bucket: bucket()? },
        Method::GET if q.has("location") => Endpoint::GetBucketLocation { bucket: bucket()? },
        Method::GET if q.has("uploads") => Endpoint::ListMultipartUploads { bucket: bucket()? },
        Method::GET => match config {
            Some(BucketConfig::Versioning) => Endpoint::GetBucketVersioning { bucket: bucket()? },
            Some(BucketConfig::Acl) => Endpoint::GetBucketAcl { bucket: bucket()? },
            Some(config) => Endpoint::BucketSubresource {
                bucket: bucket()?,
                config,
                method: Method::GET,
            },
            None => match q.get("list-type") {
                None => Endpoint::ListObjects { bucket: bucket()? },
                Some("2") => Endpoint::ListObjectsV2 { bucket: bucket()? },
                Some(other) => {
                    return Err(S3Error::invalid_argument(format!(
                        "Invalid list-type {other:?}: only 2 is supported."
                    )))
                }
            },
        },
        Method::PUT | Method::DELETE if q.has("location") || q.has("uploads") => {
            return Err(method_not_allowed(method, "bucket subresource"));
        }
        Method::PUT | Method::DELETE => match config {
            Some(config) => Endpoint::BucketSubresource {
                bucket: bucket()?,
                config,
                method: method.clone(),
            },
            // The one place an invalid name is InvalidBucketName.
            None if *method == Method::PUT => Endpoint::CreateBucket {
                bucket: BucketName::new(name)?,
            },
            None => Endpoint::DeleteBucket { bucket: bucket()? },
        },
        Method::POST if q.has("delete") => Endpoint::DeleteObjects { bucket: bucket()? },
        // A browser-form upload (multipart/form-data to the bucket).
        Method::POST if config.is_none() && q.pairs().is_empty() => Endpoint::NotImplemented {
            bucket: bucket()?,
            operation: "PostObject",
        },
        _ => return Err(method_not_allowed(method, "bucket")),
    };
    Ok(endpoint)
}

/// Object subresources dfs does not implement, by method: (query name, AWS operation).
const UNSUPPORTED_OBJECT_GET: [(&str, &str); 5] = [
    ("tagging", "GetObjectTagging"),
    ("retention", "GetObjectRetention"),
    ("legal-hold", "GetObjectLegalHold"),
    ("torrent", "GetObjectTorrent"),
    ("attributes", "GetObjectAttributes"),
];
const UNSUPPORTED_OBJECT_PUT: [(&str, &str); 4] = [
    ("acl", "PutObjectAcl"),
    ("tagging", "PutObjectTagging"),
    ("retention", "PutObjectRetention"),
    ("legal-hold", "PutObjectLegalHold"),
];
const UNSUPPORTED_OBJECT_POST: [(&str, &str); 2] = [
    ("restore", "RestoreObject"),
    ("select", "SelectObjectContent"),
];

/// The unsupported operation named in the query, if any, by `table`.
fn unsupported(q: &Query, table: &[(&str, &'static str)]) -> Option<&'static str> {
    table
        .iter()
        .find(|(name, _)| q.has(name))
        .map(|&(_, operation)| operation)
}

fn object_endpoint(
    method: &Method,
    q: &Query,
    headers: &HeaderMap,
    object: ObjectPath,
) -> S3Result<Endpoint> {
    let upload_id = q.get("uploadId").map(str::to_owned);
    let not_implemented = |object: ObjectPath, operation| Endpoint::NotImplemented {
        bucket: object.bucket,
        operation,
    };
    let endpoint = match *method {
        Method::HEAD => Endpoint::HeadObject { object },
        Method::GET => match upload_id {
            Some(upload_id) => Endpoint::ListParts { object, upload_id },
            None if q.has("acl") => Endpoint::GetObjectAcl { object },
            None => match unsupported(q, &UNSUPPORTED_OBJECT_GET) {
                Some(operation) => not_implemented(object, operation),
                None => Endpoint::GetObject { object },
            },
        },
        Method::PUT => {
            let source = copy_source(headers)?;
            match (upload_id, q.get("partNumber")) {
                (Some(upload_id), Some(number)) => {
                    let part_number = parse_part_number(number)?;
                    match source {
                        Some(source) => Endpoint::UploadPartCopy {
                            object,
                            upload_id,
                            part_number,
                            source,
                        },
                        None => Endpoint::UploadPart {
                            object,
                            upload_id,
                            part_number,
                        },
                    }
                }
                (Some(_), None) | (None, Some(_)) => {
                    return Err(S3Error::invalid_argument(
                        "An upload part needs both uploadId and partNumber.",
                    ))
                }
                (None, None) => match unsupported(q, &UNSUPPORTED_OBJECT_PUT) {
                    Some(operation) => not_implemented(object, operation),
                    None => match source {
                        Some(source) => Endpoint::CopyObject { object, source },
                        None => Endpoint::PutObject { object },
                    },
                },
            }
        }
        Method::DELETE => match upload_id {
            Some(upload_id) => Endpoint::AbortMultipartUpload { object, upload_id },
            None if q.has("tagging") => not_implemented(object, "DeleteObjectTagging"),
            None => Endpoint::DeleteObject { object },
        },
        Method::POST => match upload_id {
            Some(upload_id) => Endpoint::CompleteMultipartUpload { object, upload_id },
            None if q.has("uploads") => Endpoint::CreateMultipartUpload { object },
            None => match unsupported(q, &UNSUPPORTED_OBJECT_POST) {
                Some(operation) => not_implemented(object, operation),
                None => return Err(method_not_allowed(method, "object")),
            },
        },
        _ => return Err(method_not_allowed(method, "object")),
    };
    Ok(endpoint)
}

/// The parsed `x-amz-copy-source`, if the request has one.
fn copy_source(headers: &HeaderMap) -> S3Result<Option<CopySource>> {
    let Some(value) = headers.get(COPY_SOURCE_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| S3Error::invalid_argument("x-amz-copy-source must be URL-encoded ASCII."))?;
    parse_copy_source(text).map(Some)
}

fn parse_part_number(text: &str) -> S3Result<u32> {
    match text.parse::<u32>() {
        Ok(n) if (1..=crate::xml::MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(S3Error::invalid_argument(format!(
            "Part number must be an integer between 1 and {}, inclusive (got {text:?}).",
            crate::xml::MAX_PART_NUMBER
        ))),
    }
}

#[cfg(test)]
mod tests;

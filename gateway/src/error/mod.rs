//! The one error type of the S3 edge: an S3 error code that knows its HTTP status, a message for
//! the client, the resource, extra response headers and the cause (for the log).
//!
//! Every failure of a request ends as an [`S3Error`]: authentication errors
//! ([`crate::auth::AuthError`]) and metad errors ([`RpcError`]) convert into it by meaning, and
//! the server renders it with [`S3Error::to_xml`]. The inner value is boxed so that
//! `Result<T, S3Error>` stays one pointer wide on the hot path.

use crate::auth::AuthError;
use crate::xml::escape;
use dfs_common::names::NameError;
use dfs_common::{ErrorCode, ErrorDetail, RpcError};
use http::{HeaderName, HeaderValue, StatusCode};
use std::fmt;

/// Error type of a cause kept for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A result whose error is an [`S3Error`].
pub type S3Result<T> = Result<T, S3Error>;

// One table gives each code its HTTP status and default message, so the three can never drift
// apart; statuses and wording follow AWS's list of S3 error codes. Two codes are dfs's own, for
// conditions S3 never reports, with statuses that no SDK retries (AWS SDKs, rclone and
// minio-go retry 500, 502, 503 and 504), since sending the request again cannot help:
// `DataLost` (410 Gone: the data is not there to serve) and `StorageFull` (507 Insufficient
// Storage, as MinIO answers a full cluster).
macro_rules! s3_error_codes {
    ($($code:ident => $status:literal, $message:literal;)*) => {
        /// An S3 error code, as sent in the `<Code>` element. The doc of each is its default
        /// message.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum S3ErrorCode {
            $(#[doc = $message] $code,)*
        }

        impl S3ErrorCode {
            /// Every code, for look-ups by name.
            pub const ALL: &'static [S3ErrorCode] = &[$(S3ErrorCode::$code,)*];

            /// The code as S3 spells it in `<Code>`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$code => stringify!($code),)*
                }
            }

            /// The HTTP status S3 answers this code with.
            pub fn http_status(self) -> StatusCode {
                let status = match self {
                    $(S3ErrorCode::$code => $status,)*
                };
                // Every status in the table is a valid one (checked by a test).
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            /// The message S3 sends when there is nothing more specific to say.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$code => $message,)*
                }
            }
        }
    };
}

s3_error_codes! {
    AccessDenied => 403, "Access Denied";
    AuthorizationHeaderMalformed => 400, "The authorization header you provided is invalid.";
    AuthorizationQueryParametersError => 400, "The authorization query parameters are invalid.";
    BadDigest => 400, "The Content-MD5 or checksum value you specified did not match what we received.";
    BucketAlreadyExists => 409, "The requested bucket name is not available. Please select a different name and try again.";
    BucketAlreadyOwnedByYou => 409, "The bucket you tried to create already exists, and you own it.";
    BucketNotEmpty => 409, "The bucket you tried to delete is not empty.";
    ConditionalRequestConflict => 409, "A conflicting operation occurred. Retry the request.";
    DataLost => 410, "Part of the object's data has no readable copy left in the cluster; retrying does not help.";
    EntityTooLarge => 400, "Your proposed upload exceeds the maximum allowed object size.";
    EntityTooSmall => 400, "Your proposed upload is smaller than the minimum allowed object size.";
    ExpiredToken => 400, "The provided token has expired.";
    IncompleteBody => 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InternalError => 500, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => 403, "The AWS access key ID you provided does not exist in our records.";
    InvalidArgument => 400, "Invalid Argument";
    InvalidBucketName => 400, "The specified bucket is not valid.";
    InvalidDigest => 400, "The Content-MD5 you specified is not valid.";
    InvalidLocationConstraint => 400, "The specified location constraint is not valid.";
    InvalidObjectState => 403, "The operation is not valid for the current state of the object.";
    InvalidPart => 400, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.";
    InvalidPartNumber => 416, "The requested partnumber is not satisfiable";
    InvalidPartOrder => 400, "The list of parts was not in ascending order. The parts list must be specified in order by part number.";
    InvalidRange => 416, "The requested range is not satisfiable.";
    InvalidRequest => 400, "Invalid Request";
    InvalidStorageClass => 400, "The storage class you specified is not valid.";
    InvalidURI => 400, "Couldn't parse the specified URI.";
    KeyTooLongError => 400, "Your key is too long.";
    MalformedTrailerError => 400, "The request contained trailing data that was not well-formed.";
    MaxMessageLengthExceeded => 400, "Your request was too big.";
    MalformedXML => 400, "The XML you provided was not well-formed or did not validate against our published schema.";
    MetadataTooLarge => 400, "Your metadata headers exceed the maximum allowed metadata size.";
    MethodNotAllowed => 405, "The specified method is not allowed against this resource.";
    MissingContentLength => 411, "You must provide the Content-Length HTTP header.";
    MissingRequestBodyError => 400, "Request Body is empty.";
    MissingSecurityHeader => 400, "Your request is missing a required header.";
    NoSuchBucket => 404, "The specified bucket does not exist.";
    NoSuchBucketPolicy => 404, "The bucket policy does not exist.";
    NoSuchCORSConfiguration => 404, "The CORS configuration does not exist.";
    NoSuchKey => 404, "The specified key does not exist.";
    NoSuchLifecycleConfiguration => 404, "The lifecycle configuration does not exist.";
    NoSuchPublicAccessBlockConfiguration => 404, "The public access block configuration was not found.";
    NoSuchTagSet => 404, "The TagSet does not exist.";
    NoSuchUpload => 404, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.";
    NoSuchVersion => 404, "The specified version does not exist.";
    NoSuchWebsiteConfiguration => 404, "The specified bucket does not have a website configuration.";
    NotImplemented => 501, "A header or parameter you provided implies functionality that is not implemented.";
    NotModified => 304, "Not Modified";
    ObjectLockConfigurationNotFoundError => 404, "Object Lock configuration does not exist for this bucket.";
    OwnershipControlsNotFoundError => 404, "The bucket ownership controls were not found.";
    PreconditionFailed => 412, "At least one of the preconditions you specified did not hold.";
    ReplicationConfigurationNotFoundError => 404, "The replication configuration was not found.";
    RequestTimeTooSkewed => 403, "The difference between the request time and the server's time is too large.";
    RequestTimeout => 400, "Your socket connection to the server was not read from or written to within the timeout period.";
    ServerSideEncryptionConfigurationNotFoundError => 404, "The server side encryption configuration was not found.";
    ServiceUnavailable => 503, "The service is unavailable. Please retry.";
    SignatureDoesNotMatch => 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    SlowDown => 503, "Please reduce your request rate.";
    StorageFull => 507, "The cluster has no room for this data: its chunk servers are full.";
    XAmzContentSHA256Mismatch => 400, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

impl S3ErrorCode {
    /// The code spelled `name` (as in `<Code>`), if it is one of ours.
    pub fn from_name(name: &str) -> Option<S3ErrorCode> {
        S3ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == name)
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 error: what the client is told and what the log keeps.
#[derive(Debug)]
pub struct S3Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    code: S3ErrorCode,
    message: String,
    resource: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    source: Option<BoxError>,
}

impl S3Error {
    /// An error with a code and a message for the client.
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> S3Error {
        S3Error(Box::new(Inner {
            code,
            message: message.into(),
            resource: None,
            headers: Vec::new(),
            source: None,
        }))
    }

    /// An error with the code's default message.
    pub fn from_code(code: S3ErrorCode) -> S3Error {
        S3Error::new(code, code.default_message())
    }

    /// Sets the resource (`/bucket/key`) reported in `<Resource>`.
    pub fn with_resource(mut self, resource: impl Into<String>) -> S3Error {
        self.0.resource = Some(resource.into());
        self
    }

    /// Adds a response header (e.g. `Allow` on 405, `Last-Modified` on 304).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> S3Error {
        self.0.headers.push((name, value));
        self
    }

    /// Keeps the cause, for the log; it is never sent to the client.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> S3Error {
        self.0.source = Some(source.into());
        self
    }

    /// The S3 error code.
    pub fn code(&self) -> S3ErrorCode {
        self.0.code
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The resource reported in `<Resource>`, if set.
    pub fn resource(&self) -> Option<&str> {
        self.0.resource.as_deref()
    }

    /// Extra headers of the error response.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.0.headers
    }

    /// The HTTP status of the error response.
    pub fn http_status(&self) -> StatusCode {
        self.0.code.http_status()
    }

    /// Whether the response carries an XML body: a 304 must not (RFC 9110 §15.4.5).
    pub fn has_body(&self) -> bool {
        self.0.code != S3ErrorCode::NotModified
    }

    /// The error document S3 sends, with every text escaped.
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(200 + self.0.message.len());
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>"#);
        out.push_str(self.0.code.as_str());
        out.push_str("</Code><Message>");
        escape(&mut out, &self.0.message);
        out.push_str("</Message>");
        if let Some(resource) = &self.0.resource {
            out.push_str("<Resource>");
            escape(&mut out, resource);
            out.push_str("</Resource>");
        }
        out.push_str("<RequestId>");
        escape(&mut out, request_id);
        out.push_str("</RequestId></Error>");
        out
    }

    /// Maps a metad error by meaning (see [`s3_mapping`]). `not_found` is what a missing path
    /// means for this request (`NoSuchKey`, `NoSuchUpload`, ...): only the caller knows.
    /// Internal failures keep the RPC error as their source and tell the client only the
    /// generic message.
    pub fn from_rpc(err: RpcError, not_found: S3ErrorCode) -> S3Error {
        let (code, shown) = s3_mapping(&err, not_found);
        let error = match shown {
            Shown::Default => S3Error::from_code(code),
            Shown::Detail => S3Error::new(code, err.message.clone()),
            // Clients look for these codes' documented wording; metad's detail follows it.
            Shown::DefaultAndDetail => S3Error::new(
                code,
                format!("{} ({})", code.default_message(), err.message),
            ),
        };
        error.with_source(err)
    }

    /// 404 `NoSuchKey` naming the key.
    pub fn no_such_key(bucket: &str, key: &str) -> S3Error {
        S3Error::from_code(S3ErrorCode::NoSuchKey).with_resource(format!("/{bucket}/{key}"))
    }

    /// 404 `NoSuchBucket` naming the bucket.
    pub fn no_such_bucket(bucket: &str) -> S3Error {
        S3Error::from_code(S3ErrorCode::NoSuchBucket).with_resource(format!("/{bucket}"))
    }

    /// 404 `NoSuchUpload` naming the upload id.
    pub fn no_such_upload(upload_id: &str) -> S3Error {
        S3Error::new(
            S3ErrorCode::NoSuchUpload,
            format!("The multipart upload {upload_id:?} does not exist: it may have been aborted or completed."),
        )
    }

    /// 400 `InvalidArgument`.
    pub fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new(S3ErrorCode::InvalidArgument, message)
    }

    /// 400 `InvalidRequest`.
    pub fn invalid_request(message: impl Into<String>) -> S3Error {
        S3Error::new(S3ErrorCode::InvalidRequest, message)
    }

    /// 400 `MalformedXML`, saying what was wrong with the document.
    pub fn malformed_xml(why: impl fmt::Display) -> S3Error {
        S3Error::new(
            S3ErrorCode::MalformedXML,
            format!("{} ({why})", S3ErrorCode::MalformedXML.default_message()),
        )
    }

    /// 501 `NotImplemented` naming the operation or feature.
    pub fn not_implemented(what: impl fmt::Display) -> S3Error {
        S3Error::new(
            S3ErrorCode::NotImplemented,
            format!("{what} is not implemented by this server."),
        )
    }

    /// 403 `AccessDenied` for a presigned URL past its expiry, worded as S3 does.
    pub fn request_expired() -> S3Error {
        S3Error::new(S3ErrorCode::AccessDenied, "Request has expired")
    }

    /// 500 `InternalError` with the cause kept for the log; the client gets the generic message.
    pub fn internal(source: impl Into<BoxError>) -> S3Error {
        S3Error::from_code(S3ErrorCode::InternalError).with_source(source)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)?;
        if let Some(resource) = &self.0.resource {
            write!(f, " ({resource})")?;
        }
        Ok(())
    }
}

impl std::error::Error for S3Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.source {
            Some(source) => Some(source.as_ref()),
            None => None,
        }
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> S3Error {
        S3Error::from_code(code)
    }
}

impl From<RpcError> for S3Error {
    /// Maps by meaning with a missing path taken as a missing key; requests where it can mean a
    /// missing bucket or upload use [`S3Error::from_rpc`] instead.
    fn from(err: RpcError) -> S3Error {
        S3Error::from_rpc(err, S3ErrorCode::NoSuchKey)
    }
}

impl From<NameError> for S3Error {
    /// A refused bucket name is `InvalidBucketName` and a long key `KeyTooLongError`; the
    /// router decides when an invalid bucket name means `NoSuchBucket` instead.
    fn from(err: NameError) -> S3Error {
        let code = match err {
            NameError::BucketName { .. } => S3ErrorCode::InvalidBucketName,
            NameError::KeyTooLong { .. } => S3ErrorCode::KeyTooLongError,
            NameError::EmptyKey | NameError::ObjectPath(_) => S3ErrorCode::InvalidArgument,
        };
        S3Error::new(code, err.to_string())
    }
}

impl From<AuthError> for S3Error {
    fn from(err: AuthError) -> S3Error {
        // Matched by name so that a code the auth module adds later cannot be mis-mapped; one
        // we do not know becomes a 500 that the log shows (a test checks every current code).
        match S3ErrorCode::from_name(err.code()) {
            Some(code) => S3Error::new(code, err.to_string()),
            None => S3Error::internal(err),
        }
    }
}

/// `ok_or_bad_request("why")` on `Option` and `Result`: a missing value or a failure becomes a
/// 400 `InvalidRequest` whose message says why.
pub trait OkOrBadRequest<T> {
    /// Turns `None` or `Err` into a 400 `InvalidRequest` with the message `why`.
    fn ok_or_bad_request(self, why: impl Into<String>) -> S3Result<T>;
}

/// `ok_or_internal("why")` on `Option` and `Result`: a value that should be there is missing, or
/// a step that should not fail failed; 500 `InternalError`, with `why` and the cause logged.
pub trait OkOrInternal<T> {
    /// Turns `None` or `Err` into a 500 `InternalError`; `why` goes to the log, not the client.
    fn ok_or_internal(self, why: impl Into<String>) -> S3Result<T>;
}

impl<T> OkOrBadRequest<T> for Option<T> {
    fn ok_or_bad_request(self, why: impl Into<String>) -> S3Result<T> {
        self.ok_or_else(|| S3Error::invalid_request(why))
    }
}

impl<T, E> OkOrBadRequest<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn ok_or_bad_request(self, why: impl Into<String>) -> S3Result<T> {
        self.map_err(|e| S3Error::invalid_request(format!("{}: {e}", why.into())).with_source(e))
    }
}

impl<T> OkOrInternal<T> for Option<T> {
    fn ok_or_internal(self, why: impl Into<String>) -> S3Result<T> {
        self.ok_or_else(|| S3Error::internal(why.into()))
    }
}

impl<T, E> OkOrInternal<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn ok_or_internal(self, why: impl Into<String>) -> S3Result<T> {
        self.map_err(|e| {
            S3Error::internal(InternalCause {
                why: why.into(),
                source: e.into(),
            })
        })
    }
}

/// The cause of an internal error: what the gateway was doing, and the error it met.
#[derive(Debug)]
struct InternalCause {
    why: String,
    source: BoxError,
}

impl fmt::Display for InternalCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.why, self.source)
    }
}

impl std::error::Error for InternalCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// What of metad's message an S3 error shows the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Only the S3 code's default message (metad's may name internals, or add nothing).
    Default,
    /// metad's message, which explains the client's own mistake.
    Detail,
    /// The default message, then metad's in parentheses.
    DefaultAndDetail,
}

/// The S3 code of a metad error, and what of its message the client sees: one exhaustive
/// `match` over the error's detail, then its code. `not_found` is what a missing path means
/// for the request at hand. Nothing here looks at the message text.
pub fn s3_mapping(err: &RpcError, not_found: S3ErrorCode) -> (S3ErrorCode, Shown) {
    match err.detail {
        ErrorDetail::None => match err.code {
            ErrorCode::NotFound => (not_found, Shown::Detail),
            ErrorCode::InvalidArgument => (S3ErrorCode::InvalidArgument, Shown::Detail),
            // A key that collides with a file or directory of the namespace: the request is
            // fine for S3 but cannot be done on this tree; a specific 4xx, never a 500.
            ErrorCode::NotADirectory | ErrorCode::IsADirectory => {
                (S3ErrorCode::InvalidRequest, Shown::Detail)
            }
            ErrorCode::NotEmpty => (S3ErrorCode::BucketNotEmpty, Shown::Default),
            ErrorCode::AlreadyExists | ErrorCode::Conflict => {
                (S3ErrorCode::ConditionalRequestConflict, Shown::Detail)
            }
            ErrorCode::PreconditionFailed => (S3ErrorCode::PreconditionFailed, Shown::Default),
            ErrorCode::Unavailable | ErrorCode::NotEnoughNodes => {
                (S3ErrorCode::ServiceUnavailable, Shown::Detail)
            }
            // The cluster refused the gateway's own signature, or data failed a checksum
            // inside the cluster: not the client's doing.
            ErrorCode::Unauthorized
            | ErrorCode::ChecksumMismatch
            | ErrorCode::Corrupt
            | ErrorCode::Internal => (S3ErrorCode::InternalError, Shown::Default),
        },
        ErrorDetail::DataLost => (S3ErrorCode::DataLost, Shown::DefaultAndDetail),
        ErrorDetail::StorageFull => (S3ErrorCode::StorageFull, Shown::DefaultAndDetail),
        // metad is down, between leaders, or without a quorum: the client library already
        // retried for its deadline; nothing was stored, and sending the request later works.
        ErrorDetail::Unreachable
        | ErrorDetail::NoAnswer
        | ErrorDetail::NotLeader
        | ErrorDetail::NoQuorum => (S3ErrorCode::ServiceUnavailable, Shown::Detail),
        ErrorDetail::NoSuchBucket => (S3ErrorCode::NoSuchBucket, Shown::Default),
        ErrorDetail::NoSuchUpload => (S3ErrorCode::NoSuchUpload, Shown::Default),
        ErrorDetail::NoSuchAccessKey => (S3ErrorCode::InvalidAccessKeyId, Shown::Default),
        // The gateway's own write session vanished (reaped while the body was slow): the
        // object was not stored, and sending it again works.
        ErrorDetail::NoSuchSession => (S3ErrorCode::ServiceUnavailable, Shown::Default),
        ErrorDetail::InvalidPart => (S3ErrorCode::InvalidPart, Shown::DefaultAndDetail),
        ErrorDetail::InvalidPartOrder => (S3ErrorCode::InvalidPartOrder, Shown::DefaultAndDetail),
        ErrorDetail::EntityTooSmall => (S3ErrorCode::EntityTooSmall, Shown::DefaultAndDetail),
        ErrorDetail::NoPartsListed => (S3ErrorCode::MalformedXML, Shown::DefaultAndDetail),
        ErrorDetail::EntityTooLarge => (S3ErrorCode::EntityTooLarge, Shown::Detail),
        ErrorDetail::InvalidPartNumber => (S3ErrorCode::InvalidArgument, Shown::Detail),
        ErrorDetail::InvalidRange => (S3ErrorCode::InvalidRange, Shown::Detail),
        ErrorDetail::InvalidRequest => (S3ErrorCode::InvalidRequest, Shown::Detail),
    }
}

#[cfg(test)]
mod tests;

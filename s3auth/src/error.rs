//! Why a request failed authentication or integrity checks, by S3 error code.
//!
//! Every function of [`crate::auth`] fails with an [`AuthError`]. Each variant is one S3 error
//! code and knows its HTTP status, so the gateway's error layer only has to render it as XML.
//! The message is the sentence sent to the client: it names the header, parameter or chunk
//! involved, never a secret.

/// An authentication or body-integrity failure, one variant per S3 error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// 403 `AccessDenied`: no usable date, an expired or not-yet-valid presigned URL.
    #[error("{0}")]
    AccessDenied(String),
    /// 403 `InvalidAccessKeyId`: the access key is unknown (raised by the key lookup).
    #[error("{0}")]
    InvalidAccessKeyId(String),
    /// 403 `SignatureDoesNotMatch`: a request, chunk or trailer signature is wrong.
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    /// 400 `AuthorizationHeaderMalformed`: the `Authorization` header has the wrong shape.
    #[error("{0}")]
    AuthorizationHeaderMalformed(String),
    /// 400 `AuthorizationQueryParametersError`: the presigned query parameters are wrong.
    #[error("{0}")]
    AuthorizationQueryParametersError(String),
    /// 403 `RequestTimeTooSkewed`: the request time is too far from the server's clock.
    #[error(
        "The difference between the request time ({request_time}) and the server's time \
         ({server_time}) is too large."
    )]
    RequestTimeTooSkewed {
        /// The request's time, seconds since the Unix epoch.
        request_time: i64,
        /// The server's time, seconds since the Unix epoch.
        server_time: i64,
    },
    /// 400 `MissingSecurityHeader`: a header that authentication needs is absent.
    #[error("{0}")]
    MissingSecurityHeader(String),
    /// 400 `InvalidArgument`: a header or parameter has a value S3 does not accept.
    #[error("{0}")]
    InvalidArgument(String),
    /// 400 `InvalidRequest`: an inconsistent request, such as a malformed aws-chunked body.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 `IncompleteBody`: the body ended before all the announced bytes arrived.
    #[error("{0}")]
    IncompleteBody(String),
    /// 400 `InvalidDigest`: a `Content-MD5` value that is not base64 of 16 bytes.
    #[error("{0}")]
    InvalidDigest(String),
    /// 400 `BadDigest`: the body does not match its `Content-MD5` or `x-amz-checksum-*`.
    #[error("{0}")]
    BadDigest(String),
    /// 400 `XAmzContentSHA256Mismatch`: the body does not match `x-amz-content-sha256`.
    #[error("{0}")]
    XAmzContentSha256Mismatch(String),
    /// 411 `MissingContentLength`: a streaming upload without `x-amz-decoded-content-length`.
    #[error("{0}")]
    MissingContentLength(String),
    /// 400 `MalformedTrailerError`: the trailer of an aws-chunked body is malformed.
    #[error("{0}")]
    MalformedTrailer(String),
    /// 501 `NotImplemented`: a valid AWS feature this gateway does not support.
    #[error("{0}")]
    NotImplemented(String),
}

impl AuthError {
    /// The S3 error code, as it appears in the `<Code>` element of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::AccessDenied(_) => "AccessDenied",
            AuthError::InvalidAccessKeyId(_) => "InvalidAccessKeyId",
            AuthError::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            AuthError::AuthorizationHeaderMalformed(_) => "AuthorizationHeaderMalformed",
            AuthError::AuthorizationQueryParametersError(_) => "AuthorizationQueryParametersError",
            AuthError::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            AuthError::MissingSecurityHeader(_) => "MissingSecurityHeader",
            AuthError::InvalidArgument(_) => "InvalidArgument",
            AuthError::InvalidRequest(_) => "InvalidRequest",
            AuthError::IncompleteBody(_) => "IncompleteBody",
            AuthError::InvalidDigest(_) => "InvalidDigest",
            AuthError::BadDigest(_) => "BadDigest",
            AuthError::XAmzContentSha256Mismatch(_) => "XAmzContentSHA256Mismatch",
            AuthError::MissingContentLength(_) => "MissingContentLength",
            AuthError::MalformedTrailer(_) => "MalformedTrailerError",
            AuthError::NotImplemented(_) => "NotImplemented",
        }
    }

    /// The HTTP status S3 answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::AccessDenied(_)
            | AuthError::InvalidAccessKeyId(_)
            | AuthError::SignatureDoesNotMatch(_)
            | AuthError::RequestTimeTooSkewed { .. } => 403,
            AuthError::MissingContentLength(_) => 411,
            AuthError::NotImplemented(_) => 501,
            AuthError::AuthorizationHeaderMalformed(_)
            | AuthError::AuthorizationQueryParametersError(_)
            | AuthError::MissingSecurityHeader(_)
            | AuthError::InvalidArgument(_)
            | AuthError::InvalidRequest(_)
            | AuthError::IncompleteBody(_)
            | AuthError::InvalidDigest(_)
            | AuthError::BadDigest(_)
            | AuthError::XAmzContentSha256Mismatch(_)
            | AuthError::MalformedTrailer(_) => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_s3() {
        let cases = [
            (
                AuthError::SignatureDoesNotMatch(String::new()),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                AuthError::IncompleteBody(String::new()),
                "IncompleteBody",
                400,
            ),
            (
                AuthError::XAmzContentSha256Mismatch(String::new()),
                "XAmzContentSHA256Mismatch",
                400,
            ),
            (
                AuthError::MalformedTrailer(String::new()),
                "MalformedTrailerError",
                400,
            ),
            (
                AuthError::MissingContentLength(String::new()),
                "MissingContentLength",
                411,
            ),
            (
                AuthError::NotImplemented(String::new()),
                "NotImplemented",
                501,
            ),
            (
                AuthError::RequestTimeTooSkewed {
                    request_time: 0,
                    server_time: 1000,
                },
                "RequestTimeTooSkewed",
                403,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.http_status(), status, "{code}");
        }
    }
}

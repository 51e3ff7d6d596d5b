//! Tests of the S3 error type: statuses, XML, and the mappings from metad and auth errors.

use super::*;
use std::error::Error as _;

#[test]
fn result_stays_small() {
    assert_eq!(std::mem::size_of::<S3Error>(), std::mem::size_of::<usize>());
    assert!(std::mem::size_of::<S3Result<()>>() <= 2 * std::mem::size_of::<usize>());
}

#[test]
fn statuses_follow_aws() {
    use S3ErrorCode::*;
    let cases = [
        (AccessDenied, 403),
        (BadDigest, 400),
        (BucketAlreadyExists, 409),
        (BucketAlreadyOwnedByYou, 409),
        (BucketNotEmpty, 409),
        (ConditionalRequestConflict, 409),
        (EntityTooLarge, 400),
        (EntityTooSmall, 400),
        (IncompleteBody, 400),
        (InternalError, 500),
        (InvalidAccessKeyId, 403),
        (InvalidObjectState, 403),
        (InvalidRange, 416),
        (KeyTooLongError, 400),
        (MalformedXML, 400),
        (MethodNotAllowed, 405),
        (MissingContentLength, 411),
        (NoSuchBucket, 404),
        (NoSuchKey, 404),
        (NoSuchUpload, 404),
        (NoSuchTagSet, 404),
        (NoSuchPublicAccessBlockConfiguration, 404),
        (ServerSideEncryptionConfigurationNotFoundError, 404),
        (OwnershipControlsNotFoundError, 404),
        (NotImplemented, 501),
        (NotModified, 304),
        (PreconditionFailed, 412),
        (RequestTimeTooSkewed, 403),
        (ServiceUnavailable, 503),
        (SignatureDoesNotMatch, 403),
        (XAmzContentSHA256Mismatch, 400),
    ];
    for (code, status) in cases {
        assert_eq!(code.http_status().as_u16(), status, "{code}");
    }
}

#[test]
fn every_code_has_a_real_status_and_round_trips_by_name() {
    for &code in S3ErrorCode::ALL {
        let status = code.http_status().as_u16();
        assert!(
            status == 304 || (400..600).contains(&status),
            "{code}: {status}"
        );
        assert_eq!(S3ErrorCode::from_name(code.as_str()), Some(code));
        assert!(!code.default_message().is_empty());
    }
    assert_eq!(S3ErrorCode::from_name("NoSuchThing"), None);
}

#[test]
fn xml_document_is_escaped_and_complete() {
    let err = S3Error::new(S3ErrorCode::NoSuchKey, "key <a&b> \"q\"").with_resource("/b/a&b");
    assert_eq!(
        err.to_xml("req-1"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>\
         <Message>key &lt;a&amp;b&gt; &quot;q&quot;</Message>\
         <Resource>/b/a&amp;b</Resource><RequestId>req-1</RequestId></Error>"
    );
    let no_resource = S3Error::from_code(S3ErrorCode::InternalError).to_xml("r");
    assert!(!no_resource.contains("<Resource>"));
    assert!(!S3Error::from_code(S3ErrorCode::NotModified).has_body());
    assert!(err.has_body());
}

#[test]
fn rpc_errors_map_by_meaning() {
    let map = |code, not_found| S3Error::from_rpc(RpcError::new(code, "/b/x"), not_found);
    use S3ErrorCode as S;
    assert_eq!(
        map(ErrorCode::NotFound, S::NoSuchBucket).code(),
        S::NoSuchBucket
    );
    assert_eq!(
        map(ErrorCode::NotFound, S::NoSuchUpload).code(),
        S::NoSuchUpload
    );
    assert_eq!(
        map(ErrorCode::Unavailable, S::NoSuchKey).code(),
        S::ServiceUnavailable
    );
    assert_eq!(
        map(ErrorCode::NotEnoughNodes, S::NoSuchKey).code(),
        S::ServiceUnavailable
    );
    assert_eq!(
        map(ErrorCode::PreconditionFailed, S::NoSuchKey).http_status(),
        412
    );
    assert_eq!(
        map(ErrorCode::Conflict, S::NoSuchKey).code(),
        S::ConditionalRequestConflict
    );
    assert_eq!(map(ErrorCode::Conflict, S::NoSuchKey).http_status(), 409);
    assert_eq!(
        map(ErrorCode::InvalidArgument, S::NoSuchKey).code(),
        S::InvalidArgument
    );
    assert_eq!(
        map(ErrorCode::NotEmpty, S::NoSuchKey).code(),
        S::BucketNotEmpty
    );
    assert_eq!(
        map(ErrorCode::IsADirectory, S::NoSuchKey).http_status(),
        400
    );
    let internal = map(ErrorCode::Internal, S::NoSuchKey);
    assert_eq!(internal.code(), S::InternalError);
    // The cause is kept for the log but not told to the client.
    assert!(!internal.message().contains("/b/x"));
    assert_eq!(
        internal.source().map(|s| s.to_string()),
        Some("/b/x".into())
    );
    let via_from: S3Error = RpcError::not_found("/b/k").into();
    assert_eq!(via_from.code(), S::NoSuchKey);
}

#[test]
fn auth_errors_keep_their_code() {
    let cases = [
        AuthError::AccessDenied("Request has expired".into()),
        AuthError::InvalidAccessKeyId(String::new()),
        AuthError::SignatureDoesNotMatch(String::new()),
        AuthError::AuthorizationHeaderMalformed(String::new()),
        AuthError::AuthorizationQueryParametersError(String::new()),
        AuthError::RequestTimeTooSkewed {
            request_time: 0,
            server_time: 10_000,
        },
        AuthError::MissingSecurityHeader(String::new()),
        AuthError::InvalidArgument(String::new()),
        AuthError::InvalidRequest(String::new()),
        AuthError::IncompleteBody(String::new()),
        AuthError::InvalidDigest(String::new()),
        AuthError::BadDigest(String::new()),
        AuthError::XAmzContentSha256Mismatch(String::new()),
        AuthError::MissingContentLength(String::new()),
        AuthError::MalformedTrailer(String::new()),
        AuthError::NotImplemented(String::new()),
    ];
    for auth in cases {
        let name = auth.code();
        let status = auth.http_status();
        let s3 = S3Error::from(auth);
        assert_eq!(s3.code().as_str(), name);
        assert_eq!(s3.http_status().as_u16(), status, "{name}");
    }
    assert_eq!(S3Error::request_expired().message(), "Request has expired");
}

#[test]
fn extension_traits() {
    let none: Option<u8> = None;
    let err = none.ok_or_bad_request("missing uploadId").unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::InvalidRequest);
    assert_eq!(err.message(), "missing uploadId");

    let parsed: Result<u32, _> = "x".parse::<u32>();
    let err = parsed.ok_or_bad_request("bad max-keys").unwrap_err();
    assert!(err.message().starts_with("bad max-keys: "));
    assert!(err.source().is_some());

    let failed: Result<(), std::io::Error> = Err(std::io::Error::other("disk"));
    let err = failed.ok_or_internal("writing the part list").unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::InternalError);
    assert_eq!(
        err.source().map(|s| s.to_string()),
        Some("writing the part list: disk".into())
    );
    assert_eq!(Some(3).ok_or_internal("x").ok(), Some(3));
}

/// The table of every metad error detail (and every code without one) to the S3 code and HTTP
/// status the client sees. `from_rpc`'s match is exhaustive, so a new detail does not compile
/// until it is mapped; this table makes sure each mapping is the intended one.
#[test]
fn every_metad_error_maps_to_its_s3_code_and_status() {
    use dfs_common::ErrorDetail;
    let by_detail = |detail: ErrorDetail| -> (S3ErrorCode, u16) {
        match detail {
            ErrorDetail::None => unreachable!("listed by code below"),
            ErrorDetail::Unreachable
            | ErrorDetail::NoAnswer
            | ErrorDetail::NotLeader
            | ErrorDetail::NoQuorum => (S3ErrorCode::ServiceUnavailable, 503),
            ErrorDetail::NoSuchBucket => (S3ErrorCode::NoSuchBucket, 404),
            ErrorDetail::NoSuchUpload => (S3ErrorCode::NoSuchUpload, 404),
            ErrorDetail::NoSuchAccessKey => (S3ErrorCode::InvalidAccessKeyId, 403),
            ErrorDetail::NoSuchSession => (S3ErrorCode::ServiceUnavailable, 503),
            ErrorDetail::InvalidPart => (S3ErrorCode::InvalidPart, 400),
            ErrorDetail::InvalidPartOrder => (S3ErrorCode::InvalidPartOrder, 400),
            ErrorDetail::NoPartsListed => (S3ErrorCode::MalformedXML, 400),
            ErrorDetail::EntityTooSmall => (S3ErrorCode::EntityTooSmall, 400),
            ErrorDetail::EntityTooLarge => (S3ErrorCode::EntityTooLarge, 400),
            ErrorDetail::InvalidPartNumber => (S3ErrorCode::InvalidArgument, 400),
            ErrorDetail::InvalidRange => (S3ErrorCode::InvalidRange, 416),
            ErrorDetail::InvalidRequest => (S3ErrorCode::InvalidRequest, 400),
            ErrorDetail::DataLost => (S3ErrorCode::DataLost, 410),
            ErrorDetail::StorageFull => (S3ErrorCode::StorageFull, 507),
        }
    };
    let by_code = |code: ErrorCode| -> (S3ErrorCode, u16) {
        match code {
            ErrorCode::NotFound => (S3ErrorCode::NoSuchKey, 404),
            ErrorCode::AlreadyExists | ErrorCode::Conflict => {
                (S3ErrorCode::ConditionalRequestConflict, 409)
            }
            ErrorCode::NotADirectory | ErrorCode::IsADirectory => {
                (S3ErrorCode::InvalidRequest, 400)
            }
            ErrorCode::NotEmpty => (S3ErrorCode::BucketNotEmpty, 409),
            ErrorCode::InvalidArgument => (S3ErrorCode::InvalidArgument, 400),
            ErrorCode::PreconditionFailed => (S3ErrorCode::PreconditionFailed, 412),
            ErrorCode::NotEnoughNodes | ErrorCode::Unavailable => {
                (S3ErrorCode::ServiceUnavailable, 503)
            }
            ErrorCode::Unauthorized
            | ErrorCode::ChecksumMismatch
            | ErrorCode::Corrupt
            | ErrorCode::Internal => (S3ErrorCode::InternalError, 500),
        }
    };
    let check = |err: RpcError, (code, status): (S3ErrorCode, u16)| {
        let s3 = S3Error::from_rpc(err.clone(), S3ErrorCode::NoSuchKey);
        assert_eq!(s3.code(), code, "{err:?}");
        assert_eq!(s3.http_status().as_u16(), status, "{err:?}");
        // Internal causes are never shown to the client.
        if status == 500 {
            assert!(!s3.message().contains("secret detail"), "{err:?}");
        }
    };
    for detail in ErrorDetail::ALL {
        if detail != ErrorDetail::None {
            check(
                RpcError::detailed(detail, "secret detail"),
                by_detail(detail),
            );
        }
    }
    for code in ErrorCode::ALL {
        check(RpcError::new(code, "secret detail"), by_code(code));
    }
}

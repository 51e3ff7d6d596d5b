//! The `x-amz-content-sha256` header: how the payload of a SigV4 request is protected.
//!
//! Its value is the last line of the canonical request, so the signature covers the mode
//! itself. Either it is the hex SHA-256 of the whole body (checked at the end of the body), or
//! the body is not covered (`UNSIGNED-PAYLOAD`), or it is aws-chunked (see [`super::chunked`]):
//! each chunk signed, or unsigned with a trailing checksum, or both.

use super::sigv4::EMPTY_SHA256;
use super::AuthError;
use http::HeaderMap;
use std::borrow::Cow;

/// The request header.
pub const HEADER: &str = "x-amz-content-sha256";
/// Header with the payload length of an aws-chunked body (without the framing).
pub const DECODED_CONTENT_LENGTH: &str = "x-amz-decoded-content-length";

const UNSIGNED: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_ECDSA_PREFIX: &str = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";

/// Every mode of `x-amz-content-sha256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentSha256 {
    /// The SHA-256 of the whole body; the body must match it.
    Hash([u8; 32]),
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, each chunk signed.
    StreamingSigned,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked without signatures, a trailing
    /// checksum after the last chunk.
    StreamingUnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: aws-chunked, each chunk signed, and a
    /// signed trailer.
    StreamingSignedTrailer,
}

impl ContentSha256 {
    /// Parses a header value. The SigV4A streaming modes are valid AWS but not supported here.
    pub fn parse(value: &str) -> Result<ContentSha256, AuthError> {
        Ok(match value {
            UNSIGNED => ContentSha256::Unsigned,
            STREAMING_SIGNED => ContentSha256::StreamingSigned,
            STREAMING_UNSIGNED_TRAILER => ContentSha256::StreamingUnsignedTrailer,
            STREAMING_SIGNED_TRAILER => ContentSha256::StreamingSignedTrailer,
            v if v.starts_with(STREAMING_ECDSA_PREFIX) => {
                return Err(AuthError::NotImplemented(format!(
                    "x-amz-content-sha256 {v} (SigV4A, ECDSA-signed chunks) is not supported; \
                     use STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
                )))
            }
            v => {
                let mut hash = [0u8; 32];
                if v.len() != 64 || hex::decode_to_slice(v, &mut hash).is_err() {
                    return Err(AuthError::InvalidArgument(format!(
                        "x-amz-content-sha256 {v:?} must be UNSIGNED-PAYLOAD, \
                         STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
                         STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a SHA-256 in hex"
                    )));
                }
                ContentSha256::Hash(hash)
            }
        })
    }

    /// Reads the header of a request signed in its `Authorization` header, where it is
    /// required.
    pub fn from_headers(headers: &HeaderMap) -> Result<ContentSha256, AuthError> {
        let value = headers.get(HEADER).ok_or_else(|| {
            AuthError::InvalidRequest(
                "Missing required header for this request: x-amz-content-sha256".into(),
            )
        })?;
        let text = value.to_str().map_err(|_| {
            AuthError::InvalidArgument("x-amz-content-sha256 is not ASCII text".into())
        })?;
        ContentSha256::parse(text)
    }

    /// The last line of the canonical request for this mode: the header value as SDKs send it
    /// (hashes in lower-case hex).
    pub fn canonical_value(&self) -> Cow<'static, str> {
        match self {
            ContentSha256::Hash(hash) => Cow::Owned(hex::encode(hash)),
            ContentSha256::Unsigned => Cow::Borrowed(UNSIGNED),
            ContentSha256::StreamingSigned => Cow::Borrowed(STREAMING_SIGNED),
            ContentSha256::StreamingUnsignedTrailer => Cow::Borrowed(STREAMING_UNSIGNED_TRAILER),
            ContentSha256::StreamingSignedTrailer => Cow::Borrowed(STREAMING_SIGNED_TRAILER),
        }
    }

    /// Whether the body is aws-chunked.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            ContentSha256::StreamingSigned
                | ContentSha256::StreamingUnsignedTrailer
                | ContentSha256::StreamingSignedTrailer
        )
    }

    /// Whether each chunk of the aws-chunked body carries a signature.
    pub fn has_chunk_signatures(&self) -> bool {
        matches!(
            self,
            ContentSha256::StreamingSigned | ContentSha256::StreamingSignedTrailer
        )
    }

    /// Whether the aws-chunked body ends with trailing headers.
    pub fn has_trailer(&self) -> bool {
        matches!(
            self,
            ContentSha256::StreamingUnsignedTrailer | ContentSha256::StreamingSignedTrailer
        )
    }

    /// The SHA-256 the whole body must have, for the [`ContentSha256::Hash`] mode.
    pub fn expected_hash(&self) -> Option<&[u8; 32]> {
        match self {
            ContentSha256::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    /// Checks the SHA-256 computed over the body as it streamed past (a no-op for the other
    /// modes, whose checks are elsewhere).
    pub fn verify_body_hash(&self, computed: &[u8; 32]) -> Result<(), AuthError> {
        match self.expected_hash() {
            Some(expected) if expected != computed => Err(AuthError::XAmzContentSha256Mismatch(format!(
                "The provided 'x-amz-content-sha256' header ({}) does not match what was computed ({})",
                hex::encode(expected),
                hex::encode(computed)
            ))),
            _ => Ok(()),
        }
    }

    /// Whether a body-less request (GET, HEAD, DELETE) may carry this mode: a hash must be the
    /// hash of nothing.
    pub fn is_empty_body_hash(&self) -> bool {
        matches!(self, ContentSha256::Hash(h) if hex::encode(h) == EMPTY_SHA256)
    }
}

/// Reads `x-amz-decoded-content-length`, which an aws-chunked body must announce.
pub fn decoded_content_length(headers: &HeaderMap) -> Result<u64, AuthError> {
    let value = headers.get(DECODED_CONTENT_LENGTH).ok_or_else(|| {
        AuthError::MissingContentLength(
            "an aws-chunked upload must send x-amz-decoded-content-length".into(),
        )
    })?;
    value
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| {
            AuthError::InvalidArgument(format!(
                "x-amz-decoded-content-length {value:?} is not a number of bytes"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_parses_and_round_trips() {
        for (text, mode) in [
            (UNSIGNED, ContentSha256::Unsigned),
            (STREAMING_SIGNED, ContentSha256::StreamingSigned),
            (
                STREAMING_UNSIGNED_TRAILER,
                ContentSha256::StreamingUnsignedTrailer,
            ),
            (
                STREAMING_SIGNED_TRAILER,
                ContentSha256::StreamingSignedTrailer,
            ),
        ] {
            assert_eq!(ContentSha256::parse(text), Ok(mode));
            assert_eq!(mode.canonical_value(), text);
            assert!(mode.expected_hash().is_none());
        }
        // The hash of "Welcome to Amazon S3." from the S3 PUT Object example.
        let text = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
        let mode = ContentSha256::parse(text).unwrap();
        assert_eq!(mode.canonical_value(), text);
        let computed: [u8; 32] = sha2::Sha256::digest(b"Welcome to Amazon S3.").into();
        assert_eq!(mode.verify_body_hash(&computed), Ok(()));
        assert!(matches!(
            mode.verify_body_hash(&[0; 32]),
            Err(AuthError::XAmzContentSha256Mismatch(_))
        ));
        assert!(ContentSha256::parse(EMPTY_SHA256)
            .unwrap()
            .is_empty_body_hash());
        assert!(!mode.is_empty_body_hash());
    }

    use sha2::Digest;

    #[test]
    fn mode_properties() {
        use ContentSha256::*;
        assert!(!Unsigned.is_streaming() && !Hash([0; 32]).is_streaming());
        assert!(StreamingSigned.has_chunk_signatures() && !StreamingSigned.has_trailer());
        assert!(
            StreamingSignedTrailer.has_chunk_signatures() && StreamingSignedTrailer.has_trailer()
        );
        assert!(
            !StreamingUnsignedTrailer.has_chunk_signatures()
                && StreamingUnsignedTrailer.has_trailer()
        );
        for mode in [
            StreamingSigned,
            StreamingSignedTrailer,
            StreamingUnsignedTrailer,
        ] {
            assert!(mode.is_streaming());
            assert_eq!(mode.verify_body_hash(&[1; 32]), Ok(()));
        }
    }

    #[test]
    fn refuses_ecdsa_and_garbage() {
        for ecdsa in [
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
        ] {
            assert!(matches!(
                ContentSha256::parse(ecdsa),
                Err(AuthError::NotImplemented(_))
            ));
        }
        for bad in [
            "",
            "unsigned-payload",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD ",
            &EMPTY_SHA256[1..],
            &format!("{}g", &EMPTY_SHA256[1..]),
        ] {
            assert!(
                matches!(
                    ContentSha256::parse(bad),
                    Err(AuthError::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_is_required_with_header_auth() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            ContentSha256::from_headers(&headers),
            Err(AuthError::InvalidRequest(_))
        ));
        headers.insert(HEADER, UNSIGNED.parse().unwrap());
        assert_eq!(
            ContentSha256::from_headers(&headers),
            Ok(ContentSha256::Unsigned)
        );
    }

    #[test]
    fn decoded_length_is_required_and_numeric() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            decoded_content_length(&headers),
            Err(AuthError::MissingContentLength(_))
        ));
        headers.insert(DECODED_CONTENT_LENGTH, "66560".parse().unwrap());
        assert_eq!(decoded_content_length(&headers), Ok(66_560));
        for bad in ["", "-1", "+5", "1e3", "99999999999999999999999"] {
            headers.insert(DECODED_CONTENT_LENGTH, bad.parse().unwrap());
            assert!(
                matches!(
                    decoded_content_length(&headers),
                    Err(AuthError::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
    }
}

//! The whole SigV4 check of one request, in two steps so that the secret can be fetched in
//! between: [`V4Auth::from_request`] finds how the request is signed and by which access key,
//! then [`V4Auth::verify`] checks time, scope and signature with that key's secret. The result,
//! [`Verified`], says what the body must still satisfy ([`BodyCheck`]).

use super::authorization::{
    check_scope_date, presigned_query_pairs, AuthorizationHeader, PresignedQuery,
};
use super::chunked::{ChunkSigner, ChunkedDecoder};
use super::content_sha256::{decoded_content_length, ContentSha256};
use super::sigv4::{verify_signature, RequestParts, Scope, SignatureInput};
use super::time::{
    check_presigned_expiry, check_skew, format_amz_date, parse_amz_date, parse_http_date,
};
use super::AuthError;
use http::HeaderMap;

/// The only service name this gateway signs for.
pub const SERVICE: &str = "s3";

/// How a request is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V4Auth {
    /// With the `Authorization` header.
    Header(AuthorizationHeader),
    /// With presigned-URL query parameters.
    Presigned(PresignedQuery),
}

/// A request whose signature was checked.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The access key that signed.
    pub access_key_id: String,
    /// The scope it signed for.
    pub scope: Scope,
    /// The request time, Unix seconds.
    pub request_time: i64,
    /// Whether it came through a presigned URL.
    pub presigned: bool,
    /// How the body is protected.
    pub payload: ContentSha256,
    /// The chain of chunk signatures starting at this request's signature.
    signer: ChunkSigner,
}

/// What remains to check on the body of a verified request.
#[derive(Debug)]
pub enum BodyCheck {
    /// Nothing, as far as the signature goes (`UNSIGNED-PAYLOAD`, presigned URLs).
    Unsigned,
    /// The SHA-256 of the whole body must be this one (see
    /// [`ContentSha256::verify_body_hash`]).
    Sha256([u8; 32]),
    /// The body is aws-chunked: run it through this decoder (boxed: it is ten times the size
    /// of the other variants).
    Chunked(Box<ChunkedDecoder>),
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AuthError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                AuthError::AuthorizationHeaderMalformed(format!(
                    "the {name} header is not ASCII text"
                ))
            })
        })
        .transpose()
}

/// The request time of a header-signed request: `x-amz-date`, or else `Date`.
pub fn header_request_time(headers: &HeaderMap) -> Result<i64, AuthError> {
    if let Some(amz) = header(headers, "x-amz-date")? {
        return parse_amz_date(amz.trim());
    }
    if let Some(date) = header(headers, "date")? {
        return parse_http_date(date.trim());
    }
    Err(AuthError::AccessDenied(
        "AWS authentication requires a valid Date or x-amz-date header".into(),
    ))
}

impl V4Auth {
    /// Finds the credentials of a request from its headers and decoded query pairs.
    /// `Ok(None)` for an anonymous request; errors for malformed credentials, for both
    /// mechanisms at once, and for Signature Version 2.
    pub fn from_request(
        headers: &HeaderMap,
        query: &[(String, String)],
    ) -> Result<Option<V4Auth>, AuthError> {
        let presigned = PresignedQuery::parse(query)?;
        let authorization = header(headers, "authorization")?;
        match (authorization, presigned) {
            (Some(_), Some(_)) => Err(AuthError::InvalidArgument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or \
                 the Authorization header should be specified"
                    .into(),
            )),
            (Some(value), None) => Ok(Some(V4Auth::Header(AuthorizationHeader::parse(value)?))),
            (None, Some(presigned)) => Ok(Some(V4Auth::Presigned(presigned))),
            (None, None) => {
                if query.iter().any(|(name, _)| name == "AWSAccessKeyId") {
                    return Err(AuthError::InvalidRequest(
                        "The authorization mechanism you have provided is not supported. \
                         Please use AWS4-HMAC-SHA256."
                            .into(),
                    ));
                }
                Ok(None)
            }
        }
    }

    /// The access key whose secret [`V4Auth::verify`] needs.
    pub fn access_key_id(&self) -> &str {
        &self.credential().access_key_id
    }

    /// The scope the client signed for.
    pub fn scope(&self) -> &Scope {
        &self.credential().scope
    }

    fn credential(&self) -> &super::authorization::Credential {
        match self {
            V4Auth::Header(h) => &h.credential,
            V4Auth::Presigned(p) => &p.credential,
        }
    }

    /// Checks the request: scope (service `s3`, the request's day, `region` when given),
    /// time (15 minutes of skew, or the presigned validity) and signature with `secret`.
    /// `request.query` holds all the decoded query pairs; `now` is the server's clock.
    pub fn verify(
        &self,
        request: &RequestParts<'_>,
        secret: &str,
        now: i64,
        region: Option<&str>,
    ) -> Result<Verified, AuthError> {
        let scope = self.scope();
        if scope.service != SERVICE {
            return Err(AuthError::AuthorizationHeaderMalformed(format!(
                "the credential is for the service {:?}; this endpoint is {SERVICE}",
                scope.service
            )));
        }
        if let Some(region) = region {
            scope.check_region(region)?;
        }
        match self {
            V4Auth::Header(auth) => {
                let request_time = header_request_time(request.headers)?;
                check_skew(request_time, now)?;
                check_scope_date(scope, request_time)?;
                let payload = ContentSha256::from_headers(request.headers)?;
                let datetime = format_amz_date(request_time);
                let input = SignatureInput {
                    signed_headers: &auth.signed_headers,
                    payload_hash: &payload.canonical_value(),
                    datetime: &datetime,
                    scope,
                    signature: &auth.signature,
                };
                let key = verify_signature(request, &input, secret)?;
                Ok(Verified {
                    access_key_id: auth.credential.access_key_id.clone(),
                    scope: scope.clone(),
                    request_time,
                    presigned: false,
                    payload,
                    signer: ChunkSigner::new(key, &datetime, &scope.to_string(), &auth.signature),
                })
            }
            V4Auth::Presigned(query) => {
                check_scope_date(scope, query.signed_at)
                    .map_err(|e| AuthError::AuthorizationQueryParametersError(e.to_string()))?;
                check_presigned_expiry(query.signed_at, query.expires_secs, now)?;
                // S3 signs presigned URLs without the payload.
                let payload = ContentSha256::Unsigned;
                let pairs = presigned_query_pairs(request.query);
                let signed_request = RequestParts {
                    query: &pairs,
                    ..*request
                };
                let input = SignatureInput {
                    signed_headers: &query.signed_headers,
                    payload_hash: &payload.canonical_value(),
                    datetime: &query.amz_date,
                    scope,
                    signature: &query.signature,
                };
                let key = verify_signature(&signed_request, &input, secret)?;
                Ok(Verified {
                    access_key_id: query.credential.access_key_id.clone(),
                    scope: scope.clone(),
                    request_time: query.signed_at,
                    presigned: true,
                    payload,
                    signer: ChunkSigner::new(
                        key,
                        &query.amz_date,
                        &scope.to_string(),
                        &query.signature,
                    ),
                })
            }
        }
    }
}

impl Verified {
    /// The chain of chunk signatures of an aws-chunked body, seeded with this request's
    /// signature.
    pub fn chunk_signer(&self) -> ChunkSigner {
        self.signer.clone()
    }

    /// What the body must satisfy. For aws-chunked bodies this reads
    /// `x-amz-decoded-content-length` (required) and returns the decoder to run.
    pub fn body_check(&self, headers: &HeaderMap) -> Result<BodyCheck, AuthError> {
        match self.payload {
            ContentSha256::Unsigned => Ok(BodyCheck::Unsigned),
            ContentSha256::Hash(hash) => Ok(BodyCheck::Sha256(hash)),
            mode => {
                let length = decoded_content_length(headers)?;
                let decoder =
                    ChunkedDecoder::for_mode(mode, Some(self.chunk_signer()), Some(length))?;
                Ok(BodyCheck::Chunked(Box::new(decoder)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_and_conflicting_requests() {
        let mut headers = HeaderMap::new();
        assert_eq!(V4Auth::from_request(&headers, &[]), Ok(None));
        let sigv2 = [("AWSAccessKeyId".to_owned(), "AK".to_owned())];
        assert!(matches!(
            V4Auth::from_request(&headers, &sigv2),
            Err(AuthError::InvalidRequest(_))
        ));
        headers.insert(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, \
                 SignedHeaders=host, Signature={}",
                "0".repeat(64)
            )
            .parse()
            .unwrap(),
        );
        let auth = V4Auth::from_request(&headers, &[]).unwrap().unwrap();
        assert_eq!(auth.access_key_id(), "AK");
        assert_eq!(auth.scope().region, "us-east-1");
        let presigned = [("X-Amz-Signature".to_owned(), "0".repeat(64))];
        assert!(V4Auth::from_request(&headers, &presigned).is_err());
    }

    #[test]
    fn request_time_prefers_x_amz_date() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            header_request_time(&headers),
            Err(AuthError::AccessDenied(_))
        ));
        headers.insert("date", "Fri, 24 May 2013 00:00:00 GMT".parse().unwrap());
        assert_eq!(header_request_time(&headers), Ok(1_369_353_600));
        headers.insert("x-amz-date", "20130524T000001Z".parse().unwrap());
        assert_eq!(header_request_time(&headers), Ok(1_369_353_601));
        headers.insert("x-amz-date", "yesterday".parse().unwrap());
        assert!(matches!(
            header_request_time(&headers),
            Err(AuthError::AccessDenied(_))
        ));
    }
}

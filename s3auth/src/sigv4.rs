//! AWS Signature Version 4 as pure functions: canonical request, string to sign, signing key
//! and signature, for whole requests, aws-chunked chunks and trailers.
//!
//! Each function builds one step of AWS's "Create a signed AWS API request" process and is
//! tested against AWS's published worked examples (the SigV4 test suite of the General
//! Reference and the S3 examples of "Signature Calculations for the Authorization Header").
//! S3 differs from the other services in two ways that matter here: the path is URI-encoded
//! once (not twice) and never normalised (`a//b`, `.` and `..` are distinct keys), and the last
//! line of the canonical request is the `x-amz-content-sha256` value, which may be a mode name
//! such as `UNSIGNED-PAYLOAD` instead of a hash.

use super::AuthError;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::fmt;

/// The only signing algorithm accepted: HMAC-SHA256 (SigV4A's ECDSA is not supported).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last component of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";
/// Hex SHA-256 of the empty string: the payload hash of a body-less request, and a fixed line
/// of every chunk string to sign.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Hex SHA-256 of `data`, lower case.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Whether AWS's `UriEncode` leaves a byte as is: the RFC 3986 unreserved characters.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// AWS's `UriEncode`: every byte but `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex);
/// `/` is kept when `keep_slash` (object paths) and encoded otherwise (query names and values).
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`). A `%` that does not start
/// a valid escape is kept as is: such a request can only fail its signature, never crash.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(hex_value);
                let lo = b.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// The canonical URI of an S3 request: the path as received on the wire (percent-encoded by
/// the client, in any of the equivalent ways) is decoded once and re-encoded with AWS's rules,
/// `/` kept. Unlike other AWS services, S3 encodes only once and does not normalise the path:
/// `/b/a//c/../d` stays as it is. An empty path is `/`.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(&percent_decode(path, false), true)
}

/// Splits a raw query string into decoded `(name, value)` pairs, in order. A `+` decodes to a
/// space, as in HTML forms and as S3 and other S3 servers read it; SDKs always send `%20` and
/// `%2B`, so they are unaffected. A parameter without `=` has an empty value. Bytes that do not
/// decode to UTF-8 are replaced (U+FFFD): S3 names and keys are UTF-8, such a request can only
/// fail its signature.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| String::from_utf8_lossy(&percent_decode(s, true)).into_owned();
            (decode(name), decode(value))
        })
        .collect()
}

/// The canonical query string: each name and value URI-encoded (`/` too), pairs sorted by
/// encoded name then encoded value, `name=value` joined by `&` (`=` even for empty values).
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| {
            (
                uri_encode(n.as_bytes(), false),
                uri_encode(v.as_bytes(), false),
            )
        })
        .collect();
    encoded.sort();
    let mut out = String::new();
    for (i, (name, value)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// AWS's `Trimall`: leading and trailing white space removed, inner runs of spaces and tabs
/// collapsed to one space.
fn trim_all(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    for word in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The canonical headers block: one `name:value\n` line per signed header, in the order of
/// `signed_headers` (sorted lower-case names, as the parsers guarantee). Values are trimmed;
/// a header sent several times has its values joined by `,` in the order received.
pub fn canonical_headers(
    signed_headers: &[String],
    headers: &HeaderMap,
) -> Result<String, AuthError> {
    let mut out = String::new();
    for name in signed_headers {
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err(AuthError::SignatureDoesNotMatch(format!(
                "the signed header {name:?} is not in the request"
            )));
        }
        out.push_str(name);
        out.push(':');
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&trim_all(value.as_bytes()));
        }
        out.push('\n');
    }
    Ok(out)
}

/// Joins the parts of the canonical request. `canonical_headers` already ends each line with
/// `\n`, and the blank line after them is part of the format; `signed_headers` is the
/// `;`-separated list.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!(
        "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    )
}

/// The string to sign of a request: algorithm, `YYYYMMDDTHHMMSSZ` time, credential scope and the
/// hex SHA-256 of the canonical request, one per line.
pub fn string_to_sign(datetime: &str, scope: &str, canonical_request_hash: &str) -> String {
    format!("{ALGORITHM}\n{datetime}\n{scope}\n{canonical_request_hash}")
}

/// The string to sign of one aws-chunked chunk: it chains to the previous signature (the seed
/// signature of the request for the first chunk) and covers the chunk's data by its hash.
pub fn chunk_string_to_sign(
    datetime: &str,
    scope: &str,
    previous_signature: &str,
    chunk_hash: &str,
) -> String {
    format!("AWS4-HMAC-SHA256-PAYLOAD\n{datetime}\n{scope}\n{previous_signature}\n{EMPTY_SHA256}\n{chunk_hash}")
}

/// The string to sign of the trailer of an aws-chunked body: it chains to the signature of the
/// final (empty) chunk and covers the hash of the canonical trailer lines (`name:value\n` each).
pub fn trailer_string_to_sign(
    datetime: &str,
    scope: &str,
    previous_signature: &str,
    trailer_hash: &str,
) -> String {
    format!("AWS4-HMAC-SHA256-TRAILER\n{datetime}\n{scope}\n{previous_signature}\n{trailer_hash}")
}

/// The credential scope: the day, region and service a signature is valid for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `YYYYMMDD`, the UTC day of the request.
    pub date: String,
    /// The region, such as `us-east-1`.
    pub region: String,
    /// The service, `s3` for this gateway.
    pub service: String,
}

impl Scope {
    /// Checks the region the client signed for against the one this gateway serves, with S3's
    /// error for a mismatch.
    pub fn check_region(&self, expected: &str) -> Result<(), AuthError> {
        if self.region != expected {
            return Err(AuthError::AuthorizationHeaderMalformed(format!(
                "the region '{}' is wrong; expecting '{expected}'",
                self.region
            )));
        }
        Ok(())
    }

    /// The signing key of this scope for a secret access key.
    pub fn signing_key(&self, secret: &str) -> SigningKey {
        signing_key(secret, &self.date, &self.region, &self.service)
    }
}

impl fmt::Display for Scope {
    /// `20130524/us-east-1/s3/aws4_request`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// A derived SigV4 signing key (valid for one day, region and service). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// Derives the signing key: HMAC chain of `"AWS4" + secret` over date, region, service and
/// `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    SigningKey(hmac_sha256(&k_service, SCOPE_TERMINATOR.as_bytes()))
}

/// The signature of a string to sign: hex HMAC-SHA256 with the signing key, lower case.
pub fn signature(key: &SigningKey, string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(&key.0, string_to_sign.as_bytes()))
}

/// Whether a signature the client sent equals the one computed, in time that does not depend
/// on where they differ (hex case is not significant).
pub fn signatures_match(computed: &str, given: &str) -> bool {
    dfs_common::auth::constant_time_eq(computed.as_bytes(), given.to_ascii_lowercase().as_bytes())
}

/// The parts of a request its canonical form is built from.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The path as received on the wire (still percent-encoded).
    pub path: &'a str,
    /// The decoded query pairs that take part in the signature (for a presigned URL, all but
    /// `X-Amz-Signature`).
    pub query: &'a [(String, String)],
    /// The request headers.
    pub headers: &'a HeaderMap,
}

impl RequestParts<'_> {
    /// The canonical request for these signed headers and payload hash.
    pub fn canonical_request(
        &self,
        signed_headers: &[String],
        payload_hash: &str,
    ) -> Result<String, AuthError> {
        Ok(canonical_request(
            self.method,
            &canonical_uri(self.path),
            &canonical_query(self.query),
            &canonical_headers(signed_headers, self.headers)?,
            &signed_headers.join(";"),
            payload_hash,
        ))
    }
}

/// Everything a signature check needs besides the request itself.
#[derive(Clone, Copy, Debug)]
pub struct SignatureInput<'a> {
    /// The lower-case, sorted names of the signed headers.
    pub signed_headers: &'a [String],
    /// The last line of the canonical request (`x-amz-content-sha256` or `UNSIGNED-PAYLOAD`).
    pub payload_hash: &'a str,
    /// The request time as `YYYYMMDDTHHMMSSZ`.
    pub datetime: &'a str,
    /// The credential scope.
    pub scope: &'a Scope,
    /// The signature the client sent.
    pub signature: &'a str,
}

/// Computes the request's signature with `secret` and compares it with the one sent. On success
/// returns the signing key, which an aws-chunked body needs to check its chunk signatures.
pub fn verify_signature(
    request: &RequestParts<'_>,
    input: &SignatureInput<'_>,
    secret: &str,
) -> Result<SigningKey, AuthError> {
    let canonical = request.canonical_request(input.signed_headers, input.payload_hash)?;
    let scope = input.scope.to_string();
    let to_sign = string_to_sign(input.datetime, &scope, &sha256_hex(&canonical));
    let key = input.scope.signing_key(secret);
    if !signatures_match(&signature(&key, &to_sign), input.signature) {
        tracing::debug!(
            canonical_request = %canonical,
            string_to_sign = %to_sign,
            "SigV4 signature mismatch"
        );
        return Err(AuthError::SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method."
                .into(),
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encode_keeps_only_unreserved() {
        assert_eq!(uri_encode(b"AZaz09-_.~", false), "AZaz09-_.~");
        assert_eq!(
            uri_encode(b"a b/c+d=e&f$g", false),
            "a%20b%2Fc%2Bd%3De%26f%24g"
        );
        assert_eq!(uri_encode(b"a b/c", true), "a%20b/c");
        assert_eq!(uri_encode("ሴ".as_bytes(), false), "%E1%88%B4");
        assert_eq!(uri_encode(&[0, 0x7f, 0xff], false), "%00%7F%FF");
    }

    #[test]
    fn canonical_uri_decodes_once_and_never_normalises() {
        // The S3 PUT example of "Signature Calculations for the Authorization Header" signs
        // `/test$file.text` as `/test%24file.text`, whether the client escaped `$` or not.
        assert_eq!(canonical_uri("/test$file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/b/a//c/../d/./e"), "/b/a//c/../d/./e");
        assert_eq!(canonical_uri("/b/%7Ex%7e"), "/b/~x~");
        assert_eq!(canonical_uri("/b/a+b%20c"), "/b/a%2Bb%20c");
        assert_eq!(canonical_uri("/b/%2F"), "/b//");
        assert_eq!(canonical_uri("/b/100%"), "/b/100%25");
        assert_eq!(canonical_uri("/b/%zz%4"), "/b/%25zz%254");
        assert_eq!(canonical_uri(""), "/");
    }

    #[test]
    fn query_is_decoded_sorted_and_reencoded() {
        let pairs = parse_query("prefix=J&max-keys=2&&acl&a%2Fb=c+d%2B");
        assert_eq!(
            pairs,
            [
                ("prefix".into(), "J".into()),
                ("max-keys".into(), "2".into()),
                ("acl".into(), String::new()),
                ("a/b".into(), "c d+".into()),
            ]
        );
        assert_eq!(
            canonical_query(&pairs),
            "a%2Fb=c%20d%2B&acl=&max-keys=2&prefix=J"
        );
        // Equal names sort by value.
        let pairs = parse_query("Param1=value2&Param1=Value1");
        assert_eq!(canonical_query(&pairs), "Param1=Value1&Param1=value2");
        assert_eq!(canonical_query(&[]), "");
    }

    #[test]
    fn canonical_headers_trim_and_join() {
        let mut headers = HeaderMap::new();
        headers.append("host", "example.amazonaws.com".parse().unwrap());
        headers.append("my-header1", "  a   b \t c  ".parse().unwrap());
        headers.append("my-header2", "v2".parse().unwrap());
        headers.append("my-header2", " v1 ".parse().unwrap());
        let signed: Vec<String> = ["host", "my-header1", "my-header2"]
            .map(String::from)
            .into();
        assert_eq!(
            canonical_headers(&signed, &headers).unwrap(),
            "host:example.amazonaws.com\nmy-header1:a b c\nmy-header2:v2,v1\n"
        );
        let missing: Vec<String> = vec!["x-amz-date".into()];
        assert!(matches!(
            canonical_headers(&missing, &headers),
            Err(AuthError::SignatureDoesNotMatch(_))
        ));
    }

    #[test]
    fn signatures_compare_in_any_hex_case() {
        assert!(signatures_match("ab01", "AB01"));
        assert!(!signatures_match("ab01", "ab02"));
        assert!(!signatures_match("ab01", "ab0"));
    }

    #[test]
    fn signing_key_is_not_printed() {
        let key = signing_key("secret", "20130524", "us-east-1", "s3");
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }
}

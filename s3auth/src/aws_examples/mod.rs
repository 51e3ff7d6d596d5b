//! AWS's published worked examples, reproduced end to end. Each test names the document and
//! example it comes from; the expected values are AWS's, not computed here.

use super::checksum::{ChecksumAlgorithm, ExpectedChecksums};
use super::chunked::{ChunkSigner, ChunkedDecoder};
use super::content_sha256::ContentSha256;
use super::sigv4::*;
use super::verify::{BodyCheck, V4Auth, Verified};
use super::AuthError;
use http::{HeaderMap, HeaderName, HeaderValue};

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

// ---------------------------------------------------------------------------------------------
// AWS General Reference, "Signature Version 4 test suite" (aws-sig-v4-test-suite): credentials
// AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1, service
// "service", host example.amazonaws.com. The cases that need path normalisation (get-relative,
// get-slash...) are left out: S3 does not normalise.

const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_DATE: &str = "20150830T123600Z";
const SUITE_SCOPE: &str = "20150830/us-east-1/service/aws4_request";

/// Signs one test-suite request with the building blocks, as a server would recompute it.
fn suite_signature(method: &str, target: &str, extra: &[(&str, &str)], body: &[u8]) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut pairs = vec![
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", SUITE_DATE),
    ];
    pairs.extend_from_slice(extra);
    let headers = header_map(&pairs);
    let mut signed: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
    signed.sort();
    let canonical = canonical_request(
        method,
        &canonical_uri(path),
        &canonical_query(&parse_query(query)),
        &canonical_headers(&signed, &headers).unwrap(),
        &signed.join(";"),
        &sha256_hex(body),
    );
    let key = signing_key(SUITE_SECRET, "20150830", "us-east-1", "service");
    signature(
        &key,
        &string_to_sign(SUITE_DATE, SUITE_SCOPE, &sha256_hex(&canonical)),
    )
}

/// Name, method, path and query, headers besides Host and X-Amz-Date, body, signature.
type SuiteCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a [u8],
    &'a str,
);

#[test]
fn sigv4_test_suite() {
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let form_charset = [(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf8",
    )];
    let cases: [SuiteCase; 18] = [
        ("get-vanilla", "GET", "/", &[], b"", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("get-vanilla-empty-query-key", "GET", "/?Param1=value1", &[], b"", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
        ("get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", &[], b"", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        ("get-vanilla-query-order-key", "GET", "/?Param1=value2&Param1=Value1", &[], b"", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
        ("get-vanilla-query-order-value", "GET", "/?Param1=value2&Param1=value1", &[], b"", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
        (
            "get-vanilla-query-unreserved",
            "GET",
            "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            &[],
            b"",
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        ),
        ("get-vanilla-utf8-query", "GET", "/?ሴ=bar", &[], b"", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
        ("get-utf8", "GET", "/ሴ", &[], b"", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        ("get-space", "GET", "/example space/", &[], b"", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
        (
            "get-header-key-duplicate",
            "GET",
            "/",
            &[("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            b"",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        ),
        (
            "get-header-value-order",
            "GET",
            "/",
            &[("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")],
            b"",
            "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
        ),
        (
            "get-header-value-trim",
            "GET",
            "/",
            &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            b"",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        ),
        ("post-vanilla", "POST", "/", &[], b"", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        ("post-vanilla-query", "POST", "/?Param1=value1", &[], b"", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        ("post-header-key-sort", "POST", "/", &[("My-Header1", "value1")], b"", "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
        ("post-header-value-case", "POST", "/", &[("My-Header1", "VALUE1")], b"", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        ("post-x-www-form-urlencoded", "POST", "/", &form, b"Param1=value1", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
        (
            "post-x-www-form-urlencoded-parameters",
            "POST",
            "/",
            &form_charset,
            b"Param1=value1",
            "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
        ),
    ];
    for (name, method, target, extra, body, expected) in cases {
        assert_eq!(
            suite_signature(method, target, extra, body),
            expected,
            "{name}"
        );
    }
}

/// AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
#[test]
fn derived_signing_key_example() {
    let key = signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam");
    assert_eq!(
        hex::encode(key.as_bytes()),
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    );
}

/// AWS General Reference, "Examples of the complete Signature Version 4 signing process": the
/// IAM ListUsers request, step by step.
#[test]
fn iam_list_users_example() {
    let headers = header_map(&[
        ("Host", "iam.amazonaws.com"),
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("X-Amz-Date", SUITE_DATE),
    ]);
    let signed: Vec<String> = ["content-type", "host", "x-amz-date"]
        .map(String::from)
        .into();
    let canonical = canonical_request(
        "GET",
        &canonical_uri("/"),
        &canonical_query(&parse_query("Action=ListUsers&Version=2010-05-08")),
        &canonical_headers(&signed, &headers).unwrap(),
        &signed.join(";"),
        EMPTY_SHA256,
    );
    assert_eq!(
        canonical,
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
         content-type:application/x-www-form-urlencoded; charset=utf-8\n\
         host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
         content-type;host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let hash = sha256_hex(&canonical);
    assert_eq!(
        hash,
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    );
    let key = signing_key(SUITE_SECRET, "20150830", "us-east-1", "iam");
    assert_eq!(
        hex::encode(key.as_bytes()),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
    let to_sign = string_to_sign(SUITE_DATE, "20150830/us-east-1/iam/aws4_request", &hash);
    assert_eq!(
        signature(&key, &to_sign),
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

// ---------------------------------------------------------------------------------------------
// Amazon S3 API Reference, "Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk", and the presigned and streaming pages: access key
// AKIAIOSFODNN7EXAMPLE, secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z,
// us-east-1, bucket examplebucket.

const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const S3_NOW: i64 = 1_369_353_600; // 20130524T000000Z
const S3_CREDENTIAL: &str = "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";

/// Runs the whole check of an S3 example as the gateway will: find the credentials, verify.
fn verify_s3(
    method: &str,
    target: &str,
    headers: &HeaderMap,
    now: i64,
) -> Result<Verified, AuthError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = parse_query(query);
    let auth = V4Auth::from_request(headers, &query)?.expect("the example is signed");
    assert_eq!(auth.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
    let request = RequestParts {
        method,
        path,
        query: &query,
        headers,
    };
    auth.verify(&request, S3_SECRET, now, Some("us-east-1"))
}

fn authorization(signed_headers: &str, signature: &str) -> String {
    format!("AWS4-HMAC-SHA256 {S3_CREDENTIAL},SignedHeaders={signed_headers},Signature={signature}")
}

/// S3 example "GET Object": the first 10 bytes of examplebucket/test.txt.
#[test]
fn s3_get_object_example() {
    let sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    let auth = authorization("host;range;x-amz-content-sha256;x-amz-date", sig);
    let headers = header_map(&[
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Authorization", &auth),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", "20130524T000000Z"),
    ]);
    // The intermediate values the example shows.
    let signed: Vec<String> = ["host", "range", "x-amz-content-sha256", "x-amz-date"]
        .map(String::from)
        .into();
    let request = RequestParts {
        method: "GET",
        path: "/test.txt",
        query: &[],
        headers: &headers,
    };
    let canonical = request.canonical_request(&signed, EMPTY_SHA256).unwrap();
    assert_eq!(
        canonical,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
         x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_hex(&canonical),
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
    let verified = verify_s3("GET", "/test.txt", &headers, S3_NOW).unwrap();
    assert!(verified.payload.is_empty_body_hash());
    assert!(!verified.presigned);

    // Any change to a signed part, the key or the clock fails.
    let tampered = header_map(&[
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Authorization", &auth),
        ("Range", "bytes=0-10"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", "20130524T000000Z"),
    ]);
    assert!(matches!(
        verify_s3("GET", "/test.txt", &tampered, S3_NOW),
        Err(AuthError::SignatureDoesNotMatch(_))
    ));
    assert!(matches!(
        verify_s3("GET", "/test.txT", &headers, S3_NOW),
        Err(AuthError::SignatureDoesNotMatch(_))
    ));
    assert!(matches!(
        verify_s3("GET", "/test.txt", &headers, S3_NOW + 15 * 60 + 1),
        Err(AuthError::RequestTimeTooSkewed { .. })
    ));
    let auth = V4Auth::from_request(&headers, &[]).unwrap().unwrap();
    let request = RequestParts {
        method: "GET",
        path: "/test.txt",
        query: &[],
        headers: &headers,
    };
    assert!(matches!(
        auth.verify(&request, "another secret", S3_NOW, None),
        Err(AuthError::SignatureDoesNotMatch(_))
    ));
    assert!(matches!(
        auth.verify(&request, S3_SECRET, S3_NOW, Some("eu-west-1")),
        Err(AuthError::AuthorizationHeaderMalformed(_))
    ));
}

/// S3 example "PUT Object": "Welcome to Amazon S3." as examplebucket/test$file.text, with a
/// `Date` header besides `x-amz-date` and a storage class.
#[test]
fn s3_put_object_example() {
    let sig = "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";
    let auth = authorization(
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        sig,
    );
    let headers = header_map(&[
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("Authorization", &auth),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
    ]);
    let verified = verify_s3("PUT", "/test%24file.text", &headers, S3_NOW).unwrap();
    let BodyCheck::Sha256(expected) = verified.body_check(&headers).unwrap() else {
        panic!("a hashed payload must be checked by its SHA-256");
    };
    let body_hash: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        b"Welcome to Amazon S3.",
    ))
    .into();
    assert_eq!(expected, body_hash);
    assert_eq!(verified.payload.verify_body_hash(&body_hash), Ok(()));
    assert!(matches!(
        verified.payload.verify_body_hash(&[0; 32]),
        Err(AuthError::XAmzContentSha256Mismatch(_))
    ));
    // The client may leave `$` unescaped: the canonical URI is the same.
    assert!(verify_s3("PUT", "/test$file.text", &headers, S3_NOW).is_ok());
}

/// S3 examples "GET Bucket Lifecycle" (`?lifecycle`, a parameter without value) and "Get
/// Bucket (List Objects)" (`?max-keys=2&prefix=J`, parameters to sort).
#[test]
fn s3_bucket_examples() {
    for (target, sig) in [
        (
            "/?lifecycle",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
        (
            "/?max-keys=2&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ] {
        let auth = authorization("host;x-amz-content-sha256;x-amz-date", sig);
        let headers = header_map(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Authorization", &auth),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ]);
        verify_s3("GET", target, &headers, S3_NOW).unwrap_or_else(|e| panic!("{target}: {e}"));
    }
}

/// Amazon S3 API Reference, "Authenticating Requests: Using Query Parameters (AWS Signature
/// Version 4)": the presigned URL of examplebucket/test.txt, valid 86400 s.
#[test]
fn s3_presigned_url_example() {
    let target = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    let headers = header_map(&[("Host", "examplebucket.s3.amazonaws.com")]);
    let verified = verify_s3("GET", target, &headers, S3_NOW + 3600).unwrap();
    assert!(verified.presigned);
    assert_eq!(verified.payload, ContentSha256::Unsigned);
    assert!(matches!(
        verified.body_check(&headers),
        Ok(BodyCheck::Unsigned)
    ));
    // The canonical query leaves the signature out, and the payload is UNSIGNED-PAYLOAD.
    let pairs = super::authorization::presigned_query_pairs(&parse_query(
        target.split_once('?').unwrap().1,
    ));
    assert_eq!(
        canonical_query(&pairs),
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    );
    assert!(matches!(
        verify_s3("GET", target, &headers, S3_NOW + 86_401),
        Err(AuthError::AccessDenied(_))
    ));
    assert!(matches!(
        verify_s3("GET", &target.replace("86400", "86401"), &headers, S3_NOW),
        Err(AuthError::SignatureDoesNotMatch(_))
    ));
    let other_host = header_map(&[("Host", "otherbucket.s3.amazonaws.com")]);
    assert!(verify_s3("GET", target, &other_host, S3_NOW).is_err());
}

mod streaming;

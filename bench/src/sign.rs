//! SigV4 header signing of the benchmark's requests, built from the gateway's own pure
//! functions (`dfs_s3auth::sigv4`): client and server then share one definition of the
//! canonical request, and the tests below check it against AWS's worked example.

use dfs_common::Secret;
use dfs_s3auth::sigv4::{self, Scope, SigningKey};
use dfs_s3auth::time::{format_amz_date, format_scope_date};
use dfs_s3auth::verify::SERVICE;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Mutex;

/// The `x-amz-content-sha256` value that leaves the body out of the signature, so that the
/// client spends no CPU hashing it.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// An access key and the region requests are signed for.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`), never printed.
    pub secret_access_key: Secret,
    /// The region (`AWS_DEFAULT_REGION`), such as `us-east-1`.
    pub region: String,
}

/// Signs requests with SigV4 in the `Authorization` header. Shared by every worker.
#[derive(Debug)]
pub struct Signer {
    credentials: Credentials,
    /// The signing key of the last day used: deriving it takes four HMACs, and it changes
    /// only at midnight UTC.
    key: Mutex<Option<(String, SigningKey)>>,
}

impl Signer {
    /// A signer for these credentials. Refuses an access key id or region that cannot appear
    /// in an `Authorization` header.
    pub fn new(credentials: Credentials) -> Result<Signer, String> {
        for (what, value) in [
            ("access key id", &credentials.access_key_id),
            ("region", &credentials.region),
        ] {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
                return Err(format!(
                    "the {what} {value:?} must be non-empty printable ASCII without spaces or '/'"
                ));
            }
        }
        Ok(Signer {
            credentials,
            key: Mutex::new(None),
        })
    }

    fn signing_key(&self, date: &str) -> SigningKey {
        // A poisoned lock only means another worker panicked while holding a cache entry: the
        // key is recomputed, never trusted from the cache.
        let mut cached = match self.key.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((day, key)) = cached.as_ref() {
            if day == date {
                return key.clone();
            }
        }
        let key = sigv4::signing_key(
            self.credentials.secret_access_key.expose(),
            date,
            &self.credentials.region,
            SERVICE,
        );
        *cached = Some((date.to_owned(), key.clone()));
        key
    }

    /// Signs one request at `now_unix` (seconds): adds `x-amz-date` and
    /// `x-amz-content-sha256` (`payload_hash`: the body's hex SHA-256 or
    /// [`UNSIGNED_PAYLOAD`]), signs every header then present (`headers` must already hold
    /// `host`; headers added afterwards, such as `content-length`, are not signed) and adds
    /// `authorization`. `path` is the request path as sent (percent-encoded), `query` the raw
    /// query string without `?`.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &mut HeaderMap,
        payload_hash: &str,
        now_unix: i64,
    ) -> Result<(), String> {
        let datetime = format_amz_date(now_unix);
        let scope = Scope {
            date: format_scope_date(now_unix),
            region: self.credentials.region.clone(),
            service: SERVICE.to_owned(),
        };
        headers.insert(
            HeaderName::from_static("x-amz-date"),
            header_value(&datetime)?,
        );
        headers.insert(
            HeaderName::from_static("x-amz-content-sha256"),
            header_value(payload_hash)?,
        );
        // HeaderName is always lower case; keys() yields each name once.
        let mut signed: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
        signed.sort();
        let canonical_headers = sigv4::canonical_headers(&signed, headers)
            .map_err(|e| format!("cannot sign {method} {path}: {e}"))?;
        let signed_list = signed.join(";");
        let canonical = sigv4::canonical_request(
            method,
            &sigv4::canonical_uri(path),
            &sigv4::canonical_query(&sigv4::parse_query(query)),
            &canonical_headers,
            &signed_list,
            payload_hash,
        );
        let scope_text = scope.to_string();
        let to_sign = sigv4::string_to_sign(&datetime, &scope_text, &sigv4::sha256_hex(&canonical));
        let signature = sigv4::signature(&self.signing_key(&scope.date), &to_sign);
        let authorization = format!(
            "{} Credential={}/{scope_text},SignedHeaders={signed_list},Signature={signature}",
            sigv4::ALGORITHM,
            self.credentials.access_key_id
        );
        headers.insert(hyper::header::AUTHORIZATION, header_value(&authorization)?);
        Ok(())
    }
}

fn header_value(text: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(text).map_err(|_| format!("{text:?} is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_s3auth::sigv4::{RequestParts, EMPTY_SHA256};
    use dfs_s3auth::verify::{BodyCheck, V4Auth};

    /// AWS's S3 examples ("Signature Calculations for the Authorization Header: Transferring
    /// Payload in a Single Chunk"): this key, 20130524T000000Z, us-east-1.
    fn aws_example_signer() -> Signer {
        Signer::new(Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        })
        .unwrap()
    }
    const AWS_EXAMPLE_NOW: i64 = 1_369_353_600;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(HeaderName::from_static(name), value.parse().unwrap());
        }
        map
    }

    /// The "GET Object" example: its Authorization header, to the byte.
    #[test]
    fn signs_the_aws_get_object_example() {
        let mut map = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
        ]);
        aws_example_signer()
            .sign(
                "GET",
                "/test.txt",
                "",
                &mut map,
                EMPTY_SHA256,
                AWS_EXAMPLE_NOW,
            )
            .unwrap();
        assert_eq!(map["x-amz-date"], "20130524T000000Z");
        assert_eq!(
            map["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// Runs the gateway's own check on a signed request.
    fn gateway_accepts(method: &str, path: &str, query: &str, map: &HeaderMap) -> BodyCheck {
        let pairs = sigv4::parse_query(query);
        let auth = V4Auth::from_request(map, &pairs).unwrap().unwrap();
        let request = RequestParts {
            method,
            path,
            query: &pairs,
            headers: map,
        };
        let verified = auth
            .verify(
                &request,
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                AWS_EXAMPLE_NOW + 5,
                Some("us-east-1"),
            )
            .unwrap();
        verified.body_check(map).unwrap()
    }

    #[test]
    fn the_gateway_verifies_what_the_signer_signs() {
        let signer = aws_example_signer();
        // An unsigned-payload PUT, with a header added after signing (not covered).
        let mut map = headers(&[("host", "127.0.0.1:9000")]);
        signer
            .sign(
                "PUT",
                "/bench-1/small/00000001",
                "",
                &mut map,
                UNSIGNED_PAYLOAD,
                AWS_EXAMPLE_NOW,
            )
            .unwrap();
        map.insert("content-length", "4096".parse().unwrap());
        let check = gateway_accepts("PUT", "/bench-1/small/00000001", "", &map);
        assert!(matches!(check, BodyCheck::Unsigned));

        // A signed-payload PUT carries the body's SHA-256.
        let body_hash = sigv4::sha256_hex(b"some data");
        let mut map = headers(&[("host", "127.0.0.1:9000")]);
        signer
            .sign("PUT", "/b/k", "", &mut map, &body_hash, AWS_EXAMPLE_NOW)
            .unwrap();
        let BodyCheck::Sha256(expected) = gateway_accepts("PUT", "/b/k", "", &map) else {
            panic!("a signed payload must be checked by its SHA-256");
        };
        assert_eq!(hex::encode(expected), body_hash);

        // A listing with a query to sort and encode; the second key's day is reused.
        let query = "list-type=2&prefix=small%2F&continuation-token=a%2Bb%3D";
        let mut map = headers(&[("host", "127.0.0.1:9000")]);
        signer
            .sign("GET", "/b", query, &mut map, EMPTY_SHA256, AWS_EXAMPLE_NOW)
            .unwrap();
        gateway_accepts("GET", "/b", query, &map);

        // A tampered request fails.
        map.insert("host", "127.0.0.1:9001".parse().unwrap());
        let pairs = sigv4::parse_query(query);
        let auth = V4Auth::from_request(&map, &pairs).unwrap().unwrap();
        let request = RequestParts {
            method: "GET",
            path: "/b",
            query: &pairs,
            headers: &map,
        };
        assert!(auth
            .verify(
                &request,
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                AWS_EXAMPLE_NOW,
                None
            )
            .is_err());
    }

    #[test]
    fn refuses_unusable_credentials() {
        for (key, region) in [("", "us-east-1"), ("AK ID", "us-east-1"), ("AK", "a/b")] {
            let credentials = Credentials {
                access_key_id: key.into(),
                secret_access_key: "secret".into(),
                region: region.into(),
            };
            assert!(Signer::new(credentials).is_err(), "{key:?} {region:?}");
        }
        let credentials = Credentials {
            access_key_id: "AK".into(),
            secret_access_key: "very-secret".into(),
            region: "r".into(),
        };
        let text = format!("{credentials:?} {credentials:#?}");
        assert!(!text.contains("very-secret"), "{text}");
    }
}

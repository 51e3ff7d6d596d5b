//! Every endpoint, both addressing styles, and the keys that must survive routing verbatim.

use super::*;
use http::HeaderValue;
use proptest::prelude::*;

fn route_with(method: Method, target: &str, headers: &HeaderMap) -> S3Result<Endpoint> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    route(&method, Some("localhost:9000"), path, query, headers, None)
}

fn ep(method: Method, target: &str) -> Endpoint {
    match route_with(method.clone(), target, &HeaderMap::new()) {
        Ok(endpoint) => endpoint,
        Err(e) => panic!("{method} {target}: {e}"),
    }
}

fn err(method: Method, target: &str) -> S3ErrorCode {
    match route_with(method.clone(), target, &HeaderMap::new()) {
        Ok(routed) => panic!("{method} {target} routed to {routed:?}"),
        Err(e) => e.code(),
    }
}

fn bucket() -> BucketName {
    BucketName::new("bucket").unwrap()
}

fn obj(path: &str) -> ObjectPath {
    ObjectPath::parse(path).unwrap()
}

/// The bucket and the key an endpoint carries, as text.
fn names(endpoint: &Endpoint) -> (Option<&str>, Option<&str>) {
    let key = match endpoint {
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
        | Endpoint::GetObjectAcl { object } => Some(object.key.as_str()),
        _ => None,
    };
    (endpoint.bucket().map(BucketName::as_str), key)
}

fn copy_headers(source: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COPY_SOURCE_HEADER, HeaderValue::from_str(source).unwrap());
    headers
}

#[test]
fn service_endpoints() {
    assert_eq!(ep(Method::GET, "/"), Endpoint::ListBuckets);
    let routed = route_with(Method::GET, "/", &HeaderMap::new()).unwrap();
    assert_eq!(names(&routed), (None, None));
    assert_eq!(err(Method::PUT, "/"), S3ErrorCode::MethodNotAllowed);
    assert_eq!(err(Method::DELETE, "/"), S3ErrorCode::MethodNotAllowed);
}

#[test]
fn bucket_endpoints() {
    use Endpoint as E;
    assert_eq!(
        ep(Method::PUT, "/bucket"),
        E::CreateBucket { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::PUT, "/bucket/"),
        E::CreateBucket { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::HEAD, "/bucket"),
        E::HeadBucket { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::DELETE, "/bucket"),
        E::DeleteBucket { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::GET, "/bucket?location"),
        E::GetBucketLocation { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::GET, "/bucket?versioning"),
        E::GetBucketVersioning { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::GET, "/bucket?acl"),
        E::GetBucketAcl { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::GET, "/bucket"),
        E::ListObjects { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::GET, "/bucket?prefix=a&marker=b"),
        E::ListObjects { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::GET, "/bucket?list-type=2&prefix=a"),
        E::ListObjectsV2 { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::GET, "/bucket?uploads"),
        E::ListMultipartUploads { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::POST, "/bucket?delete"),
        E::DeleteObjects { bucket: bucket() }
    );
    assert_eq!(
        ep(Method::POST, "/bucket"),
        E::NotImplemented {
            bucket: bucket(),
            operation: "PostObject"
        }
    );
    assert_eq!(
        err(Method::GET, "/bucket?list-type=3"),
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err(Method::PUT, "/bucket?location"),
        S3ErrorCode::MethodNotAllowed
    );
    assert_eq!(
        err(Method::POST, "/bucket?uploads"),
        S3ErrorCode::MethodNotAllowed
    );
    assert_eq!(err(Method::PATCH, "/bucket"), S3ErrorCode::MethodNotAllowed);
    assert_eq!(
        err(Method::OPTIONS, "/bucket"),
        S3ErrorCode::MethodNotAllowed
    );
}

#[test]
fn bucket_subresources() {
    for config in BucketConfig::ALL {
        let target = format!("/bucket?{}", config.query_name());
        let get = ep(Method::GET, &target);
        match config {
            BucketConfig::Acl => assert_eq!(get, Endpoint::GetBucketAcl { bucket: bucket() }),
            BucketConfig::Versioning => {
                assert_eq!(get, Endpoint::GetBucketVersioning { bucket: bucket() })
            }
            _ => assert_eq!(
                get,
                Endpoint::BucketSubresource {
                    bucket: bucket(),
                    config,
                    method: Method::GET
                }
            ),
        }
        for method in [Method::PUT, Method::DELETE] {
            assert_eq!(
                ep(method.clone(), &target),
                Endpoint::BucketSubresource {
                    bucket: bucket(),
                    config,
                    method: method.clone()
                },
                "{method} {target}"
            );
        }
        assert_eq!(
            ep(Method::HEAD, &target),
            Endpoint::HeadBucket { bucket: bucket() }
        );
        assert_eq!(err(Method::POST, &target), S3ErrorCode::MethodNotAllowed);
    }
    assert_eq!(
        BucketConfig::Lifecycle.missing_code(),
        Some(S3ErrorCode::NoSuchLifecycleConfiguration)
    );
    assert_eq!(
        BucketConfig::Cors.missing_code(),
        Some(S3ErrorCode::NoSuchCORSConfiguration)
    );
    assert_eq!(BucketConfig::Logging.missing_code(), None);
    assert_eq!(
        ep(Method::GET, "/bucket?versions&prefix=x").name(),
        "versions"
    );
}

#[test]
fn object_endpoints() {
    use Endpoint as E;
    let object = || obj("/bk1/k");
    assert_eq!(ep(Method::GET, "/bk1/k"), E::GetObject { object: object() });
    assert_eq!(
        ep(Method::GET, "/bk1/k?partNumber=2"),
        E::GetObject { object: object() }
    );
    assert_eq!(
        ep(Method::GET, "/bk1/k?response-content-type=x"),
        E::GetObject { object: object() }
    );
    assert_eq!(
        ep(Method::HEAD, "/bk1/k"),
        E::HeadObject { object: object() }
    );
    assert_eq!(ep(Method::PUT, "/bk1/k"), E::PutObject { object: object() });
    assert_eq!(
        ep(Method::DELETE, "/bk1/k"),
        E::DeleteObject { object: object() }
    );
    assert_eq!(
        ep(Method::POST, "/bk1/k?uploads"),
        E::CreateMultipartUpload { object: object() }
    );
    assert_eq!(
        ep(Method::PUT, "/bk1/k?partNumber=3&uploadId=u%2B1"),
        E::UploadPart {
            object: object(),
            upload_id: "u+1".into(),
            part_number: 3
        }
    );
    assert_eq!(
        ep(Method::POST, "/bk1/k?uploadId=u1"),
        E::CompleteMultipartUpload {
            object: object(),
            upload_id: "u1".into()
        }
    );
    assert_eq!(
        ep(Method::DELETE, "/bk1/k?uploadId=u1"),
        E::AbortMultipartUpload {
            object: object(),
            upload_id: "u1".into()
        }
    );
    assert_eq!(
        ep(Method::GET, "/bk1/k?uploadId=u1&max-parts=2"),
        E::ListParts {
            object: object(),
            upload_id: "u1".into()
        }
    );
    assert_eq!(
        ep(Method::GET, "/bk1/k?acl"),
        E::GetObjectAcl { object: object() }
    );
    for (method, target, operation) in [
        (Method::GET, "/bk1/k?tagging", "GetObjectTagging"),
        (Method::PUT, "/bk1/k?tagging", "PutObjectTagging"),
        (Method::DELETE, "/bk1/k?tagging", "DeleteObjectTagging"),
        (Method::PUT, "/bk1/k?acl", "PutObjectAcl"),
        (Method::GET, "/bk1/k?retention", "GetObjectRetention"),
        (Method::PUT, "/bk1/k?legal-hold", "PutObjectLegalHold"),
        (Method::GET, "/bk1/k?attributes", "GetObjectAttributes"),
        (Method::POST, "/bk1/k?restore", "RestoreObject"),
        (
            Method::POST,
            "/bk1/k?select&select-type=2",
            "SelectObjectContent",
        ),
    ] {
        assert_eq!(
            ep(method, target),
            E::NotImplemented {
                bucket: obj("/bk1/k").bucket,
                operation
            },
            "{target}"
        );
    }
    assert_eq!(err(Method::POST, "/bk1/k"), S3ErrorCode::MethodNotAllowed);
    assert_eq!(err(Method::PATCH, "/bk1/k"), S3ErrorCode::MethodNotAllowed);
    assert_eq!(
        err(Method::PUT, "/bk1/k?uploadId=u"),
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err(Method::PUT, "/bk1/k?partNumber=1"),
        S3ErrorCode::InvalidArgument
    );
    for bad in ["0", "10001", "x", "-1", ""] {
        let target = format!("/bk1/k?partNumber={bad}&uploadId=u");
        assert_eq!(
            err(Method::PUT, &target),
            S3ErrorCode::InvalidArgument,
            "{bad}"
        );
    }
    assert_eq!(
        ep(Method::PUT, "/bk1/k?partNumber=10000&uploadId=u"),
        E::UploadPart {
            object: object(),
            upload_id: "u".into(),
            part_number: 10_000
        }
    );
}

#[test]
fn copies() {
    let source = CopySource {
        object: obj("/src/a b/c+d"),
        version_id: None,
    };
    let endpoint = route_with(Method::PUT, "/bk1/k", &copy_headers("/src/a%20b/c+d")).unwrap();
    assert_eq!(
        endpoint,
        Endpoint::CopyObject {
            object: obj("/bk1/k"),
            source: source.clone()
        }
    );
    let endpoint = route_with(
        Method::PUT,
        "/bk1/k?partNumber=2&uploadId=u",
        &copy_headers("src/a%20b/c+d"),
    )
    .unwrap();
    assert_eq!(
        endpoint,
        Endpoint::UploadPartCopy {
            object: obj("/bk1/k"),
            upload_id: "u".into(),
            part_number: 2,
            source
        }
    );
    let bad = route_with(Method::PUT, "/bk1/k", &copy_headers("nokey")).unwrap_err();
    assert_eq!(bad.code(), S3ErrorCode::InvalidArgument);
    // A copy-source header on anything but PUT does not make a copy.
    let endpoint = route_with(Method::GET, "/bk1/k", &copy_headers("src/x")).unwrap();
    assert_eq!(
        endpoint,
        Endpoint::GetObject {
            object: obj("/bk1/k")
        }
    );
}

#[test]
fn keys_are_decoded_once_and_never_normalised() {
    let key_of = |path: &str| {
        let endpoint = route(&Method::GET, None, path, "", &HeaderMap::new(), None).unwrap();
        let (bucket, key) = names(&endpoint);
        assert_eq!(bucket, Some("bucket"));
        key.map(str::to_owned)
    };
    let cases = [
        ("/bucket/a//b", "a//b"),
        ("/bucket/./x", "./x"),
        ("/bucket/../x", "../x"),
        ("/bucket/a/./b/../c", "a/./b/../c"),
        ("/bucket/a%2Fb", "a/b"),
        ("/bucket/a%252Fb", "a%2Fb"),
        ("/bucket/a+b", "a+b"),
        ("/bucket/a%2Bb", "a+b"),
        ("/bucket/a%20b", "a b"),
        ("/bucket/%E6%97%A5%E6%9C%AC", "日本"),
        ("/bucket/x/", "x/"),
        ("/bucket//", "/"),
        ("/bucket///x", "//x"),
        ("/bucket/100%", "100%"),
        ("/bucket/a%0Ab", "a\nb"),
        ("/bucket/&$@=;:,?", "&$@=;:,?"),
    ];
    for (path, key) in cases {
        assert_eq!(key_of(path).as_deref(), Some(key), "{path}");
    }
    assert_eq!(key_of("/bucket"), None);
    assert_eq!(key_of("/bucket/"), None);
}

#[test]
fn bad_paths_and_names() {
    let code = |path: &str| {
        route(&Method::GET, None, path, "", &HeaderMap::new(), None)
            .unwrap_err()
            .code()
    };
    assert_eq!(code("bucket/key"), S3ErrorCode::InvalidURI);
    assert_eq!(code(""), S3ErrorCode::InvalidURI);
    assert_eq!(code("/bucket/%FF"), S3ErrorCode::InvalidURI);
    // An invalid name can name no bucket: NoSuchBucket, except when creating it.
    assert_eq!(code("//key"), S3ErrorCode::NoSuchBucket);
    assert_eq!(code("/Bucket/key"), S3ErrorCode::NoSuchBucket);
    assert_eq!(code("/../key"), S3ErrorCode::NoSuchBucket);
    assert_eq!(code("/b/key"), S3ErrorCode::NoSuchBucket);
    assert_eq!(code("/b"), S3ErrorCode::NoSuchBucket);
    let create = |path: &str| {
        route(&Method::PUT, None, path, "", &HeaderMap::new(), None)
            .unwrap_err()
            .code()
    };
    assert_eq!(create("/b"), S3ErrorCode::InvalidBucketName);
    assert_eq!(create("/Bucket"), S3ErrorCode::InvalidBucketName);
    assert_eq!(create("/b/key"), S3ErrorCode::NoSuchBucket);
    let long = format!("/bucket/{}", "k".repeat(MAX_KEY_BYTES + 1));
    assert_eq!(code(&long), S3ErrorCode::KeyTooLongError);
    let max = format!("/bucket/{}", "é".repeat(MAX_KEY_BYTES / 2));
    assert!(route(&Method::GET, None, &max, "", &HeaderMap::new(), None).is_ok());
    assert_eq!(
        route(
            &Method::GET,
            None,
            "/bucket",
            "prefix=%FF",
            &HeaderMap::new(),
            None
        )
        .unwrap_err()
        .code(),
        S3ErrorCode::InvalidURI
    );
}

#[test]
fn virtual_host_style() {
    let vroute = |host: &str, path: &str, query: &str, method: Method| {
        route(
            &method,
            Some(host),
            path,
            query,
            &HeaderMap::new(),
            Some("s3.example.com"),
        )
    };
    let endpoint = vroute("my.bucket.s3.example.com:9000", "/a//b+c", "", Method::GET).unwrap();
    assert_eq!(
        endpoint,
        Endpoint::GetObject {
            object: obj("/my.bucket/a//b+c")
        }
    );

    let endpoint = vroute("Bucket.S3.Example.COM", "/", "list-type=2", Method::GET).unwrap();
    assert_eq!(endpoint, Endpoint::ListObjectsV2 { bucket: bucket() });

    // The root domain itself, another host or an IP address: path style.
    for host in [
        "s3.example.com",
        "s3.example.com:80",
        "127.0.0.1:9000",
        "[::1]:9000",
        "other.org",
    ] {
        let endpoint = vroute(host, "/bkt/k", "", Method::GET).unwrap();
        assert_eq!(
            endpoint,
            Endpoint::GetObject {
                object: obj("/bkt/k")
            },
            "{host}"
        );
    }
    let endpoint = vroute("s3.example.com", "/", "", Method::GET).unwrap();
    assert_eq!(endpoint, Endpoint::ListBuckets);
    // A host that merely ends like the root domain is not a virtual host.
    let endpoint = vroute("xs3.example.com", "/bkt", "", Method::GET).unwrap();
    assert_eq!(names(&endpoint), (Some("bkt"), None));
    // A virtual-host bucket must be a valid name.
    assert_eq!(
        vroute("bad_name.s3.example.com", "/k", "", Method::GET)
            .unwrap_err()
            .code(),
        S3ErrorCode::NoSuchBucket
    );
    // With virtual-host style, the whole path is the key, first segment included.
    let endpoint = vroute("bkt.s3.example.com", "/bkt/k", "", Method::PUT).unwrap();
    assert_eq!(names(&endpoint), (Some("bkt"), Some("bkt/k")));
    // No Host header, or no root domain configured: path style.
    let routed = route(
        &Method::GET,
        None,
        "/bkt/k",
        "",
        &HeaderMap::new(),
        Some("s3.example.com"),
    );
    assert_eq!(names(&routed.unwrap()).0, Some("bkt"));
}

#[test]
fn every_endpoint_has_a_name() {
    let names = [
        ep(Method::GET, "/").name(),
        ep(Method::PUT, "/bucket").name(),
        ep(Method::POST, "/bucket?delete").name(),
        ep(Method::PUT, "/bucket/k?partNumber=1&uploadId=u").name(),
        ep(Method::GET, "/bucket/k?tagging").name(),
    ];
    assert_eq!(
        names,
        [
            "ListBuckets",
            "CreateBucket",
            "DeleteObjects",
            "UploadPart",
            "GetObjectTagging"
        ]
    );
}

#[test]
fn not_implemented_operations_carry_their_bucket() {
    // The grant check needs the bucket even for operations dfs refuses.
    for target in ["/bucket", "/bucket/k?tagging"] {
        let method = if target == "/bucket" {
            Method::POST
        } else {
            Method::GET
        };
        assert_eq!(ep(method, target).bucket(), Some(&bucket()));
    }
    assert_eq!(ep(Method::GET, "/").bucket(), None);
}

proptest! {
    /// Any key of 1..=1024 bytes, percent-encoded byte by byte, routes back to itself verbatim;
    /// one byte more is KeyTooLongError.
    #[test]
    fn every_encoded_key_routes_verbatim(key in "\\PC{1,300}") {
        let encoded: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
        let path = format!("/bucket/{encoded}");
        let routed = route(&Method::PUT, None, &path, "", &HeaderMap::new(), None);
        if key.len() <= MAX_KEY_BYTES {
            let endpoint = routed.unwrap();
            prop_assert_eq!(names(&endpoint), (Some("bucket"), Some(key.as_str())));
        } else {
            prop_assert_eq!(routed.unwrap_err().code(), S3ErrorCode::KeyTooLongError);
        }
    }
}

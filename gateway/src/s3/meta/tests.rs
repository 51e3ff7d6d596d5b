//! Which request headers an object keeps, and how they come back with overrides.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn keeps_stored_headers_and_user_metadata_only() {
    let request = headers(&[
        ("Content-Type", "text/plain"),
        ("Cache-Control", "no-cache"),
        ("Content-Disposition", "attachment; filename=\"a.txt\""),
        ("Content-Encoding", "aws-chunked,gzip"),
        ("Content-Language", "fr"),
        ("Expires", "Thu, 01 Dec 1994 16:00:00 GMT"),
        ("X-Amz-Meta-Color", "Blue"),
        ("x-amz-meta-multi", "a"),
        ("x-amz-meta-multi", "b"),
        ("Authorization", "AWS4-HMAC-SHA256 ..."),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("Content-Length", "12"),
        ("x-amz-checksum-crc32", "QU+jOQ=="),
    ]);
    let object = ObjectMeta::from_request(&request).unwrap();
    assert_eq!(object.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        object.meta,
        meta(&[
            ("cache-control", "no-cache"),
            ("content-disposition", "attachment; filename=\"a.txt\""),
            ("content-encoding", "gzip"),
            ("content-language", "fr"),
            ("expires", "Thu, 01 Dec 1994 16:00:00 GMT"),
            ("x-amz-meta-color", "Blue"),
            ("x-amz-meta-multi", "a,b"),
        ])
    );
}

#[test]
fn aws_chunked_alone_is_not_a_content_encoding() {
    let object =
        ObjectMeta::from_request(&headers(&[("content-encoding", "aws-chunked")])).unwrap();
    assert!(object.meta.is_empty());
    assert_eq!(object.content_type, None);
}

#[test]
fn user_metadata_is_limited_to_2_kib() {
    let fits = "v".repeat(MAX_USER_META_BYTES - 1);
    assert!(ObjectMeta::from_request(&headers(&[("x-amz-meta-k", &fits)])).is_ok());
    let too_much = "v".repeat(MAX_USER_META_BYTES);
    let err = ObjectMeta::from_request(&headers(&[("x-amz-meta-k", &too_much)])).unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::MetadataTooLarge);
}

#[test]
fn checksum_is_typed_and_read_back() {
    let crc = auth::Checksum::parse_base64(ChecksumAlgorithm::Crc32, "QU+jOQ==").unwrap();
    let object = ObjectMeta::default().with_checksum(Some(&crc));
    assert!(object.meta.is_empty(), "the checksum is no metadata");
    let typed = object.checksum.clone().unwrap();
    assert_eq!(
        typed,
        Checksum::new(
            ChecksumAlgorithm::Crc32,
            ChecksumType::FullObject,
            "QU+jOQ=="
        )
        .unwrap()
    );
    let xml = checksums_xml(object.checksum.as_ref());
    assert_eq!(xml.crc32.as_deref(), Some("QU+jOQ=="));
    assert!(xml.sha256.is_none());
    assert!(checksums_xml(None).is_empty());
}

#[test]
fn content_type_defaults_to_binary_octet_stream() {
    let mut out = HeaderMap::new();
    write_object_headers(&mut out, &ObjectMeta::default(), &Query::default(), false).unwrap();
    assert_eq!(out["content-type"], "binary/octet-stream");
    let typed = ObjectMeta {
        content_type: Some("image/png".into()),
        ..ObjectMeta::default()
    };
    let mut out = HeaderMap::new();
    write_object_headers(&mut out, &typed, &Query::default(), false).unwrap();
    assert_eq!(out["content-type"], "image/png");
}

#[test]
fn response_headers_and_overrides() {
    let object = ObjectMeta {
        content_type: Some("text/plain".into()),
        meta: meta(&[
            ("cache-control", "no-cache"),
            ("content-language", "fr"),
            ("x-amz-meta-color", "blue"),
            ("x-dfs-internal", "never sent"),
        ]),
        checksum: Checksum::new(
            ChecksumAlgorithm::Crc32,
            ChecksumType::FullObject,
            "QU+jOQ==",
        ),
    };
    let query = Query::parse(
        "response-content-type=application%2Fjson&response-cache-control=max-age%3D60\
         &response-content-disposition=inline&response-expires=0",
    )
    .unwrap();
    let mut out = HeaderMap::new();
    write_object_headers(&mut out, &object, &query, false).unwrap();
    assert_eq!(out["content-type"], "application/json");
    assert_eq!(out["cache-control"], "max-age=60");
    assert_eq!(out["content-language"], "fr");
    assert_eq!(out["content-disposition"], "inline");
    assert_eq!(out["expires"], "0");
    assert_eq!(out["x-amz-meta-color"], "blue");
    assert!(out.get("x-dfs-internal").is_none());
    assert!(
        out.get("x-amz-checksum-crc32").is_none(),
        "only with the checksum mode"
    );

    let mut out = HeaderMap::new();
    write_object_headers(&mut out, &object, &Query::default(), true).unwrap();
    assert_eq!(out["x-amz-checksum-crc32"], "QU+jOQ==");
    assert_eq!(out["x-amz-checksum-type"], "FULL_OBJECT");
    assert_eq!(out["content-type"], "text/plain");
    assert_eq!(out["cache-control"], "no-cache");

    let bad = Query::parse("response-content-type=a%0Ab").unwrap();
    let err = write_object_headers(&mut HeaderMap::new(), &object, &bad, false).unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::InvalidArgument);
}

#[test]
fn writes_asking_for_what_dfs_does_not_do_are_refused() {
    assert!(check_write_headers(&headers(&[("content-type", "text/plain")])).is_ok());
    assert!(check_write_headers(&headers(&[("x-amz-acl", "private")])).is_ok());
    assert!(check_write_headers(&headers(&[("x-amz-storage-class", "STANDARD")])).is_ok());
    for (name, value) in [
        ("x-amz-acl", "public-read"),
        (
            "x-amz-grant-read",
            "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
        ),
        ("x-amz-server-side-encryption", "AES256"),
        ("x-amz-tagging", "a=b"),
        ("x-amz-object-lock-mode", "GOVERNANCE"),
    ] {
        let err = check_write_headers(&headers(&[(name, value)])).unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::NotImplemented, "{name}");
    }
    let err = check_write_headers(&headers(&[("x-amz-storage-class", "GLACIER")])).unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::InvalidStorageClass);
}

#[test]
fn only_the_null_version_exists() {
    assert!(check_version_id(&Query::default()).is_ok());
    assert!(check_version_id(&Query::parse("versionId=null").unwrap()).is_ok());
    let err =
        check_version_id(&Query::parse("versionId=3HL4kqtJlcpXroDTDmJ").unwrap()).unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::NoSuchVersion);
}

#[test]
fn composite_checksums_are_reported_as_such() {
    let mut out = HeaderMap::new();
    let composite = Checksum::new(
        ChecksumAlgorithm::Crc32c,
        ChecksumType::Composite,
        "yZRlqg==-3",
    );
    add_checksum_headers(&mut out, composite.as_ref());
    assert_eq!(out["x-amz-checksum-crc32c"], "yZRlqg==-3");
    assert_eq!(out["x-amz-checksum-type"], "COMPOSITE");
    let mut out = HeaderMap::new();
    let full = Checksum::new(
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumType::FullObject,
        "AAAAAAAAAAA=",
    );
    add_checksum_headers(&mut out, full.as_ref());
    assert_eq!(out["x-amz-checksum-type"], "FULL_OBJECT");
}

//! Tests of the checksum parsers and hashers, with the catalogue check values.

use super::*;

fn checksum_of(algorithm: ChecksumAlgorithm, pieces: &[&[u8]]) -> Checksum {
    let mut hasher = ChecksumHasher::new(algorithm);
    for piece in pieces {
        hasher.update(piece);
    }
    hasher.finish()
}

#[test]
fn check_values_of_123456789() {
    // The catalogue check values (CRC-32/ISO-HDLC, CRC-32/ISCSI, CRC-64/NVME) and the SHA
    // digests of "123456789", with the base64 forms S3 would send.
    let cases = [
        (ChecksumAlgorithm::Crc32, "cbf43926", "y/Q5Jg=="),
        (ChecksumAlgorithm::Crc32c, "e3069283", "4waSgw=="),
        (
            ChecksumAlgorithm::Crc64Nvme,
            "ae8b14860a799888",
            "rosUhgp5mIg=",
        ),
        (
            ChecksumAlgorithm::Sha1,
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
            "98O8HYCOBHMq32eZZczDTKeuNEE=",
        ),
        (
            ChecksumAlgorithm::Sha256,
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
            "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
        ),
    ];
    for (algorithm, hex_digest, b64) in cases {
        // Split unevenly to exercise the streaming path.
        let c = checksum_of(algorithm, &[b"1", b"2345", b"", b"6789"]);
        assert_eq!(hex::encode(c.bytes()), hex_digest, "{algorithm:?}");
        assert_eq!(c.to_base64(), b64, "{algorithm:?}");
        assert_eq!(Checksum::parse_base64(algorithm, b64), Ok(c));
    }
}

#[test]
fn crc32c_of_the_aws_trailer_example() {
    // "Signature calculations for trailing headers": 66560 bytes of 'a' have the trailer
    // x-amz-checksum-crc32c:sOO8/Q==.
    let body = vec![b'a'; 66_560];
    let c = checksum_of(
        ChecksumAlgorithm::Crc32c,
        &[&body[..65_536], &body[65_536..]],
    );
    assert_eq!(c.to_base64(), "sOO8/Q==");
}

#[test]
fn names_parse_in_any_case() {
    for algorithm in ChecksumAlgorithm::ALL {
        assert_eq!(
            parse_algorithm(&algorithm.name().to_lowercase()),
            Ok(algorithm)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name(&algorithm.header_name().to_uppercase()),
            Some(algorithm)
        );
    }
    assert!(parse_algorithm("MD5").is_err());
    for not_a_value in [
        "x-amz-checksum-algorithm",
        "x-amz-checksum-type",
        "x-amz-checksum-mode",
    ] {
        assert_eq!(ChecksumAlgorithm::from_header_name(not_a_value), None);
    }
}

#[test]
fn malformed_values_are_invalid_requests() {
    for (algorithm, bad) in [
        (ChecksumAlgorithm::Crc32, "y/Q5"),
        (ChecksumAlgorithm::Crc32, "y/Q5Jg"),
        (ChecksumAlgorithm::Crc32, "y/Q5Jg==="),
        (ChecksumAlgorithm::Crc32, "y/Q5Jgaa"),
        (ChecksumAlgorithm::Crc32c, "not base64!"),
        (ChecksumAlgorithm::Sha256, "y/Q5Jg=="),
        (ChecksumAlgorithm::Sha256, &"A".repeat(10_000)),
    ] {
        assert!(
            matches!(
                Checksum::parse_base64(algorithm, bad),
                Err(AuthError::InvalidRequest(_))
            ),
            "{algorithm:?} {bad:?}"
        );
    }
}

#[test]
fn content_md5() {
    // MD5 of the empty string, base64.
    let md5 = parse_content_md5("1B2M2Y8AsgTpgAmY7PhCfg==").unwrap();
    assert_eq!(hex::encode(md5), "d41d8cd98f00b204e9800998ecf8427e");
    for bad in [
        "",
        "1B2M2Y8AsgTpgAmY7PhCfg",
        "1B2M2Y8AsgTpgAmY7PhCfg=",
        "1B2M2Y8AsgTpgAmY7PhCfgAA",
        "y/Q5Jg==",
        "1B2M2Y8AsgTpgAmY7PhC!g==",
    ] {
        assert!(
            matches!(parse_content_md5(bad), Err(AuthError::InvalidDigest(_))),
            "{bad:?}"
        );
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, value.parse().unwrap());
    }
    map
}

#[test]
fn expected_checksums_from_headers() {
    let crc = Checksum::parse_base64(ChecksumAlgorithm::Crc32, "y/Q5Jg==").unwrap();
    let expected = ExpectedChecksums::from_headers(&headers(&[
        ("x-amz-checksum-crc32", "y/Q5Jg=="),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("x-amz-checksum-algorithm", "CRC32"),
    ]))
    .unwrap();
    assert_eq!(expected.checksum, Some(ChecksumSource::Header(crc)));
    assert!(expected.content_md5.is_some());
    assert_eq!(expected.verify_checksum(Some(&crc), &[]), Ok(Some(crc)));
    let other = checksum_of(ChecksumAlgorithm::Crc32, &[b"x"]);
    assert!(matches!(
        expected.verify_checksum(Some(&other), &[]),
        Err(AuthError::BadDigest(_))
    ));
    assert!(matches!(
        expected.verify_checksum(None, &[]),
        Err(AuthError::BadDigest(_))
    ));
    assert!(matches!(
        expected.verify_md5(&[0; 16]),
        Err(AuthError::BadDigest(_))
    ));

    let trailer = ExpectedChecksums::from_headers(&headers(&[
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
        ("x-amz-sdk-checksum-algorithm", "crc32c"),
    ]))
    .unwrap();
    assert_eq!(
        trailer.checksum,
        Some(ChecksumSource::Trailer(ChecksumAlgorithm::Crc32c))
    );
    let mut hasher = trailer.hasher().unwrap();
    hasher.update(&vec![b'a'; 66_560]);
    let computed = hasher.finish();
    let trailers = [("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())];
    assert_eq!(
        trailer.verify_checksum(Some(&computed), &trailers),
        Ok(Some(computed))
    );
    assert!(matches!(
        trailer.verify_checksum(Some(&computed), &[]),
        Err(AuthError::MalformedTrailer(_))
    ));

    assert_eq!(
        ExpectedChecksums::from_headers(&HeaderMap::new()),
        Ok(ExpectedChecksums::default())
    );
    assert_eq!(
        ExpectedChecksums::default().verify_checksum(None, &[]),
        Ok(None)
    );
}

#[test]
fn inconsistent_checksum_headers_are_refused() {
    for (pairs, code) in [
        (
            vec![
                ("x-amz-checksum-crc32", "y/Q5Jg=="),
                ("x-amz-checksum-crc32c", "4waSgw=="),
            ],
            "InvalidRequest",
        ),
        (
            vec![
                ("x-amz-checksum-crc32", "y/Q5Jg=="),
                ("x-amz-checksum-crc32", "y/Q5Jg=="),
            ],
            "InvalidRequest",
        ),
        (
            vec![
                ("x-amz-checksum-crc32", "y/Q5Jg=="),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
            "InvalidRequest",
        ),
        (vec![("x-amz-trailer", "x-amz-meta-foo")], "InvalidRequest"),
        (
            vec![("x-amz-sdk-checksum-algorithm", "CRC32")],
            "InvalidRequest",
        ),
        (
            vec![
                ("x-amz-sdk-checksum-algorithm", "MD5"),
                ("x-amz-checksum-crc32", "y/Q5Jg=="),
            ],
            "InvalidRequest",
        ),
        (
            vec![
                ("x-amz-sdk-checksum-algorithm", "SHA1"),
                ("x-amz-checksum-crc32", "y/Q5Jg=="),
            ],
            "BadDigest",
        ),
        (
            vec![("x-amz-checksum-sha256", "y/Q5Jg==")],
            "InvalidRequest",
        ),
        (vec![("content-md5", "nope")], "InvalidDigest"),
    ] {
        let result = ExpectedChecksums::from_headers(&headers(&pairs));
        assert_eq!(result.map_err(|e| e.code()), Err(code), "{pairs:?}");
    }
}

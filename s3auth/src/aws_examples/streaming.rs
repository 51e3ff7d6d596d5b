//! Amazon S3 API Reference, "Signature Calculations for the Authorization Header: Transferring
//! Payload in Multiple Chunks (Chunked Upload)" and "Signature calculations for trailing headers
//! (chunked uploads)": PUT examplebucket/chunkObject.txt, 66560 bytes of 'a' in chunks of 65536,
//! 1024 and 0 bytes.

use super::*;

/// The documented body: each chunk with its documented signature, then `tail`.
fn documented_body(signatures: [&str; 3], tail: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (size, sig) in [
        (65_536usize, signatures[0]),
        (1024, signatures[1]),
        (0, signatures[2]),
    ] {
        body.extend_from_slice(format!("{size:x};chunk-signature={sig}\r\n").as_bytes());
        body.resize(body.len() + size, b'a');
        if size > 0 {
            body.extend_from_slice(b"\r\n");
        }
    }
    body.extend_from_slice(tail);
    body
}

/// A decoded payload and its trailers.
type Decoded = (Vec<u8>, Vec<(String, String)>);

/// Decodes `body` fed in pieces of `piece` bytes, returning the payload.
fn decode(mut decoder: ChunkedDecoder, body: &[u8], piece: usize) -> Result<Decoded, AuthError> {
    let mut payload = Vec::new();
    let mut ranges = Vec::new();
    for part in body.chunks(piece) {
        ranges.clear();
        decoder.feed(part, &mut ranges)?;
        for range in &ranges {
            payload.extend_from_slice(&part[range.clone()]);
        }
    }
    let summary = decoder.finish()?;
    assert_eq!(summary.decoded_length, payload.len() as u64);
    Ok((payload, summary.trailers))
}

#[test]
fn s3_streaming_upload_example() {
    let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    let auth = authorization(
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
        seed,
    );
    let headers = header_map(&[
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("Authorization", &auth),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", "66824"),
    ]);
    let verified = verify_s3("PUT", "/examplebucket/chunkObject.txt", &headers, S3_NOW).unwrap();
    assert_eq!(verified.payload, ContentSha256::StreamingSigned);

    let signatures = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    let body = documented_body(signatures, b"\r\n");
    assert_eq!(body.len(), 66_824, "the documented Content-Length");
    for piece in [1, 7, 64, 4096, 65_536, body.len()] {
        let BodyCheck::Chunked(decoder) = verified.body_check(&headers).unwrap() else {
            panic!("a streaming payload is decoded");
        };
        let (payload, trailers) = decode(*decoder, &body, piece).unwrap();
        assert_eq!(payload, vec![b'a'; 66_560]);
        assert!(trailers.is_empty());
    }

    // The first chunk's string to sign, as the example shows it.
    assert_eq!(
        chunk_string_to_sign(
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            seed,
            &sha256_hex(vec![b'a'; 65_536])
        ),
        "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a"
    );

    // A signature out of the chain is refused, at the chunk it belongs to.
    let mut swapped = signatures;
    swapped.swap(0, 1);
    let decoder = ChunkedDecoder::for_mode(
        ContentSha256::StreamingSigned,
        Some(verified.chunk_signer()),
        Some(66_560),
    )
    .unwrap();
    assert!(matches!(
        decode(decoder, &documented_body(swapped, b"\r\n"), 4096),
        Err(AuthError::SignatureDoesNotMatch(_))
    ));
    // So is a flipped data byte.
    let mut corrupt = body.clone();
    corrupt[1000] = b'b';
    let decoder = ChunkedDecoder::for_mode(
        ContentSha256::StreamingSigned,
        Some(verified.chunk_signer()),
        Some(66_560),
    )
    .unwrap();
    assert!(matches!(
        decode(decoder, &corrupt, 4096),
        Err(AuthError::SignatureDoesNotMatch(_))
    ));
}

#[test]
fn s3_streaming_upload_with_trailer_example() {
    let seed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
    let auth = authorization(
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
        seed,
    );
    let headers = header_map(&[
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("Authorization", &auth),
        (
            "x-amz-content-sha256",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        ),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
    ]);
    let verified = verify_s3("PUT", "/examplebucket/chunkObject.txt", &headers, S3_NOW).unwrap();
    assert_eq!(verified.payload, ContentSha256::StreamingSignedTrailer);
    let expected = ExpectedChecksums::from_headers(&headers).unwrap();

    let signatures = [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ];
    let trailer = b"x-amz-checksum-crc32c:sOO8/Q==\r\n\
        x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
    let body = documented_body(signatures, trailer);
    for piece in [1, 13, 4096, body.len()] {
        let BodyCheck::Chunked(decoder) = verified.body_check(&headers).unwrap() else {
            panic!("a streaming payload is decoded");
        };
        let (payload, trailers) = decode(*decoder, &body, piece).unwrap();
        assert_eq!(payload, vec![b'a'; 66_560]);
        assert_eq!(
            trailers,
            [("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
        );
        // The trailing checksum is then compared with the one computed over the payload.
        let mut hasher = expected.hasher().unwrap();
        hasher.update(&payload);
        let computed = hasher.finish();
        assert_eq!(computed.algorithm(), ChecksumAlgorithm::Crc32c);
        assert_eq!(
            expected.verify_checksum(Some(&computed), &trailers),
            Ok(Some(computed))
        );
    }

    // The trailer string to sign, as the example shows it.
    assert_eq!(
        trailer_string_to_sign(
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            signatures[2],
            &sha256_hex("x-amz-checksum-crc32c:sOO8/Q==\n")
        ),
        "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\n\
         1e376db7e1a34a8ef1c4bcee131a2d60a1cb62503747488624e10995f448d774"
    );

    // A changed trailer value fails the trailer signature.
    let forged_trailer = std::str::from_utf8(trailer)
        .unwrap()
        .replace("sOO8/Q==", "sOO8/R==");
    let forged = documented_body(signatures, forged_trailer.as_bytes());
    let signer: ChunkSigner = verified.chunk_signer();
    let decoder = ChunkedDecoder::for_mode(
        ContentSha256::StreamingSignedTrailer,
        Some(signer),
        Some(66_560),
    )
    .unwrap();
    assert!(matches!(
        decode(decoder, &forged, 4096),
        Err(AuthError::SignatureDoesNotMatch(_))
    ));
    // A missing trailer signature is refused.
    let unsigned_trailer = documented_body(signatures, b"x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
    let decoder = ChunkedDecoder::for_mode(
        ContentSha256::StreamingSignedTrailer,
        Some(verified.chunk_signer()),
        Some(66_560),
    )
    .unwrap();
    assert!(matches!(
        decode(decoder, &unsigned_trailer, 4096),
        Err(AuthError::MalformedTrailer(_))
    ));
}

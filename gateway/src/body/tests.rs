//! The body pipeline without a cluster: digests against known values, every check at the end
//! of the body, aws-chunked decoding, and the sinks.

use super::*;
use crate::auth::chunked::ChunkedDecoder;
use http::HeaderMap;
use http_body_util::StreamBody;
use hyper::body::Frame;
use std::convert::Infallible;

const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";
const FOX_MD5: &str = "9e107d9d372bb6826bd81d3542a419d6";
const FOX_SHA256: &str = "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592";

type TestBody =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// A body delivering `pieces` as separate frames.
fn body_of(pieces: &[&[u8]]) -> TestBody {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = pieces
        .iter()
        .map(|p| Ok(Frame::data(Bytes::copy_from_slice(p))))
        .collect();
    StreamBody::new(futures_util::stream::iter(frames))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

fn sha256_of(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).unwrap();
    out
}

async fn run(
    pieces: &[&[u8]],
    check: BodyCheck,
    header_pairs: &[(&str, &str)],
) -> (S3Result<BodyOutcome>, Vec<u8>) {
    let expected = ExpectedChecksums::from_headers(&headers(header_pairs)).unwrap();
    let mut sink = BufferSink::new(1 << 20);
    let received = AtomicU64::new(0);
    let result = stream_body(
        body_of(pieces),
        check,
        &expected,
        1 << 20,
        &received,
        &mut sink,
    )
    .await;
    (result, sink.buf.to_vec())
}

#[test]
fn hasher_matches_known_digests_whatever_the_pieces() {
    let algorithms = [
        (ChecksumAlgorithm::Crc32, "QU+jOQ=="),
        (ChecksumAlgorithm::Sha1, "L9ThxnotKPzthJ7hu3bnORuT6xI="),
        (
            ChecksumAlgorithm::Sha256,
            "16j7swfXgJRpypq8sAguT41WUeRtPNt2LQLQvzfJ5ZI=",
        ),
    ];
    for (algorithm, base64) in algorithms {
        for split in [0, 1, 7, FOX.len()] {
            let mut hasher = PayloadHasher::new(true, Some(algorithm));
            let (a, b) = FOX.split_at(split);
            hasher.update(a);
            hasher.update(b);
            let digests = hasher.finish();
            assert_eq!(hex::encode(digests.md5), FOX_MD5);
            assert_eq!(hex::encode(digests.sha256.unwrap()), FOX_SHA256);
            assert_eq!(
                digests.checksum.unwrap().to_base64(),
                base64,
                "{algorithm:?}"
            );
            assert_eq!(digests.len, FOX.len() as u64);
        }
    }
    let nothing = PayloadHasher::new(false, None).finish();
    assert_eq!(hex::encode(nothing.md5), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(nothing.sha256, None);
    assert_eq!(nothing.checksum, None);
}

#[tokio::test]
async fn unsigned_body_streams_to_the_sink_with_its_etag() {
    let (result, data) = run(
        &[b"The quick ", b"", b"brown fox jumps over the lazy dog"],
        BodyCheck::Unsigned,
        &[],
    )
    .await;
    let outcome = result.unwrap();
    assert_eq!(data, FOX);
    assert_eq!(outcome.len, FOX.len() as u64);
    assert_eq!(outcome.etag(), format!("\"{FOX_MD5}\""));
    assert_eq!(outcome.checksum, None);
}

#[tokio::test]
async fn payload_sha256_is_verified_at_the_end() {
    let good = BodyCheck::Sha256(sha256_of(FOX_SHA256));
    let (result, _) = run(&[FOX], good, &[]).await;
    assert!(result.is_ok());
    let wrong = BodyCheck::Sha256(sha256_of(&"0".repeat(64)));
    let (result, _) = run(&[FOX], wrong, &[]).await;
    assert_eq!(
        result.unwrap_err().code(),
        S3ErrorCode::XAmzContentSHA256Mismatch
    );
}

#[tokio::test]
async fn content_md5_and_checksum_headers_are_verified() {
    let md5 = [("content-md5", "nhB9nTcrtoJr2B01QqQZ1g==")];
    assert!(run(&[FOX], BodyCheck::Unsigned, &md5).await.0.is_ok());
    let bad_md5 = [("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")];
    let (result, _) = run(&[FOX], BodyCheck::Unsigned, &bad_md5).await;
    assert_eq!(result.unwrap_err().code(), S3ErrorCode::BadDigest);

    let crc = [("x-amz-checksum-crc32", "QU+jOQ==")];
    let outcome = run(&[FOX], BodyCheck::Unsigned, &crc).await.0.unwrap();
    assert_eq!(outcome.checksum.unwrap().to_base64(), "QU+jOQ==");
    let bad_crc = [("x-amz-checksum-crc32", "AAAAAA==")];
    let (result, _) = run(&[FOX], BodyCheck::Unsigned, &bad_crc).await;
    assert_eq!(result.unwrap_err().code(), S3ErrorCode::BadDigest);
}

/// An aws-chunked body without signatures (STREAMING-UNSIGNED-PAYLOAD-TRAILER), split so that
/// frame boundaries fall inside size lines and data.
fn unsigned_chunked(trailer: &str) -> Vec<u8> {
    let mut body = Vec::new();
    let (a, b) = FOX.split_at(20);
    for part in [a, b] {
        body.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0\r\n{trailer}\r\n\r\n").as_bytes());
    body
}

#[tokio::test]
async fn aws_chunked_framing_is_dropped_and_the_trailer_checked() {
    let trailer_headers = [("x-amz-trailer", "x-amz-checksum-crc32")];
    let encoded = unsigned_chunked("x-amz-checksum-crc32:QU+jOQ==");
    let pieces: Vec<&[u8]> = encoded.chunks(5).collect();
    let decoder = ChunkedDecoder::new(None, true, Some(FOX.len() as u64));
    let (result, data) = run(
        &pieces,
        BodyCheck::Chunked(Box::new(decoder)),
        &trailer_headers,
    )
    .await;
    let outcome = result.unwrap();
    assert_eq!(data, FOX, "the framing must not reach the sink");
    assert_eq!(outcome.etag(), format!("\"{FOX_MD5}\""));
    assert_eq!(outcome.checksum.unwrap().to_base64(), "QU+jOQ==");

    let wrong = unsigned_chunked("x-amz-checksum-crc32:AAAAAA==");
    let decoder = ChunkedDecoder::new(None, true, Some(FOX.len() as u64));
    let (result, _) = run(
        &[&wrong],
        BodyCheck::Chunked(Box::new(decoder)),
        &trailer_headers,
    )
    .await;
    assert_eq!(result.unwrap_err().code(), S3ErrorCode::BadDigest);
}

#[tokio::test]
async fn a_short_aws_chunked_body_is_refused() {
    let encoded = unsigned_chunked("x-amz-checksum-crc32:QU+jOQ==");
    let cut = &encoded[..encoded.len() - 30];
    let decoder = ChunkedDecoder::new(None, true, Some(FOX.len() as u64));
    let (result, _) = run(&[cut], BodyCheck::Chunked(Box::new(decoder)), &[]).await;
    assert!(result.is_err());
}

#[tokio::test]
async fn limits() {
    let expected = ExpectedChecksums::default();
    let received = AtomicU64::new(0);
    let mut sink = BufferSink::new(1 << 20);
    let err = stream_body(
        body_of(&[FOX]),
        BodyCheck::Unsigned,
        &expected,
        10,
        &received,
        &mut sink,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::EntityTooLarge);

    let mut small = BufferSink::new(10);
    let err = stream_body(
        body_of(&[FOX]),
        BodyCheck::Unsigned,
        &expected,
        1 << 20,
        &received,
        &mut small,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), S3ErrorCode::MaxMessageLengthExceeded);
}

#[test]
fn a_body_trickled_a_byte_a_second_is_cut_off() {
    let mut pace = Pace::default();
    let mut total = 0;
    let err = (0..600)
        .find_map(|_| {
            total += 1;
            pace.record(Duration::from_secs(1), 1, total).err()
        })
        .expect("cut off");
    assert_eq!(err.code(), S3ErrorCode::RequestTimeout);
    // Within the first window of waiting.
    assert!(total <= 60, "{total}");
}

#[test]
fn a_slow_but_steady_body_is_taken() {
    // 16 KiB every 10 s of waiting (about 1.6 KiB/s) for 1,000 s; time spent on the cluster
    // between the waits does not count.
    let mut pace = Pace::default();
    for i in 0..100 {
        pace.record(Duration::from_secs(10), 16 << 10, i * (16 << 10))
            .unwrap();
    }
}

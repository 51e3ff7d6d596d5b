//! Tests of the aws-chunked decoder on bodies made by a small encoder below (the AWS worked
//! examples are in `auth/aws_examples.rs`): every split point, random garbage, random
//! mutations of signed bodies, and each framing error.

use super::*;
use crate::sigv4::{signing_key, EMPTY_SHA256};
use proptest::prelude::*;

const DATETIME: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

fn key() -> SigningKey {
    signing_key("test secret", "20130524", "us-east-1", "s3")
}

fn signer() -> ChunkSigner {
    ChunkSigner::new(key(), DATETIME, SCOPE, SEED)
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Signed,
    SignedTrailer,
    UnsignedTrailer,
}

impl Mode {
    fn signed(self) -> bool {
        !matches!(self, Mode::UnsignedTrailer)
    }
    fn trailer(self) -> bool {
        !matches!(self, Mode::Signed)
    }
    fn decoder(self, expected: Option<u64>) -> ChunkedDecoder {
        ChunkedDecoder::new(self.signed().then(signer), self.trailer(), expected)
    }
}

/// Encodes `payload` in chunks of `chunk` bytes, signing each chunk (and the trailer) the way
/// an SDK does, independently of the decoder.
fn encode(mode: Mode, payload: &[u8], chunk: usize, trailers: &[(&str, &str)]) -> Vec<u8> {
    let key = key();
    let mut previous = SEED.to_owned();
    let mut body = Vec::new();
    let pieces: Vec<&[u8]> = payload.chunks(chunk.max(1)).chain([&[][..]]).collect();
    for piece in pieces {
        body.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
        if mode.signed() {
            let to_sign =
                chunk_string_to_sign(DATETIME, SCOPE, &previous, &crate::sigv4::sha256_hex(piece));
            previous = signature(&key, &to_sign);
            body.extend_from_slice(format!(";chunk-signature={previous}").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(piece);
        if !piece.is_empty() {
            body.extend_from_slice(b"\r\n");
        }
    }
    if mode.trailer() {
        let mut canonical = String::new();
        for (name, value) in trailers {
            body.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            canonical.push_str(&format!("{name}:{value}\n"));
        }
        if mode.signed() {
            let to_sign = trailer_string_to_sign(
                DATETIME,
                SCOPE,
                &previous,
                &crate::sigv4::sha256_hex(&canonical),
            );
            let sig = signature(&key, &to_sign);
            body.extend_from_slice(format!("{TRAILER_SIGNATURE}:{sig}\r\n").as_bytes());
        }
    }
    body.extend_from_slice(b"\r\n");
    body
}

/// Feeds `body` cut at `cuts` (sorted offsets), returning the payload and the summary.
fn decode_at(
    mut decoder: ChunkedDecoder,
    body: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, ChunkedSummary), AuthError> {
    let mut payload = Vec::new();
    let mut ranges = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&body.len()]) {
        let cut = cut.clamp(start, body.len());
        let part = &body[start..cut];
        ranges.clear();
        decoder.feed(part, &mut ranges)?;
        for range in &ranges {
            payload.extend_from_slice(&part[range.clone()]);
        }
        start = cut;
    }
    let summary = decoder.finish()?;
    Ok((payload, summary))
}

fn trailer_pairs() -> Vec<(String, String)> {
    vec![("x-amz-checksum-crc32".to_owned(), "y/Q5Jg==".to_owned())]
}

const TRAILERS: [(&str, &str); 1] = [("x-amz-checksum-crc32", "y/Q5Jg==")];

#[test]
fn every_two_way_split_and_byte_by_byte() {
    let payload: Vec<u8> = (0..150u8).collect();
    for mode in [Mode::Signed, Mode::SignedTrailer, Mode::UnsignedTrailer] {
        let body = encode(mode, &payload, 64, &TRAILERS);
        let expected_trailers = if mode.trailer() {
            trailer_pairs()
        } else {
            vec![]
        };
        for cut in 0..=body.len() {
            let (data, summary) = decode_at(mode.decoder(Some(150)), &body, &[cut]).unwrap();
            assert_eq!(data, payload, "{mode:?} cut {cut}");
            assert_eq!(summary.trailers, expected_trailers);
            assert_eq!(summary.chunks, 4);
            assert_eq!(summary.decoded_length, 150);
        }
        let every_byte: Vec<usize> = (1..body.len()).collect();
        let (data, _) = decode_at(mode.decoder(None), &body, &every_byte).unwrap();
        assert_eq!(data, payload);
    }
}

#[test]
fn empty_payload() {
    for mode in [Mode::Signed, Mode::SignedTrailer, Mode::UnsignedTrailer] {
        let body = encode(mode, b"", 10, &[]);
        let (data, summary) = decode_at(mode.decoder(Some(0)), &body, &[]).unwrap();
        assert!(data.is_empty());
        assert_eq!(summary.chunks, 1);
    }
    assert!(matches!(
        decode_at(Mode::Signed.decoder(None), b"", &[]),
        Err(AuthError::IncompleteBody(_))
    ));
}

#[test]
fn large_chunks_stream_in_bounded_memory() {
    // A 3 MiB chunk announced, fed in 64 KiB pieces: the decoder keeps no data, only hashes it.
    let payload = vec![7u8; 3 << 20];
    let body = encode(Mode::Signed, &payload, 3 << 20, &[]);
    let mut decoder = Mode::Signed.decoder(Some(3 << 20));
    let mut ranges = Vec::new();
    let mut total = 0;
    for part in body.chunks(64 << 10) {
        ranges.clear();
        decoder.feed(part, &mut ranges).unwrap();
        total += ranges.iter().map(|r| r.len()).sum::<usize>();
        assert!(decoder.line.capacity() <= MAX_LINE);
    }
    assert_eq!(total, 3 << 20);
    assert_eq!(decoder.finish().unwrap().decoded_length, 3 << 20);
}

#[test]
fn lax_but_unambiguous_endings_are_accepted() {
    let payload = b"hello world";
    // A blank line between the final chunk and the trailers, bare LF line ends, no final CRLF.
    for mode in [Mode::SignedTrailer, Mode::UnsignedTrailer] {
        let body = encode(mode, payload, 5, &TRAILERS);
        let text = String::from_utf8(body.clone()).unwrap();
        let final_chunk = text.find("x-amz-checksum-crc32").unwrap();
        let mut with_blank = body[..final_chunk].to_vec();
        with_blank.extend_from_slice(b"\r\n");
        with_blank.extend_from_slice(&body[final_chunk..]);
        let (head, tail) = text.split_at(final_chunk);
        let bare_lf = format!("{head}{}", tail.replace("\r\n", "\n"));
        let no_final_crlf = &body[..body.len() - 2];
        let no_crlf_at_all = &body[..body.len() - 4];
        for variant in [
            &with_blank[..],
            bare_lf.as_bytes(),
            no_final_crlf,
            no_crlf_at_all,
        ] {
            let (data, summary) = decode_at(mode.decoder(Some(11)), variant, &[]).unwrap();
            assert_eq!(data, payload);
            assert_eq!(summary.trailers, trailer_pairs());
        }
    }
    // Without trailer: the final CRLF may be missing, a blank line is the end.
    let body = encode(Mode::Signed, payload, 5, &[]);
    assert!(decode_at(Mode::Signed.decoder(Some(11)), &body[..body.len() - 2], &[]).is_ok());
    // An unsigned trailer body may carry no trailer at all.
    let body = encode(Mode::UnsignedTrailer, payload, 5, &[]);
    assert!(
        decode_at(Mode::UnsignedTrailer.decoder(Some(11)), &body, &[])
            .unwrap()
            .1
            .trailers
            .is_empty()
    );
}

fn code_of(mode: Mode, body: &[u8], expected: Option<u64>) -> &'static str {
    decode_at(mode.decoder(expected), body, &[])
        .map(|_| "ok")
        .unwrap_or_else(|e| e.code())
}

#[test]
fn framing_errors() {
    let sig = "0".repeat(64);
    let good = encode(Mode::Signed, b"abcdef", 3, &[]);
    let empty = encode(Mode::Signed, b"", 3, &[]);
    let text = String::from_utf8(good.clone()).unwrap();
    let cases: Vec<(Mode, Vec<u8>, Option<u64>, &str)> = vec![
        // Sizes: too many digits, not hex, empty, overflowing.
        (
            Mode::UnsignedTrailer,
            format!("{}3\r\nabc\r\n0\r\n\r\n", "0".repeat(20)).into_bytes(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::UnsignedTrailer,
            format!("{}3\r\nabc\r\n0\r\n\r\n", "0".repeat(19)).into_bytes(),
            None,
            "ok",
        ),
        (
            Mode::UnsignedTrailer,
            b"x3\r\nabc\r\n0\r\n\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::UnsignedTrailer,
            b"\r\nabc\r\n0\r\n\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::UnsignedTrailer,
            b"10000000000000000\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::UnsignedTrailer,
            b" 3\r\nabc\r\n0\r\n\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        // Line ends.
        (
            Mode::UnsignedTrailer,
            b"3\nabc\r\n0\r\n\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::UnsignedTrailer,
            b"3\r\nabcd\r\n0\r\n\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::UnsignedTrailer,
            b"3\r\nabc\n0\r\n\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::Signed,
            [&empty[..empty.len() - 2], b"x"].concat(),
            None,
            "InvalidRequest",
        ),
        // Extensions.
        (
            Mode::UnsignedTrailer,
            format!("3;chunk-signature={sig}\r\nabc\r\n0\r\n\r\n").into_bytes(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::Signed,
            b"3\r\nabc\r\n".to_vec(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::Signed,
            format!("3;chunk-signature={}\r\nabc\r\n", &sig[1..]).into_bytes(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::Signed,
            format!("3;chunk-signatur={sig}\r\nabc\r\n").into_bytes(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::Signed,
            format!("3;chunk-signature={sig}\r\nabc\r\n").into_bytes(),
            None,
            "SignatureDoesNotMatch",
        ),
        // Truncations.
        (Mode::Signed, good[..10].to_vec(), None, "IncompleteBody"),
        (
            Mode::Signed,
            good[..good.len() - 100].to_vec(),
            None,
            "IncompleteBody",
        ),
        (
            Mode::Signed,
            text.replacen("\r\n", "", 2).into_bytes(),
            None,
            "InvalidRequest",
        ),
        // Lengths against x-amz-decoded-content-length.
        (Mode::Signed, good.clone(), Some(6), "ok"),
        (Mode::Signed, good.clone(), Some(7), "IncompleteBody"),
        (Mode::Signed, good.clone(), Some(5), "InvalidRequest"),
        // Data after the end.
        (
            Mode::Signed,
            [&good[..], b"x"].concat(),
            None,
            "InvalidRequest",
        ),
        (
            Mode::UnsignedTrailer,
            b"0\r\n\r\nx".to_vec(),
            None,
            "MalformedTrailerError",
        ),
        (
            Mode::UnsignedTrailer,
            b"0\r\nx:1\r\n\r\nx".to_vec(),
            None,
            "InvalidRequest",
        ),
        // Trailers.
        (
            Mode::UnsignedTrailer,
            b"0\r\nno colon\r\n\r\n".to_vec(),
            None,
            "MalformedTrailerError",
        ),
        (
            Mode::UnsignedTrailer,
            b"0\r\n:value\r\n\r\n".to_vec(),
            None,
            "MalformedTrailerError",
        ),
        (
            Mode::UnsignedTrailer,
            format!("0\r\nx-amz-trailer-signature:{sig}\r\n\r\n").into_bytes(),
            None,
            "MalformedTrailerError",
        ),
        (
            Mode::UnsignedTrailer,
            b"0\r\n\xff:1\r\n\r\n".to_vec(),
            None,
            "MalformedTrailerError",
        ),
        (
            Mode::UnsignedTrailer,
            format!("0\r\n{}\r\n", "x-amz-meta-a:b\r\n".repeat(2000)).into_bytes(),
            None,
            "MalformedTrailerError",
        ),
        (
            Mode::UnsignedTrailer,
            format!("0\r\nx-amz-meta-a:{}\r\n\r\n", "b".repeat(MAX_LINE)).into_bytes(),
            None,
            "InvalidRequest",
        ),
    ];
    for (mode, body, expected, code) in cases {
        assert_eq!(
            code_of(mode, &body, expected),
            code,
            "{mode:?} {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    // A line that never ends is refused once it passes the limit, before the body does.
    let mut decoder = Mode::Signed.decoder(None);
    assert!(matches!(
        decoder.feed(&[b'1'; MAX_LINE + 1], &mut Vec::new()),
        Err(AuthError::InvalidRequest(_))
    ));
    // After an error the decoder stays failed.
    assert!(decoder.feed(b"0\r\n", &mut Vec::new()).is_err());
    assert!(decoder.finish().is_err());
}

#[test]
fn signed_trailer_errors() {
    let body = encode(Mode::SignedTrailer, b"abc", 3, &TRAILERS);
    let text = String::from_utf8(body).unwrap();
    let signature_line = text.find(TRAILER_SIGNATURE).unwrap();
    let without_signature = format!("{}\r\n", &text[..signature_line]);
    let after_signature = format!("{}x-amz-meta-late:1\r\n\r\n", &text[..text.len() - 2]);
    let bad_hex = text.replace(
        &format!("{TRAILER_SIGNATURE}:"),
        &format!("{TRAILER_SIGNATURE}:g"),
    );
    for (body, code) in [
        (without_signature, "MalformedTrailerError"),
        (after_signature, "MalformedTrailerError"),
        (bad_hex, "MalformedTrailerError"),
        (
            text.replace("y/Q5Jg==", "y/Q5Jh=="),
            "SignatureDoesNotMatch",
        ),
        (
            text.replace("x-amz-checksum-crc32:", "x-amz-checksum-crc32c:"),
            "SignatureDoesNotMatch",
        ),
    ] {
        assert_eq!(
            code_of(Mode::SignedTrailer, body.as_bytes(), Some(3)),
            code,
            "{body:?}"
        );
    }
}

#[test]
fn for_mode_checks_the_signer() {
    use crate::content_sha256::ContentSha256;
    assert!(ChunkedDecoder::for_mode(ContentSha256::StreamingSigned, None, None).is_err());
    assert!(ChunkedDecoder::for_mode(ContentSha256::Unsigned, Some(signer()), None).is_err());
    let unsigned = ChunkedDecoder::for_mode(
        ContentSha256::StreamingUnsignedTrailer,
        Some(signer()),
        None,
    )
    .unwrap();
    assert!(unsigned.signer.is_none() && unsigned.with_trailer);
    assert_eq!(EMPTY_SHA256.len(), 64);
}

fn mode_strategy() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Signed),
        Just(Mode::SignedTrailer),
        Just(Mode::UnsignedTrailer)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Any payload, chunking and split points decode to the same payload and trailers.
    #[test]
    fn any_split_decodes_the_same(
        mode in mode_strategy(),
        payload in proptest::collection::vec(any::<u8>(), 0..3000),
        chunk in 1usize..700,
        mut cuts in proptest::collection::vec(0usize..4000, 0..12),
    ) {
        let body = encode(mode, &payload, chunk, &TRAILERS);
        cuts.sort_unstable();
        let (data, summary) = decode_at(mode.decoder(Some(payload.len() as u64)), &body, &cuts).unwrap();
        prop_assert_eq!(data, payload);
        prop_assert_eq!(summary.trailers, if mode.trailer() { trailer_pairs() } else { vec![] });
    }

    /// Random bytes, split anywhere, never make the decoder panic.
    #[test]
    fn garbage_never_panics(
        mode in mode_strategy(),
        prefix in prop_oneof![Just(&b""[..]), Just(&b"10;chunk-signature="[..]), Just(&b"0\r\n"[..]), Just(&b"3\r\nabc\r\n0\r\n"[..])],
        garbage in proptest::collection::vec(any::<u8>(), 0..600),
        mut cuts in proptest::collection::vec(0usize..700, 0..8),
        expected in proptest::option::of(0u64..1000),
    ) {
        let body = [prefix, &garbage[..]].concat();
        cuts.sort_unstable();
        let _ = decode_at(mode.decoder(expected), &body, &cuts);
    }

    /// A signed body with one byte changed, inserted or removed is refused, or decodes to the
    /// very same payload and trailers (a change the signatures do not cover, such as the case
    /// of a hex digit or spaces around a trailer value).
    #[test]
    fn mutations_of_signed_bodies_are_caught(
        trailer in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 1..400),
        chunk in 1usize..150,
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        kind in 0u8..3,
        mut cuts in proptest::collection::vec(0usize..1000, 0..5),
    ) {
        let mode = if trailer { Mode::SignedTrailer } else { Mode::Signed };
        let mut body = encode(mode, &payload, chunk, &TRAILERS);
        let at = position.index(body.len());
        match kind {
            0 => body[at] = byte,
            1 => body.insert(at, byte),
            _ => { body.remove(at); }
        }
        cuts.sort_unstable();
        if let Ok((data, summary)) = decode_at(mode.decoder(None), &body, &cuts) {
            prop_assert_eq!(data, payload);
            prop_assert_eq!(summary.trailers, if trailer { trailer_pairs() } else { vec![] });
        }
    }
}

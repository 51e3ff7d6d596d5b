//! Tests of the multipart checksums: CRC combination against CRCs of the whole data, composite
//! formatting, and the creation rules.

use super::*;
use crate::auth::crc64nvme::Crc64Nvme;
use crate::error::S3ErrorCode;

/// Deterministic, irregular test data.
fn data(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn crc32(d: &[u8]) -> u64 {
    u64::from(crc32fast::hash(d))
}

fn crc32c(d: &[u8]) -> u64 {
    u64::from(crc32c::crc32c(d))
}

fn crc64(d: &[u8]) -> u64 {
    let mut h = Crc64Nvme::new();
    h.update(d);
    h.value()
}

/// A CRC function over whole data.
type CrcFn = fn(&[u8]) -> u64;

fn crcs() -> [(CrcSpec, CrcFn); 3] {
    [(CRC32, crc32), (CRC32C, crc32c), (CRC64NVME, crc64)]
}

#[test]
fn combine_matches_the_whole_data_crc_at_every_split() {
    let all = data(3000);
    for (spec, crc) in crcs() {
        for len in [0usize, 1, 2, 7, 8, 9, 64, 255, 1000, 3000] {
            let whole = crc(&all[..len]);
            for split in (0..=len).step_by(1.max(len / 37)).chain([len]) {
                let (a, b) = all[..len].split_at(split);
                let combined = spec.combine(crc(a), crc(b), b.len() as u64);
                assert_eq!(combined, whole, "{spec:?} len {len} split {split}");
            }
        }
    }
}

#[test]
fn combine_handles_large_lengths() {
    // 100 bytes then 4 GiB + 3 zero bytes: one combination with a length above 32 bits must
    // equal 4097 combinations of small lengths (a different path through the identity).
    let zeros = vec![0u8; 1 << 20];
    for (spec, crc) in crcs() {
        let mib = crc(&zeros);
        let mut four_gib = 0u64;
        for _ in 0..4096 {
            four_gib = spec.combine(four_gib, mib, 1 << 20);
        }
        let big = spec.combine(four_gib, crc(&[0, 0, 0]), 3);
        let head = data(100);
        let whole_head_then_big = spec.combine(crc(&head), big, (4u64 << 30) + 3);
        let mut step = crc(&head);
        for _ in 0..4096 {
            step = spec.combine(step, mib, 1 << 20);
        }
        step = spec.combine(step, crc(&[0, 0, 0]), 3);
        assert_eq!(whole_head_then_big, step, "{spec:?}");
    }
}

fn checksum_of(algorithm: ChecksumAlgorithm, d: &[u8]) -> Checksum {
    let mut h = ChecksumHasher::new(algorithm);
    h.update(d);
    h.finish()
}

#[test]
fn full_object_checksums_of_many_parts() {
    let all = data(10_000);
    for algorithm in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
    ] {
        let whole = checksum_of(algorithm, &all);
        for cuts in [
            vec![10_000],
            vec![1, 9_999],
            vec![5_000, 5_000],
            vec![3_333, 3_333, 3_333, 1],
            vec![0, 10_000],
            vec![4_096, 4_096, 1_808],
        ] {
            let mut parts = Vec::new();
            let mut at = 0;
            for cut in &cuts {
                let piece = &all[at..at + cut];
                parts.push((checksum_of(algorithm, piece), *cut as u64));
                at += cut;
            }
            assert_eq!(
                full_object_checksum(algorithm, &parts),
                Some(whole),
                "{algorithm:?} {cuts:?}"
            );
        }
    }
    assert_eq!(full_object_checksum(ChecksumAlgorithm::Sha256, &[]), None);
}

#[test]
fn composite_checksums_hash_the_binary_part_checksums() {
    let p1 = checksum_of(ChecksumAlgorithm::Crc32, b"hello ");
    let p2 = checksum_of(ChecksumAlgorithm::Crc32, b"world");
    let mut concat = Vec::new();
    concat.extend_from_slice(p1.bytes());
    concat.extend_from_slice(p2.bytes());
    let expected = checksum_of(ChecksumAlgorithm::Crc32, &concat).to_base64();
    assert_eq!(
        composite_checksum(ChecksumAlgorithm::Crc32, &[p1, p2]),
        format!("{expected}-2")
    );
    // A known value: the SHA-256 of the SHA-256 of "a".
    let a = checksum_of(ChecksumAlgorithm::Sha256, b"a");
    let of_a = checksum_of(ChecksumAlgorithm::Sha256, a.bytes()).to_base64();
    assert_eq!(
        composite_checksum(ChecksumAlgorithm::Sha256, &[a]),
        format!("{of_a}-1")
    );
}

#[test]
fn object_checksum_from_stored_parts() {
    let composite = UploadChecksum {
        algorithm: ChecksumAlgorithm::Crc32c,
        kind: ChecksumType::Composite,
    };
    let p1 = checksum_of(ChecksumAlgorithm::Crc32c, b"abc");
    let p2 = checksum_of(ChecksumAlgorithm::Crc32c, b"defg");
    let stored = [(p1.to_base64(), 3u64), (p2.to_base64(), 4)];
    let refs: Vec<(&str, u64)> = stored.iter().map(|(v, s)| (v.as_str(), *s)).collect();
    assert_eq!(
        composite.object_checksum(&refs).unwrap(),
        composite_checksum(ChecksumAlgorithm::Crc32c, &[p1, p2])
    );
    let full = UploadChecksum {
        kind: ChecksumType::FullObject,
        ..composite
    };
    assert_eq!(
        full.object_checksum(&refs).unwrap(),
        checksum_of(ChecksumAlgorithm::Crc32c, b"abcdefg").to_base64()
    );
    let bad = [("not base64!", 3u64)];
    assert_eq!(
        full.object_checksum(&bad).unwrap_err().code(),
        S3ErrorCode::InternalError
    );
}

#[test]
fn creation_rules() {
    let get = |a: Option<&str>, t: Option<&str>| UploadChecksum::from_request(a, t);
    assert_eq!(get(None, None).unwrap(), None);
    let crc32 = get(Some("crc32"), None).unwrap().unwrap();
    assert_eq!(crc32.algorithm, ChecksumAlgorithm::Crc32);
    assert_eq!(crc32.kind, ChecksumType::Composite);
    let nvme = get(Some("CRC64NVME"), None).unwrap().unwrap();
    assert_eq!(nvme.kind, ChecksumType::FullObject);
    let full = get(Some("CRC32C"), Some("FULL_OBJECT")).unwrap().unwrap();
    assert_eq!(full.kind, ChecksumType::FullObject);
    assert!(get(Some("SHA256"), Some("COMPOSITE")).unwrap().is_some());
    for (a, t) in [
        (None, Some("COMPOSITE")),
        (Some("SHA1"), Some("FULL_OBJECT")),
        (Some("CRC64NVME"), Some("COMPOSITE")),
        (Some("CRC32"), Some("PARTIAL")),
        (Some("MD5"), None),
    ] {
        let err = get(a, t).unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::InvalidRequest, "{a:?} {t:?}");
    }
}

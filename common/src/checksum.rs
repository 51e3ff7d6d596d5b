//! Checksums: the CRC32C of chunk data, and the typed S3 flexible checksums objects, parts and
//! uploads carry.
//!
//! CRC32C runs at several GiB/s with the SSE4.2 instruction, so verifying every block of a
//! chunk on every read costs little next to the disk and the network.
//!
//! An S3 flexible checksum is a [`Checksum`]: an algorithm ([`ChecksumAlgorithm`], the one
//! enum of algorithms: the gateway's hashers use it too), a type ([`ChecksumType`]) and the
//! value as S3 shows it. The value is kept as that text (base64 of the digest, with `-N` for a
//! composite checksum of N parts) rather than as digest bytes and a part count: every reader
//! (headers, XML documents, comparisons with what a client sends) wants the text, and
//! [`Checksum::new`] checks it once, so a `Checksum` always holds a well-formed value.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Size of the blocks that chunk files checksum one by one, so that a ranged read verifies only
/// the blocks it touches.
pub const BLOCK_SIZE: usize = 64 * 1024;

/// CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Continues a CRC32C over more data: `crc32c_append(crc32c(a), b) == crc32c(a ++ b)`.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

/// Formats a CRC32C the way it travels in headers: 8 lower-case hex digits.
pub fn crc_to_hex(crc: u32) -> String {
    format!("{crc:08x}")
}

/// Parses 8 hex digits back into a CRC32C.
pub fn crc_from_hex(text: &str) -> Option<u32> {
    if text.len() != 8 {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// An S3 flexible checksum algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, as zlib).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The name S3 uses: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The header (and trailer) carrying a value: `x-amz-checksum-crc32` and so on.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// The algorithm of an S3 name (`CRC32`...), in any case, surrounding spaces ignored.
    pub fn from_name(name: &str) -> Option<ChecksumAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The algorithm of a value header or trailer name (`x-amz-checksum-crc32c`), in any case.
    /// Other `x-amz-checksum-*` headers (`-algorithm`, `-type`, `-mode`) are not values: `None`.
    pub fn from_header_name(name: &str) -> Option<ChecksumAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }
}

/// How a checksum covers an object (S3 `x-amz-checksum-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumType {
    /// A multipart object's checksum of its parts' checksums, shown with a `-N` suffix.
    Composite,
    /// A checksum of the bytes themselves (of a whole object, or of one part).
    FullObject,
}

impl ChecksumType {
    /// The name S3 uses: `COMPOSITE`, `FULL_OBJECT`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Composite => "COMPOSITE",
            ChecksumType::FullObject => "FULL_OBJECT",
        }
    }

    /// The type of an S3 name, in any case, surrounding spaces ignored.
    pub fn from_name(name: &str) -> Option<ChecksumType> {
        [ChecksumType::Composite, ChecksumType::FullObject]
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// A flexible checksum of an object or a part: algorithm, type and value. Build it with
/// [`Checksum::new`], which checks the value; the fields are public for serde and reading.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// Composite (multipart objects only) or full-object.
    pub kind: ChecksumType,
    /// The value as S3 shows it: base64 of the big-endian digest, followed by `-N` (the number
    /// of parts) exactly when `kind` is composite.
    pub value: String,
}

impl Checksum {
    /// A checksum whose value is well formed for its algorithm and type (base64 of a digest
    /// of the algorithm's length; a `-N` suffix, N ≥ 1, exactly when composite); else `None`.
    pub fn new(algorithm: ChecksumAlgorithm, kind: ChecksumType, value: &str) -> Option<Checksum> {
        let digest = match (kind, value.split_once('-')) {
            (ChecksumType::FullObject, None) => value,
            (ChecksumType::Composite, Some((digest, parts))) => {
                // Plain decimal without a leading zero (so one checksum has one text), at
                // least 1, and a number of parts S3 could have.
                let plain = !parts.starts_with('0') && parts.bytes().all(|b| b.is_ascii_digit());
                if !plain || parts.parse::<u32>().is_err() {
                    return None;
                }
                digest
            }
            _ => return None,
        };
        // A digest of at most 32 bytes is at most 44 base64 characters: refuse longer text
        // before decoding it.
        if digest.len() > 44 || BASE64.decode(digest).ok()?.len() != algorithm.digest_len() {
            return None;
        }
        Some(Checksum {
            algorithm,
            kind,
            value: value.to_owned(),
        })
    }

    /// A checksum as the stored values before typed checksums kept it: a value with a `-` is
    /// composite (base64 has none), any other covers the bytes.
    pub fn from_untyped(algorithm: ChecksumAlgorithm, value: &str) -> Option<Checksum> {
        let kind = if value.contains('-') {
            ChecksumType::Composite
        } else {
            ChecksumType::FullObject
        };
        Checksum::new(algorithm, kind, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_checked_at_construction() {
        use ChecksumAlgorithm::*;
        use ChecksumType::*;
        let full = Checksum::new(Crc32c, FullObject, "yZRlqg==").unwrap();
        assert_eq!(full.value, "yZRlqg==");
        assert!(Checksum::new(Crc32c, Composite, "yZRlqg==").is_none());
        assert!(Checksum::new(Crc32, Composite, "yZRlqg==-3").is_some());
        for bad in [
            "yZRlqg==-0",
            "yZRlqg==-03",
            "yZRlqg==-+3",
            "yZRlqg==-",
            "yZRlqg==-x",
        ] {
            assert!(Checksum::new(Crc32, Composite, bad).is_none(), "{bad}");
        }
        assert!(Checksum::new(Crc32, FullObject, "yZRlqg==-3").is_none());
        assert!(Checksum::new(Sha256, FullObject, "yZRlqg==").is_none());
        assert!(Checksum::new(Crc32, FullObject, "not base64!").is_none());
        assert_eq!(
            Checksum::from_untyped(Crc32, "yZRlqg==-2").map(|c| c.kind),
            Some(Composite)
        );
        assert_eq!(
            Checksum::from_untyped(Crc32, "yZRlqg==").map(|c| c.kind),
            Some(FullObject)
        );
        assert_eq!(ChecksumAlgorithm::from_name(" crc64nvme"), Some(Crc64Nvme));
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-Sha1"),
            Some(Sha1)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-type"),
            None
        );
        assert_eq!(ChecksumType::from_name("full_object"), Some(FullObject));
    }

    #[test]
    fn append_equals_whole() {
        let data = b"hello, distributed world";
        let (a, b) = data.split_at(7);
        assert_eq!(crc32c_append(crc32c(a), b), crc32c(data));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(crc_from_hex(&crc_to_hex(0xdead_beef)), Some(0xdead_beef));
        assert_eq!(crc_from_hex("xyz"), None);
    }
}

//! S3's flexible checksums (`x-amz-checksum-crc32`, `-crc32c`, `-crc64nvme`, `-sha1`,
//! `-sha256`) and `Content-MD5`: parsing what the client announces, streaming hashers that
//! compute the same values as the body passes, and the comparison at the end of the body.
//!
//! Values travel as base64 of the big-endian digest bytes, as S3 sends them. A request names at
//! most one checksum, either as a header (known before the body) or, for aws-chunked uploads,
//! announced in `x-amz-trailer` and sent after the body.

use super::crc64nvme::Crc64Nvme;
use super::AuthError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http::HeaderMap;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The header naming the algorithm an SDK used.
pub const SDK_ALGORITHM_HEADER: &str = "x-amz-sdk-checksum-algorithm";
/// The header announcing trailing headers of an aws-chunked body.
pub const TRAILER_HEADER: &str = "x-amz-trailer";
/// The header with the base64 MD5 of the body.
pub const CONTENT_MD5_HEADER: &str = "content-md5";

/// The flexible checksum algorithms: the one enum of them, shared with the stored data.
pub use dfs_common::checksum::ChecksumAlgorithm;

/// Parses an algorithm name (`x-amz-sdk-checksum-algorithm`, `x-amz-checksum-algorithm`), in
/// any case; an unknown one is S3's `InvalidRequest`.
pub fn parse_algorithm(name: &str) -> Result<ChecksumAlgorithm, AuthError> {
    ChecksumAlgorithm::from_name(name).ok_or_else(|| {
        AuthError::InvalidRequest(format!(
            "Checksum algorithm {name:?} is unsupported. Please try again with any of the \
             valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
        ))
    })
}

/// A checksum value: an algorithm and its digest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    algorithm: ChecksumAlgorithm,
    /// The digest in its first `algorithm.digest_len()` bytes, zeros after.
    digest: [u8; 32],
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.to_base64())
    }
}

impl Checksum {
    /// A checksum from raw digest bytes; `None` if the length is not the algorithm's.
    pub fn from_bytes(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> Option<Checksum> {
        if bytes.len() != algorithm.digest_len() {
            return None;
        }
        let mut digest = [0u8; 32];
        digest[..bytes.len()].copy_from_slice(bytes);
        Some(Checksum { algorithm, digest })
    }

    /// Parses the base64 form of a header or trailer value.
    pub fn parse_base64(algorithm: ChecksumAlgorithm, text: &str) -> Result<Checksum, AuthError> {
        let text = text.trim();
        // A digest of at most 32 bytes is at most 44 base64 characters: refuse longer input
        // before decoding it.
        let decoded = if text.len() <= 44 {
            BASE64.decode(text).ok()
        } else {
            None
        };
        decoded
            .and_then(|bytes| Checksum::from_bytes(algorithm, &bytes))
            .ok_or_else(|| {
                AuthError::InvalidRequest(format!(
                    "Value for {} header is invalid.",
                    algorithm.header_name()
                ))
            })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The digest bytes (big-endian for the CRCs).
    pub fn bytes(&self) -> &[u8] {
        &self.digest[..self.algorithm.digest_len()]
    }

    /// The base64 form S3 sends in `x-amz-checksum-*` headers.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.bytes())
    }
}

/// A streaming hasher for one algorithm: feed the body, then take the [`Checksum`].
#[derive(Clone, Debug)]
pub enum ChecksumHasher {
    /// CRC-32.
    Crc32(crc32fast::Hasher),
    /// CRC-32C, as its running value.
    Crc32c(u32),
    /// CRC-64/NVME.
    Crc64Nvme(Crc64Nvme),
    /// SHA-1.
    Sha1(Sha1),
    /// SHA-256.
    Sha256(Sha256),
}

impl ChecksumHasher {
    /// A hasher over no data yet.
    pub fn new(algorithm: ChecksumAlgorithm) -> ChecksumHasher {
        match algorithm {
            ChecksumAlgorithm::Crc32 => ChecksumHasher::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => ChecksumHasher::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => ChecksumHasher::Crc64Nvme(Crc64Nvme::new()),
            ChecksumAlgorithm::Sha1 => ChecksumHasher::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => ChecksumHasher::Sha256(Sha256::new()),
        }
    }

    /// Adds data.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            ChecksumHasher::Crc32(h) => h.update(data),
            ChecksumHasher::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            ChecksumHasher::Crc64Nvme(h) => h.update(data),
            ChecksumHasher::Sha1(h) => h.update(data),
            ChecksumHasher::Sha256(h) => h.update(data),
        }
    }

    /// The checksum of everything added.
    pub fn finish(self) -> Checksum {
        let (algorithm, digest): (ChecksumAlgorithm, Vec<u8>) = match self {
            ChecksumHasher::Crc32(h) => (
                ChecksumAlgorithm::Crc32,
                h.finalize().to_be_bytes().to_vec(),
            ),
            ChecksumHasher::Crc32c(crc) => (ChecksumAlgorithm::Crc32c, crc.to_be_bytes().to_vec()),
            ChecksumHasher::Crc64Nvme(h) => (
                ChecksumAlgorithm::Crc64Nvme,
                h.value().to_be_bytes().to_vec(),
            ),
            ChecksumHasher::Sha1(h) => (ChecksumAlgorithm::Sha1, h.finalize().to_vec()),
            ChecksumHasher::Sha256(h) => (ChecksumAlgorithm::Sha256, h.finalize().to_vec()),
        };
        let mut out = [0u8; 32];
        out[..digest.len()].copy_from_slice(&digest);
        Checksum {
            algorithm,
            digest: out,
        }
    }
}

/// Parses `Content-MD5`: base64 of exactly 16 bytes, else S3's `InvalidDigest`.
pub fn parse_content_md5(value: &str) -> Result<[u8; 16], AuthError> {
    let value = value.trim();
    let decoded = if value.len() == 24 {
        BASE64.decode(value).ok()
    } else {
        None
    };
    decoded
        .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| {
            AuthError::InvalidDigest("The Content-MD5 you specified is not valid.".into())
        })
}

/// Where the request's flexible checksum comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumSource {
    /// An `x-amz-checksum-*` header, known before the body.
    Header(Checksum),
    /// Announced by `x-amz-trailer`, sent after an aws-chunked body.
    Trailer(ChecksumAlgorithm),
}

impl ChecksumSource {
    /// The algorithm to compute over the body.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            ChecksumSource::Header(c) => c.algorithm(),
            ChecksumSource::Trailer(a) => *a,
        }
    }
}

/// The integrity checks a request asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpectedChecksums {
    /// `Content-MD5`, decoded.
    pub content_md5: Option<[u8; 16]>,
    /// The flexible checksum, if any.
    pub checksum: Option<ChecksumSource>,
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AuthError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                AuthError::InvalidRequest(format!("the {name} header is not ASCII text"))
            })
        })
        .transpose()
}

impl ExpectedChecksums {
    /// Reads `Content-MD5`, the `x-amz-checksum-*` value headers, `x-amz-trailer` and
    /// `x-amz-sdk-checksum-algorithm`, with S3's rules: at most one flexible checksum, and an
    /// SDK algorithm must match the value or trailer it comes with.
    pub fn from_headers(headers: &HeaderMap) -> Result<ExpectedChecksums, AuthError> {
        let content_md5 = header_text(headers, CONTENT_MD5_HEADER)?
            .map(parse_content_md5)
            .transpose()?;
        let single = || {
            AuthError::InvalidRequest(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                    .into(),
            )
        };
        let mut checksum = None;
        for algorithm in ChecksumAlgorithm::ALL {
            let mut values = headers.get_all(algorithm.header_name()).iter();
            let Some(value) = values.next() else { continue };
            if checksum.is_some() || values.next().is_some() {
                return Err(single());
            }
            let text = value.to_str().map_err(|_| {
                AuthError::InvalidRequest(format!(
                    "Value for {} header is invalid.",
                    algorithm.header_name()
                ))
            })?;
            checksum = Some(ChecksumSource::Header(Checksum::parse_base64(
                algorithm, text,
            )?));
        }
        if let Some(trailer) = header_text(headers, TRAILER_HEADER)? {
            let algorithm =
                ChecksumAlgorithm::from_header_name(trailer.trim()).ok_or_else(|| {
                    AuthError::InvalidRequest(format!(
                    "The value {trailer:?} of x-amz-trailer is not supported: it must name one \
                     x-amz-checksum-* trailer"
                ))
                })?;
            if checksum.is_some() {
                return Err(single());
            }
            checksum = Some(ChecksumSource::Trailer(algorithm));
        }
        if let Some(name) = header_text(headers, SDK_ALGORITHM_HEADER)? {
            let sdk = parse_algorithm(name)?;
            match checksum {
                None => {
                    return Err(AuthError::InvalidRequest(
                        "x-amz-sdk-checksum-algorithm specified, but no corresponding \
                         x-amz-checksum-* or x-amz-trailer headers were found."
                            .into(),
                    ))
                }
                Some(source) if source.algorithm() != sdk => {
                    return Err(AuthError::BadDigest(format!(
                        "x-amz-sdk-checksum-algorithm is {} but the checksum sent is {}",
                        sdk.name(),
                        source.algorithm().name()
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(ExpectedChecksums {
            content_md5,
            checksum,
        })
    }

    /// A hasher for the flexible checksum to compute as the body streams, if any.
    pub fn hasher(&self) -> Option<ChecksumHasher> {
        self.checksum.map(|c| ChecksumHasher::new(c.algorithm()))
    }

    /// Checks the body's MD5 (always computed: it is the ETag) against `Content-MD5`.
    pub fn verify_md5(&self, computed: &[u8; 16]) -> Result<(), AuthError> {
        match &self.content_md5 {
            Some(expected) if expected != computed => Err(AuthError::BadDigest(
                "The Content-MD5 you specified did not match what we received.".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Checks the computed flexible checksum against the header, or against the trailer the
    /// aws-chunked decoder collected (`(lower-case name, value)` pairs). Returns the verified
    /// value, to be stored with the object; `None` when the request named no checksum.
    pub fn verify_checksum(
        &self,
        computed: Option<&Checksum>,
        trailers: &[(String, String)],
    ) -> Result<Option<Checksum>, AuthError> {
        let Some(source) = self.checksum else {
            return Ok(None);
        };
        let algorithm = source.algorithm();
        let expected = match source {
            ChecksumSource::Header(value) => value,
            ChecksumSource::Trailer(_) => {
                let value = trailers
                    .iter()
                    .find(|(name, _)| name == algorithm.header_name())
                    .map(|(_, value)| value)
                    .ok_or_else(|| {
                        AuthError::MalformedTrailer(format!(
                            "The request body ended without the trailer {} announced in \
                             x-amz-trailer.",
                            algorithm.header_name()
                        ))
                    })?;
                Checksum::parse_base64(algorithm, value)?
            }
        };
        match computed {
            Some(c) if *c == expected => Ok(Some(expected)),
            _ => Err(AuthError::BadDigest(format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests;

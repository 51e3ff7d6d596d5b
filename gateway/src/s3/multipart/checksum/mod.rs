//! The flexible checksum of a multipart upload: the algorithm and type chosen at creation, and
//! the object's checksum computed at completion from the parts' checksums, never from the data
//! (which the gateway does not see again).
//!
//! S3 has two kinds:
//! - `COMPOSITE` (CRC32, CRC32C, SHA1, SHA256): the checksum of the concatenated binary part
//!   checksums, shown as `<base64>-<number of parts>`;
//! - `FULL_OBJECT` (CRC64NVME always; CRC32 and CRC32C on request): the checksum of the whole
//!   object's bytes. For a CRC it follows from the parts' CRCs and lengths alone, through the
//!   CRC combination below (the method of zlib's `crc32_combine`), so it is exactly what a
//!   client computes over the downloaded object.

use crate::auth::checksum::{parse_algorithm, Checksum, ChecksumAlgorithm, ChecksumHasher};
use crate::error::{S3Error, S3Result};
pub(crate) use dfs_common::checksum::ChecksumType;

/// The checksum an upload was created with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UploadChecksum {
    /// The algorithm of every part's checksum and of the object's.
    pub algorithm: ChecksumAlgorithm,
    /// How the object's checksum is made from the parts'.
    pub kind: ChecksumType,
}

impl UploadChecksum {
    /// Reads `x-amz-checksum-algorithm` and `x-amz-checksum-type` of CreateMultipartUpload,
    /// with S3's rules: a type needs an algorithm; CRC64NVME is full-object only, the SHAs
    /// composite only; without a type, CRC64NVME is full-object and the others composite.
    pub(crate) fn from_request(
        algorithm: Option<&str>,
        kind: Option<&str>,
    ) -> S3Result<Option<UploadChecksum>> {
        let kind = kind
            .map(|text| {
                ChecksumType::from_name(text).ok_or_else(|| {
                    S3Error::invalid_request(format!(
                        "Value for x-amz-checksum-type header is invalid: {text:?} (it must be \
                         COMPOSITE or FULL_OBJECT)."
                    ))
                })
            })
            .transpose()?;
        let Some(name) = algorithm else {
            if kind.is_some() {
                return Err(S3Error::invalid_request(
                    "The x-amz-checksum-type header can only be used with the \
                     x-amz-checksum-algorithm header.",
                ));
            }
            return Ok(None);
        };
        let algorithm = parse_algorithm(name)?;
        let kind = kind.unwrap_or_else(|| default_type(algorithm));
        let allowed = match algorithm {
            ChecksumAlgorithm::Crc64Nvme => kind == ChecksumType::FullObject,
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => kind == ChecksumType::Composite,
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => true,
        };
        if !allowed {
            return Err(S3Error::invalid_request(format!(
                "The {} checksum type cannot be used with the {} checksum algorithm.",
                kind.name(),
                algorithm.name()
            )));
        }
        Ok(Some(UploadChecksum { algorithm, kind }))
    }

    /// The checksum of an upload as metad keeps it (checked at creation). A stored type
    /// without an algorithm means nothing; an algorithm without a type gets the default type.
    pub(crate) fn from_stored(
        algorithm: Option<ChecksumAlgorithm>,
        kind: Option<ChecksumType>,
    ) -> Option<UploadChecksum> {
        let algorithm = algorithm?;
        Some(UploadChecksum {
            algorithm,
            kind: kind.unwrap_or_else(|| default_type(algorithm)),
        })
    }

    /// The object's checksum from its parts' checksums (base64, in part order) and sizes, as
    /// stored with the object and shown to clients.
    pub(crate) fn object_checksum(&self, parts: &[(&str, u64)]) -> S3Result<String> {
        let mut checksums = Vec::with_capacity(parts.len());
        for (index, (value, size)) in parts.iter().enumerate() {
            let checksum = Checksum::parse_base64(self.algorithm, value).map_err(|_| {
                S3Error::internal(format!(
                    "the stored {} checksum {value:?} of the part at position {} is not one",
                    self.algorithm.name(),
                    index + 1
                ))
            })?;
            checksums.push((checksum, *size));
        }
        match self.kind {
            ChecksumType::Composite => {
                let list: Vec<Checksum> = checksums.iter().map(|(c, _)| *c).collect();
                Ok(composite_checksum(self.algorithm, &list))
            }
            ChecksumType::FullObject => full_object_checksum(self.algorithm, &checksums)
                .map(|c| c.to_base64())
                .ok_or_else(|| {
                    S3Error::internal(format!(
                        "a full-object checksum cannot be made with {}",
                        self.algorithm.name()
                    ))
                }),
        }
    }
}

/// The type of an upload created with `algorithm` alone: full-object for CRC64NVME (the only
/// type it has), composite for the others.
fn default_type(algorithm: ChecksumAlgorithm) -> ChecksumType {
    match algorithm {
        ChecksumAlgorithm::Crc64Nvme => ChecksumType::FullObject,
        _ => ChecksumType::Composite,
    }
}

/// The composite checksum of parts: the checksum of their concatenated binary checksums, in
/// base64, then `-` and the number of parts.
pub(crate) fn composite_checksum(algorithm: ChecksumAlgorithm, parts: &[Checksum]) -> String {
    let mut hasher = ChecksumHasher::new(algorithm);
    for part in parts {
        hasher.update(part.bytes());
    }
    format!("{}-{}", hasher.finish().to_base64(), parts.len())
}

/// The CRC of the concatenation of parts, from each part's CRC and length; `None` for the
/// algorithms that are not CRCs.
pub(crate) fn full_object_checksum(
    algorithm: ChecksumAlgorithm,
    parts: &[(Checksum, u64)],
) -> Option<Checksum> {
    let spec = CrcSpec::of(algorithm)?;
    // The CRC of no data is 0 for all three (initial value and final xor are equal), so the
    // fold can start from it.
    let mut crc = 0u64;
    for (checksum, len) in parts {
        crc = spec.combine(crc, spec.value_of(checksum), *len);
    }
    let width = spec.width as usize / 8;
    let bytes = crc.to_be_bytes();
    Checksum::from_bytes(algorithm, &bytes[8 - width..])
}

/// A reflected CRC with equal initial value and final xor (all ones), as CRC-32, CRC-32C and
/// CRC-64/NVME are: then `crc(A‖B) = crc(A)·x^(8|B|) mod P ⊕ crc(B)`, the identity that lets
/// CRCs be combined without the data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CrcSpec {
    /// The polynomial, bit-reversed, in the low `width` bits.
    poly: u64,
    /// 32 or 64.
    width: u32,
}

/// CRC-32 (ISO-HDLC, zlib's).
pub(crate) const CRC32: CrcSpec = CrcSpec {
    poly: 0xedb8_8320,
    width: 32,
};
/// CRC-32C (Castagnoli).
pub(crate) const CRC32C: CrcSpec = CrcSpec {
    poly: 0x82f6_3b78,
    width: 32,
};
/// CRC-64/NVME.
pub(crate) const CRC64NVME: CrcSpec = CrcSpec {
    poly: 0x9a6c_9329_ac4b_c9b5,
    width: 64,
};

impl CrcSpec {
    /// The spec of a CRC algorithm; `None` for the SHAs.
    pub(crate) fn of(algorithm: ChecksumAlgorithm) -> Option<CrcSpec> {
        match algorithm {
            ChecksumAlgorithm::Crc32 => Some(CRC32),
            ChecksumAlgorithm::Crc32c => Some(CRC32C),
            ChecksumAlgorithm::Crc64Nvme => Some(CRC64NVME),
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
        }
    }

    /// The CRC value of a checksum (its big-endian digest bytes).
    fn value_of(self, checksum: &Checksum) -> u64 {
        checksum
            .bytes()
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }

    /// The bit that stands for x⁰ in the reflected representation.
    fn one(self) -> u64 {
        1u64 << (self.width - 1)
    }

    /// `a·b mod P`, both in the reflected representation.
    fn multiply(self, a: u64, mut b: u64) -> u64 {
        let mut m = self.one();
        let mut product = 0u64;
        while m != 0 {
            if a & m != 0 {
                product ^= b;
                if a & (m - 1) == 0 {
                    break;
                }
            }
            m >>= 1;
            b = if b & 1 == 1 {
                (b >> 1) ^ self.poly
            } else {
                b >> 1
            };
        }
        product
    }

    /// `x^(8·len) mod P`: the factor that moves a CRC past `len` bytes. Square-and-multiply
    /// over the bits of `len`, with x^(2^k) found by repeated squaring (no table, no period
    /// assumption: at most 64 squarings per call, cheap next to a network round trip).
    fn shift_factor(self, len: u64) -> u64 {
        // x^8 = x^(2^3): start from x¹ and square three times.
        let mut power = self.one() >> 1;
        for _ in 0..3 {
            power = self.multiply(power, power);
        }
        let mut factor = self.one();
        let mut n = len;
        while n != 0 {
            if n & 1 == 1 {
                factor = self.multiply(power, factor);
            }
            n >>= 1;
            if n != 0 {
                power = self.multiply(power, power);
            }
        }
        factor
    }

    /// The CRC of `A‖B` from `crc(A)`, `crc(B)` and `|B|` in bytes.
    pub(crate) fn combine(self, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
        self.multiply(self.shift_factor(len_b), crc_a) ^ crc_b
    }
}

#[cfg(test)]
mod tests;

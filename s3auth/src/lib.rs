//! S3 request authentication (AWS Signature Version 4) and body integrity, as I/O-free building
//! blocks for the gateway's request path.
//!
//! - [`sigv4`]: canonical request, string to sign, signing key, signature;
//! - [`authorization`]: the `Authorization` header and the presigned-URL query parameters;
//! - [`time`]: `x-amz-date` / `Date` parsing, clock skew and presigned expiry;
//! - [`content_sha256`]: the payload modes of `x-amz-content-sha256`;
//! - [`chunked`]: the incremental aws-chunked decoder with chained chunk signatures and trailers;
//! - [`checksum`]: `Content-MD5` and the flexible checksums (`x-amz-checksum-*`), with
//!   [`crc64nvme`] for CRC-64/NVME;
//! - [`verify`]: the whole check of one request, from its headers and query to a verified
//!   identity and what its body must satisfy.

pub mod authorization;
pub mod checksum;
pub mod chunked;
pub mod content_sha256;
pub mod crc64nvme;
pub mod error;
pub mod sigv4;
pub mod time;
pub mod verify;

#[cfg(test)]
mod aws_examples;

pub use error::AuthError;

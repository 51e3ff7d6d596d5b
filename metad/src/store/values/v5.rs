//! Values of schema version 5 that differ from earlier versions. Frozen: never change these
//! types, add to a later version instead.
//!
//! Version 5 typed the S3 flexible checksums. Before it, an object's checksum was a fake
//! `x-amz-checksum-<algorithm>` pair in its user metadata (its type guessed from a `-` in the
//! value), a part's was base64 text whose algorithm only its upload knew, and an upload's
//! algorithm and type were text as given. Now the file, the directory object, the part and the
//! upload hold them as fields, with their own frozen enums (not `dfs_common`'s, so that a
//! change there can never change these bytes).
//!
//! Old values upgrade as follows: a file or directory object converts on decode (the pairs
//! leave the metadata and become the typed field; a pair that does not parse is dropped and
//! logged), and so does an upload (text it cannot read becomes `None`, logged). A part cannot:
//! its algorithm is in its upload, so the store's one-time upgrade at open
//! (`store::upgrade`) rewrites every part with [`Part::from_v3`].

use super::{v2, v3, v4};
use dfs_common::checksum as common;
use dfs_common::InodeId;
use serde::{Deserialize, Serialize};

/// A flexible checksum algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    /// CRC-32.
    Crc32,
    /// CRC-32C.
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// Composite or full-object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumType {
    /// Checksum of the parts' checksums (multipart objects), value with `-N`.
    Composite,
    /// Checksum of the bytes (of an object, or of a part).
    FullObject,
}

/// A flexible checksum, always well formed (it was a [`common::Checksum`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The type.
    pub kind: ChecksumType,
    /// The value as S3 shows it (base64, `-N` when composite).
    pub value: String,
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dentry {
    /// A directory (its key-form name ends in `/`).
    Dir(Dir),
    /// A file.
    File(File),
}

/// A file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// Its inode: the prefix of its `chunks` rows.
    pub inode: InodeId,
    /// Bytes of data.
    pub size: u64,
    /// The S3 ETag.
    pub etag: String,
    /// Commit time, Unix milliseconds.
    pub mtime_ms: u64,
    /// Content type given at write time.
    pub content_type: Option<String>,
    /// User metadata and stored headers (never a checksum).
    pub meta: Vec<(String, String)>,
    /// The flexible checksum of the data.
    pub checksum: Option<Checksum>,
    /// Number of `chunks` rows.
    pub chunk_count: u64,
    /// Made by a multipart upload: each part's size, in order. Empty otherwise.
    pub part_sizes: Vec<u64>,
}

/// A directory (as in version 4, with the version 5 payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dir {
    /// Its inode: the parent id of its children's keys, and the prefix of its payload's
    /// `chunks` rows.
    pub inode: InodeId,
    /// Creation or last change of its own entry (and of its payload), Unix milliseconds.
    pub mtime_ms: u64,
    /// Created on purpose rather than implied by a child (see version 4).
    pub explicit: bool,
    /// The payload of the object `x/`, if an S3 write gave one.
    pub object: Option<DirObject>,
    /// Top-level directories: the bucket record.
    pub bucket: Option<v2::BucketRecord>,
}

/// The payload of an explicit directory's object `x/`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirObject {
    /// The ETag.
    pub etag: String,
    /// Content type given at write time.
    pub content_type: Option<String>,
    /// User metadata and stored headers (never a checksum).
    pub meta: Vec<(String, String)>,
    /// The flexible checksum of the data.
    pub checksum: Option<Checksum>,
    /// Bytes of data.
    pub size: u64,
    /// Number of `chunks` rows (keyed by the directory's inode).
    pub chunk_count: u64,
    /// Made by a multipart upload: each part's size, in order. Empty otherwise.
    pub part_sizes: Vec<u64>,
}

/// A multipart upload (`upload` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The bucket's name at creation.
    pub bucket: String,
    /// The object's key.
    pub key: String,
    /// Creation time, Unix milliseconds.
    pub initiated_ms: u64,
    /// Content type the object gets.
    pub content_type: Option<String>,
    /// User metadata and stored headers the object gets.
    pub meta: Vec<(String, String)>,
    /// Flexible checksum algorithm of the parts and the object.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// How the object's checksum is made from the parts'.
    pub checksum_type: Option<ChecksumType>,
    /// The access key that started it.
    pub owner_key: Option<String>,
    /// Open, or completed.
    pub state: UploadState,
}

/// Life cycle of an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadState {
    /// Accepting parts.
    Open,
    /// Completed, kept for a while to answer a repeated completion.
    Completed(Completion),
}

/// What a completion made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// When, Unix milliseconds.
    pub completed_ms: u64,
    /// The part numbers it assembled, in order.
    pub part_numbers: Vec<u32>,
    /// The object's entry as created (without its chunk rows).
    pub file: File,
}

/// A stored part (`part` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Bytes of data.
    pub size: u64,
    /// ETag, quoted hex MD5 of the part's bytes.
    pub etag: String,
    /// Flexible checksum of the part's bytes (full-object), if given.
    pub checksum: Option<Checksum>,
    /// When stored, Unix milliseconds.
    pub mtime_ms: u64,
    /// The slices holding the data, in order; each holds a reference on its chunk.
    pub slices: Vec<v3::FileChunk>,
}

impl From<common::ChecksumAlgorithm> for ChecksumAlgorithm {
    fn from(a: common::ChecksumAlgorithm) -> Self {
        match a {
            common::ChecksumAlgorithm::Crc32 => ChecksumAlgorithm::Crc32,
            common::ChecksumAlgorithm::Crc32c => ChecksumAlgorithm::Crc32c,
            common::ChecksumAlgorithm::Crc64Nvme => ChecksumAlgorithm::Crc64Nvme,
            common::ChecksumAlgorithm::Sha1 => ChecksumAlgorithm::Sha1,
            common::ChecksumAlgorithm::Sha256 => ChecksumAlgorithm::Sha256,
        }
    }
}

impl From<ChecksumAlgorithm> for common::ChecksumAlgorithm {
    fn from(a: ChecksumAlgorithm) -> Self {
        match a {
            ChecksumAlgorithm::Crc32 => common::ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c => common::ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme => common::ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha1 => common::ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256 => common::ChecksumAlgorithm::Sha256,
        }
    }
}

impl From<common::ChecksumType> for ChecksumType {
    fn from(t: common::ChecksumType) -> Self {
        match t {
            common::ChecksumType::Composite => ChecksumType::Composite,
            common::ChecksumType::FullObject => ChecksumType::FullObject,
        }
    }
}

impl From<ChecksumType> for common::ChecksumType {
    fn from(t: ChecksumType) -> Self {
        match t {
            ChecksumType::Composite => common::ChecksumType::Composite,
            ChecksumType::FullObject => common::ChecksumType::FullObject,
        }
    }
}

impl From<common::Checksum> for Checksum {
    fn from(c: common::Checksum) -> Self {
        Checksum {
            algorithm: c.algorithm.into(),
            kind: c.kind.into(),
            value: c.value,
        }
    }
}

impl From<Checksum> for common::Checksum {
    fn from(c: Checksum) -> Self {
        common::Checksum {
            algorithm: c.algorithm.into(),
            kind: c.kind.into(),
            value: c.value,
        }
    }
}

/// Splits pre-version-5 metadata into the user metadata and the checksum its fake
/// `x-amz-checksum-<algorithm>` pair held. A pair whose value does not parse leaves the
/// metadata too (it was never user metadata) and is logged, never a panic.
pub fn split_untyped_checksum(
    meta: Vec<(String, String)>,
) -> (Vec<(String, String)>, Option<Checksum>) {
    let mut checksum = None;
    let mut kept = Vec::with_capacity(meta.len());
    for (name, value) in meta {
        let Some(algorithm) = common::ChecksumAlgorithm::from_header_name(&name) else {
            kept.push((name, value));
            continue;
        };
        match common::Checksum::from_untyped(algorithm, &value) {
            Some(typed) if checksum.is_none() => checksum = Some(typed.into()),
            Some(_) => tracing::warn!("upgrade: a second stored checksum {name}={value:?} dropped"),
            None => tracing::warn!("upgrade: unreadable stored checksum {name}={value:?} dropped"),
        }
    }
    (kept, checksum)
}

impl From<v3::File> for File {
    fn from(old: v3::File) -> File {
        let (meta, checksum) = split_untyped_checksum(old.meta);
        File {
            inode: old.inode,
            size: old.size,
            etag: old.etag,
            mtime_ms: old.mtime_ms,
            content_type: old.content_type,
            meta,
            checksum,
            chunk_count: old.chunk_count,
            part_sizes: old.part_sizes,
        }
    }
}

impl From<v4::DirObject> for DirObject {
    fn from(old: v4::DirObject) -> DirObject {
        let (meta, checksum) = split_untyped_checksum(old.meta);
        DirObject {
            etag: old.etag,
            content_type: old.content_type,
            meta,
            checksum,
            size: old.size,
            chunk_count: old.chunk_count,
            part_sizes: old.part_sizes,
        }
    }
}

impl From<v4::Dentry> for Dentry {
    fn from(old: v4::Dentry) -> Dentry {
        match old {
            v4::Dentry::Dir(dir) => Dentry::Dir(Dir {
                inode: dir.inode,
                mtime_ms: dir.mtime_ms,
                explicit: dir.explicit,
                object: dir.object.map(DirObject::from),
                bucket: dir.bucket,
            }),
            v4::Dentry::File(file) => Dentry::File(file.into()),
        }
    }
}

impl From<v3::Upload> for Upload {
    fn from(old: v3::Upload) -> Upload {
        let algorithm = old.checksum_algorithm.as_deref().and_then(|text| {
            let parsed = common::ChecksumAlgorithm::from_name(text);
            if parsed.is_none() {
                tracing::warn!(
                    "upgrade: upload of {:?}: unreadable checksum algorithm {text:?} dropped",
                    old.key
                );
            }
            parsed.map(ChecksumAlgorithm::from)
        });
        let kind = old.checksum_type.as_deref().and_then(|text| {
            let parsed = common::ChecksumType::from_name(text);
            if parsed.is_none() {
                tracing::warn!(
                    "upgrade: upload of {:?}: unreadable checksum type {text:?} dropped",
                    old.key
                );
            }
            parsed.map(ChecksumType::from)
        });
        Upload {
            bucket: old.bucket,
            key: old.key,
            initiated_ms: old.initiated_ms,
            content_type: old.content_type,
            meta: old.meta,
            // A type without an algorithm means nothing (S3 refuses it at creation).
            checksum_type: kind.filter(|_| algorithm.is_some()),
            checksum_algorithm: algorithm,
            owner_key: old.owner_key,
            state: match old.state {
                v3::UploadState::Open => UploadState::Open,
                v3::UploadState::Completed(done) => UploadState::Completed(Completion {
                    completed_ms: done.completed_ms,
                    part_numbers: done.part_numbers,
                    file: done.file.into(),
                }),
            },
        }
    }
}

impl Part {
    /// A version 3 part, whose checksum text is typed with its upload's algorithm. Without
    /// one, or when the text does not parse, the checksum is dropped and logged.
    pub fn from_v3(old: v3::Part, algorithm: Option<ChecksumAlgorithm>) -> Part {
        let checksum = old.checksum.and_then(|text| {
            let typed = algorithm.and_then(|a| {
                common::Checksum::new(a.into(), common::ChecksumType::FullObject, &text)
            });
            if typed.is_none() {
                tracing::warn!(
                    "upgrade: part checksum {text:?} unreadable under {algorithm:?}; dropped"
                );
            }
            typed.map(Checksum::from)
        });
        Part {
            size: old.size,
            etag: old.etag,
            checksum,
            mtime_ms: old.mtime_ms,
            slices: old.slices,
        }
    }
}

//! Values of schema version 3 that differ from versions 1 and 2, or are new. Frozen: never
//! change these types, add to a later version instead.
//!
//! Version 3 made a file's chunk rows slices of stored chunks (so a range of any object can
//! be shared without copying), gave files the sizes of their multipart parts and write
//! sessions the part they write, and added the multipart tables.

use super::{v1, v2};
use dfs_common::{ChunkId, InodeId};
use serde::{Deserialize, Serialize};

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dentry {
    /// A directory (unchanged since version 2).
    Dir(v2::Dir),
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
    /// User metadata and stored headers.
    pub meta: Vec<(String, String)>,
    /// Number of `chunks` rows.
    pub chunk_count: u64,
    /// Made by a multipart upload: each part's size, in order. Empty otherwise.
    pub part_sizes: Vec<u64>,
}

/// One slice of a stored chunk: a row of the `chunks` table, and a piece of a part. Each one
/// holds one reference on its chunk (`ChunkLoc::refcount` counts slices, not files).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChunk {
    /// The stored chunk.
    pub chunk: ChunkId,
    /// Bytes of the stored chunk before the slice.
    pub chunk_offset: u64,
    /// The slice's length.
    pub len: u64,
    /// CRC32C of the whole stored chunk.
    pub crc32c: u32,
    /// The whole stored chunk's length.
    pub chunk_len: u64,
}

/// What a write session writes when it is a part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartTarget {
    /// The upload.
    pub upload_id: String,
    /// The part number.
    pub part_number: u32,
}

/// An open write (`session` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The path the file gets at commit (for a part: its upload's path).
    pub path: String,
    /// Unix milliseconds of `open`.
    pub created_ms: u64,
    /// Chunks allocated so far.
    pub chunks: Vec<v1::SessionChunk>,
    /// Set when the session writes a part rather than a file.
    pub part: Option<PartTarget>,
}

/// A multipart upload (`upload` table, keyed by bucket inode ‖ key ‖ 0 ‖ upload id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The bucket's name at creation (for messages; the bucket is known by its inode).
    pub bucket: String,
    /// The object's key (also in the row's key).
    pub key: String,
    /// Creation time, Unix milliseconds.
    pub initiated_ms: u64,
    /// Content type the object gets.
    pub content_type: Option<String>,
    /// User metadata and stored headers the object gets.
    pub meta: Vec<(String, String)>,
    /// Flexible checksum algorithm, as given.
    pub checksum_algorithm: Option<String>,
    /// Checksum type, as given.
    pub checksum_type: Option<String>,
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
    /// Completed: kept for a while so that a repeated identical completion gets the same
    /// answer.
    Completed(Completion),
}

/// What a completion made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// When, Unix milliseconds.
    pub completed_ms: u64,
    /// The part numbers it assembled, in order (with the ETag, which hashes the parts' ETags
    /// in order, this identifies the part list).
    pub part_numbers: Vec<u32>,
    /// The object's entry as created (without its chunk rows).
    pub file: File,
}

/// `upload_id` table: where the upload of an id is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRef {
    /// The bucket's inode.
    pub bucket: InodeId,
    /// The object's key.
    pub key: String,
}

/// A stored part (`part` table, keyed by upload id ‖ part number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Bytes of data.
    pub size: u64,
    /// ETag, quoted hex MD5 of the part's bytes.
    pub etag: String,
    /// Flexible checksum (base64), if given.
    pub checksum: Option<String>,
    /// When stored, Unix milliseconds.
    pub mtime_ms: u64,
    /// The slices holding the data, in order; each holds a reference on its chunk.
    pub slices: Vec<FileChunk>,
}

impl From<v1::File> for File {
    fn from(old: v1::File) -> File {
        File {
            inode: old.inode,
            size: old.size,
            etag: old.etag,
            mtime_ms: old.mtime_ms,
            content_type: old.content_type,
            meta: old.meta,
            chunk_count: old.chunk_count,
            part_sizes: Vec::new(),
        }
    }
}

impl From<v2::Dentry> for Dentry {
    fn from(old: v2::Dentry) -> Dentry {
        match old {
            v2::Dentry::Dir(dir) => Dentry::Dir(dir),
            v2::Dentry::File(file) => Dentry::File(file.into()),
        }
    }
}

impl From<v1::FileChunk> for FileChunk {
    /// A version 1 row is a whole chunk.
    fn from(old: v1::FileChunk) -> FileChunk {
        FileChunk {
            chunk: old.chunk,
            chunk_offset: 0,
            len: old.len,
            crc32c: old.crc32c,
            chunk_len: old.len,
        }
    }
}

impl From<v1::Session> for Session {
    fn from(old: v1::Session) -> Session {
        Session {
            path: old.path,
            created_ms: old.created_ms,
            chunks: old.chunks,
            part: None,
        }
    }
}

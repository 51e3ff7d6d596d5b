//! Values of schema version 8. Frozen: never change these types, add to a later version
//! instead.
//!
//! Version 8 made the chunk map of a file addressable by byte offset: each row of the `chunks`
//! table records where its slice starts in the file ([`ChunkRow`]), so the rows covering a byte
//! range are found by a binary search over the row indices instead of a scan from the first
//! row. Rows written before version 8 carry no offset; they still decode (as rows of unknown
//! offset) and are located by summing lengths from the start of their file. It also gave the
//! upload two states ([`UploadState::Completing`], [`UploadState::Aborting`]) so that the
//! completion and the abort of an upload of many slices run in bounded steps, and added the
//! `map_share` table ([`MapShare`]): files sharing one chunk map.

use super::v3::FileChunk;
use super::v5::{self, ChecksumAlgorithm, ChecksumType, Completion, DirObject};
use dfs_common::InodeId;
use serde::{Deserialize, Serialize};

/// A row of the `chunks` table: one slice of a stored chunk and where it starts in its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRow {
    /// Offset of the slice's first byte in the file.
    pub offset: u64,
    /// The slice.
    pub slice: FileChunk,
}

/// A multipart upload (`upload` table). As in version 5, with two more states: an upload being
/// completed or aborted in bounded steps.
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
    /// Open, being completed or aborted, or completed.
    pub state: UploadState,
}

/// Life cycle of an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadState {
    /// Accepting parts.
    Open,
    /// Completed, kept for a while to answer a repeated completion.
    Completed(Completion),
    /// A completion too large for one transaction is moving the listed parts' slices into the
    /// object's chunk rows, a bounded step at a time; the object is linked by a last small
    /// step. Accepts no part.
    Completing(Assembly),
    /// Aborted or expired, its parts being released a bounded step at a time; the row goes
    /// with the last of them. Accepts nothing.
    Aborting,
}

/// The progress of a completion made in steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembly {
    /// The inode the object's chunk rows are written under; no entry names it until the
    /// last step.
    pub inode: InodeId,
    /// The part numbers listed, in order.
    pub part_numbers: Vec<u32>,
    /// How many of them have been moved (their part rows are gone, their slices are rows).
    pub parts_done: u32,
    /// Chunk rows written so far.
    pub rows_done: u64,
    /// Bytes of the object those rows hold.
    pub bytes_done: u64,
    /// The object's payload as it will be (ETag, metadata, checksum, size, slice count, part
    /// sizes).
    pub payload: DirObject,
    /// When the completion began, Unix milliseconds.
    pub started_ms: u64,
}

impl From<v5::Upload> for Upload {
    fn from(old: v5::Upload) -> Upload {
        Upload {
            bucket: old.bucket,
            key: old.key,
            initiated_ms: old.initiated_ms,
            content_type: old.content_type,
            meta: old.meta,
            checksum_algorithm: old.checksum_algorithm,
            checksum_type: old.checksum_type,
            owner_key: old.owner_key,
            state: match old.state {
                v5::UploadState::Open => UploadState::Open,
                v5::UploadState::Completed(done) => UploadState::Completed(done),
            },
        }
    }
}

/// How many files hold one chunk map (`map_share` table, keyed by the map's inode; at least
/// 2 when the row exists). A CopyObject of an object of many slices makes the copy hold its
/// source's rows instead of copying them; the rows are released when the last holder goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapShare {
    /// Files holding the map.
    pub holders: u64,
}

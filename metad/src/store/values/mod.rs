//! The values metad stores, with their on-disk versions.
//!
//! Every value is one version byte followed by the bincode encoding of a struct frozen for that
//! version (modules [`v1`] to [`v6`]). When a type changes, the new shape goes into a new
//! module and `decode` gains an arm converting the old bytes forward, so values written by an
//! older metad always decode. A version this build does not know is a clear
//! error, never a misread.
//!
//! Version 2 changed the directory entry (a directory gained the payload of the S3 object `x/`
//! and a bucket record) and added the access key. Version 3 ([`v3`]) changed the file (part
//! sizes), the file chunk row (a slice of a stored chunk) and the session (the part it
//! writes), and added the multipart values. Version 4 ([`v4`]) changed the directory entry
//! again (the payload of `x/` holds data: size, chunk count, part sizes). Version 5 ([`v5`])
//! typed the S3 flexible checksums of the directory entry, the upload and the part (see [`v5`]
//! for how older ones upgrade). Version 6 ([`v6`]) added the persistent work items of the
//! bounded background jobs. Version 8 ([`v8`]) gave each row of a file's chunk map its offset
//! in the file ([`ChunkRow`]); a row of an older version decodes with no offset. Version 9
//! ([`v9`]) added the outcome of a committed write session ([`ClosedSession`]). Every other
//! type is still written as the version it was born in.

use super::StoreError;
use bincode::Options;

pub mod v3;
pub mod v4;
pub mod v5;
pub mod v6;
pub mod v8;
pub mod v9;

pub use v1::{ChunkLoc, Counter, Node, NodeState, Present, QueueItem, Schema, SessionChunk};
pub use v2::{AccessKey, BucketRecord, Grant};
pub use v3::{FileChunk, PartTarget, Session, UploadRef};
pub use v5::{Checksum, Completion, Dentry, Dir, DirObject, File, Part};
pub use v6::{DetachedTree, NodeSweep};
pub use v8::{Assembly, ChunkRow, MapShare, Upload, UploadState};
pub use v9::{ClosedAnswer, ClosedSession};

/// Largest value we encode or decode; a corrupt length prefix must not allocate gigabytes.
const MAX_VALUE_BYTES: u64 = 256 * 1024 * 1024;

/// The bincode configuration of every stored value. Frozen: changing it changes the format.
fn codec() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_VALUE_BYTES)
}

/// A value type kept in RocksDB.
pub trait Value: Sized {
    /// What the value is, for error messages.
    const WHAT: &'static str;
    /// The version byte followed by the encoding of the current version.
    fn encode(&self) -> Result<Vec<u8>, StoreError>;
    /// Decodes any version this build knows.
    fn decode(bytes: &[u8]) -> Result<Self, StoreError>;
}

/// Values of schema version 1. Frozen: never change these types, add to a later version instead.
pub mod v1 {
    use dfs_common::{ChunkId, InodeId, NodeId};
    use serde::{Deserialize, Serialize};

    /// A directory entry.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Dentry {
        /// A directory (its key-form name ends in `/`).
        Dir(Dir),
        /// A file.
        File(File),
    }

    /// A directory.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Dir {
        /// Its inode: the parent id of its children's keys.
        pub inode: InodeId,
        /// Creation or last change of its own entry, Unix milliseconds.
        pub mtime_ms: u64,
        /// Created on purpose (mkdir, bucket, S3 `x/`) rather than implied by a child; implicit
        /// directories disappear with their last child.
        pub explicit: bool,
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
    }

    /// One chunk of a file (`chunks` table).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct FileChunk {
        /// The chunk.
        pub chunk: ChunkId,
        /// Its length.
        pub len: u64,
        /// CRC32C of its bytes.
        pub crc32c: u32,
    }

    /// Where a chunk lives and how many files use it (`chunk_loc` table).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ChunkLoc {
        /// Nodes believed to hold a good copy (live or dead).
        pub replicas: Vec<NodeId>,
        /// Its length.
        pub len: u64,
        /// CRC32C of its bytes.
        pub crc32c: u32,
        /// Files referencing it (copies share chunks); 0 means it waits for GC.
        pub refcount: u64,
    }

    /// Life cycle of a node.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub enum NodeState {
        /// Heartbeating.
        Active,
        /// Timed out; its chunks are re-replicated.
        Dead,
    }

    /// A chunkd (`node` table).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Node {
        /// `host:port` of its chunk service.
        pub addr: String,
        /// Bytes it may use.
        pub capacity: u64,
        /// Bytes in use.
        pub used: u64,
        /// Active or dead.
        pub state: NodeState,
    }

    /// A chunk handed out to a write session, with the nodes chosen for it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SessionChunk {
        /// The chunk.
        pub id: ChunkId,
        /// Every node chosen for it (first placement and replacements).
        pub nodes: Vec<NodeId>,
    }

    /// An open write (`session` table).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Session {
        /// The path the file gets at commit.
        pub path: String,
        /// Unix milliseconds of `begin_write`.
        pub created_ms: u64,
        /// Chunks allocated so far.
        pub chunks: Vec<SessionChunk>,
    }

    /// Work in `gc_queue` or `repair_queue`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct QueueItem {
        /// Failed attempts so far (drives the backoff).
        pub attempts: u32,
        /// GC: nodes to delete the chunk from (besides those of an unreferenced `chunk_loc`).
        pub nodes: Vec<NodeId>,
        /// Why the work was queued, for logs.
        pub reason: String,
    }

    /// An id counter in `meta`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Counter {
        /// Ids below this may have been handed out.
        pub next: u64,
    }

    /// The value of rows whose key says everything (`node_chunk`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Present;

    /// The schema marker in `meta`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Schema {
        /// Schema version of the database.
        pub version: u32,
    }
}

/// Values of schema version 2 that differ from version 1, or are new. Frozen likewise.
pub mod v2 {
    use super::v1;
    use dfs_common::InodeId;
    use serde::{Deserialize, Serialize};

    /// A directory entry.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Dentry {
        /// A directory (its key-form name ends in `/`).
        Dir(Dir),
        /// A file (unchanged since version 1).
        File(v1::File),
    }

    /// A directory.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Dir {
        /// Its inode: the parent id of its children's keys.
        pub inode: InodeId,
        /// Creation or last change of its own entry (and of its payload), Unix milliseconds.
        pub mtime_ms: u64,
        /// Created on purpose (mkdir, bucket, S3 `x/`) rather than implied by a child; implicit
        /// directories disappear with their last child. Below a bucket an explicit directory
        /// is the S3 object `x/`.
        pub explicit: bool,
        /// The payload of the object `x/` as given by S3 `PUT x/`; `None` for a plain mkdir
        /// (the object then shows the ETag of nothing) and for implicit directories.
        pub object: Option<DirObject>,
        /// Top-level directories made by this version: the bucket record.
        pub bucket: Option<BucketRecord>,
    }

    /// The payload of an explicit directory's object `x/`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DirObject {
        /// The ETag.
        pub etag: String,
        /// Content type given at write time.
        pub content_type: Option<String>,
        /// User metadata and stored headers.
        pub meta: Vec<(String, String)>,
    }

    /// What a top-level directory knows as a bucket.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BucketRecord {
        /// Creation time, Unix milliseconds.
        pub created_ms: u64,
        /// The access key that created it.
        pub owner: Option<String>,
    }

    /// An S3 access key (`access_key` table, keyed by the key id).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct AccessKey {
        /// A name for people.
        pub name: String,
        /// Creation time, Unix milliseconds.
        pub created_ms: u64,
        /// The secret, encrypted with a keystream derived from the cluster secret (see
        /// `access::seal`).
        pub sealed_secret: Vec<u8>,
        /// HMAC of the key id and `sealed_secret` under the cluster secret.
        pub tag: Vec<u8>,
        /// Rights on buckets, by bucket name.
        pub grants: Vec<Grant>,
    }

    /// An access key's rights on one bucket.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Grant {
        /// The bucket's name.
        pub bucket: String,
        /// May list and read.
        pub read: bool,
        /// May write and delete.
        pub write: bool,
        /// May administer the bucket.
        pub owner: bool,
    }

    impl From<v1::Dentry> for Dentry {
        fn from(old: v1::Dentry) -> Dentry {
            match old {
                v1::Dentry::Dir(dir) => Dentry::Dir(Dir {
                    inode: dir.inode,
                    mtime_ms: dir.mtime_ms,
                    explicit: dir.explicit,
                    object: None,
                    bucket: None,
                }),
                v1::Dentry::File(file) => Dentry::File(file),
            }
        }
    }
}

/// Whether a directory entry is a directory (its key-form name must then end in `/`).
pub fn dentry_kind(dentry: &Dentry) -> bool {
    matches!(dentry, Dentry::Dir(_))
}

/// The version byte followed by the encoding of `value`.
fn encode_as<T: serde::Serialize>(
    version: u8,
    value: &T,
    what: &str,
) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![version];
    codec()
        .serialize_into(&mut bytes, value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode {what}: {e}")))?;
    Ok(bytes)
}

/// Decodes the bytes after the version byte as `T`.
fn decode_as<T: serde::de::DeserializeOwned>(
    rest: &[u8],
    version: u8,
    what: &str,
) -> Result<T, StoreError> {
    codec().deserialize(rest).map_err(|e| {
        StoreError::Corrupt(format!("undecodable {what} value (version {version}): {e}"))
    })
}

/// The error for a version byte this build does not know, or no bytes at all.
fn bad_version(version: Option<u8>, what: &str) -> StoreError {
    match version {
        Some(version) => StoreError::Corrupt(format!(
            "{what} value has unknown version {version} (written by a newer metad?)"
        )),
        None => StoreError::Corrupt(format!("empty {what} value")),
    }
}

/// Types with a single version so far.
macro_rules! versioned {
    ($($ty:ident => $what:literal, $version:literal);* $(;)?) => {$(
        impl Value for $ty {
            const WHAT: &'static str = $what;

            fn encode(&self) -> Result<Vec<u8>, StoreError> {
                encode_as($version, self, Self::WHAT)
            }

            fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
                match bytes.split_first() {
                    Some(($version, rest)) => decode_as(rest, $version, Self::WHAT),
                    other => Err(bad_version(other.map(|(v, _)| *v), Self::WHAT)),
                }
            }
        }
    )*};
}

versioned!(
    ChunkLoc => "chunk location", 1;
    Node => "node", 1;
    QueueItem => "queue item", 1;
    Counter => "counter", 1;
    Schema => "schema", 1;
    Present => "marker", 1;
    AccessKey => "access key", 2;
    UploadRef => "upload index", 3;
    DetachedTree => "detached tree", 6;
    NodeSweep => "node sweep", 6;
    MapShare => "chunk map share", 8;
    ClosedSession => "closed session", 9;
    SessionChunk => "session chunk", 1;
);

impl Value for Dentry {
    const WHAT: &'static str = "directory entry";

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        encode_as(5, self, Self::WHAT)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        // Each older version converts forward one step at a time.
        let v4 = match bytes.split_first() {
            Some((1, rest)) => decode_as::<v1::Dentry>(rest, 1, Self::WHAT)
                .map(|old| v4::Dentry::from(v3::Dentry::from(v2::Dentry::from(old)))),
            Some((2, rest)) => decode_as::<v2::Dentry>(rest, 2, Self::WHAT)
                .map(|old| v4::Dentry::from(v3::Dentry::from(old))),
            Some((3, rest)) => decode_as::<v3::Dentry>(rest, 3, Self::WHAT).map(v4::Dentry::from),
            Some((4, rest)) => decode_as::<v4::Dentry>(rest, 4, Self::WHAT),
            Some((5, rest)) => return decode_as(rest, 5, Self::WHAT),
            other => Err(bad_version(other.map(|(v, _)| *v), Self::WHAT)),
        };
        v4.map(Dentry::from)
    }
}

impl Value for Upload {
    const WHAT: &'static str = "upload";

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        encode_as(8, self, Self::WHAT)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((3, rest)) => decode_as::<v3::Upload>(rest, 3, Self::WHAT)
                .map(v5::Upload::from)
                .map(Upload::from),
            Some((5, rest)) => decode_as::<v5::Upload>(rest, 5, Self::WHAT).map(Upload::from),
            Some((8, rest)) => decode_as(rest, 8, Self::WHAT),
            other => Err(bad_version(other.map(|(v, _)| *v), Self::WHAT)),
        }
    }
}

impl Value for Part {
    const WHAT: &'static str = "part";

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        encode_as(5, self, Self::WHAT)
    }

    /// A version 3 part decodes without its checksum (logged): its algorithm is in its upload.
    /// The store's upgrade at open rewrites every version 3 part with the right one (see
    /// [`decode_v3_part`]), so this arm only serves a part the upgrade could not reach.
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((3, rest)) => {
                decode_as::<v3::Part>(rest, 3, Self::WHAT).map(|old| Part::from_v3(old, None))
            }
            Some((5, rest)) => decode_as(rest, 5, Self::WHAT),
            other => Err(bad_version(other.map(|(v, _)| *v), Self::WHAT)),
        }
    }
}

/// The frozen version 3 part in `bytes`, if they hold one (`None` for any other version):
/// what the upgrade at open types with the upload's algorithm.
pub fn decode_v3_part(bytes: &[u8]) -> Result<Option<v3::Part>, StoreError> {
    match bytes.split_first() {
        Some((3, rest)) => decode_as(rest, 3, Part::WHAT).map(Some),
        _ => Ok(None),
    }
}

impl Value for FileChunk {
    const WHAT: &'static str = "file chunk";

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        encode_as(3, self, Self::WHAT)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((1, rest)) => decode_as::<v1::FileChunk>(rest, 1, Self::WHAT).map(Self::from),
            Some((3, rest)) => decode_as(rest, 3, Self::WHAT),
            Some((8, rest)) => decode_as::<ChunkRow>(rest, 8, Self::WHAT).map(|row| row.slice),
            other => Err(bad_version(other.map(|(v, _)| *v), Self::WHAT)),
        }
    }
}

/// A chunk map row as stored, with the slice's offset in its file when the row has one (rows
/// written before schema version 8 do not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChunkRow {
    /// Where the slice starts in the file, when the row records it.
    pub offset: Option<u64>,
    /// The slice.
    pub slice: FileChunk,
}

impl Value for ChunkRow {
    const WHAT: &'static str = "file chunk";

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        encode_as(8, self, Self::WHAT)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((8, rest)) => decode_as(rest, 8, Self::WHAT),
            other => Err(bad_version(other.map(|(v, _)| *v), Self::WHAT)),
        }
    }
}

impl Value for StoredChunkRow {
    const WHAT: &'static str = "file chunk";

    /// Written as a [`ChunkRow`] when the offset is known, else as a bare slice (version 3).
    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        match self.offset {
            Some(offset) => ChunkRow {
                offset,
                slice: self.slice.clone(),
            }
            .encode(),
            None => self.slice.encode(),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.first() {
            Some(8) => ChunkRow::decode(bytes).map(|row| StoredChunkRow {
                offset: Some(row.offset),
                slice: row.slice,
            }),
            _ => FileChunk::decode(bytes).map(|slice| StoredChunkRow {
                offset: None,
                slice,
            }),
        }
    }
}

impl Value for Session {
    const WHAT: &'static str = "session";

    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        encode_as(3, self, Self::WHAT)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((1, rest)) => decode_as::<v1::Session>(rest, 1, Self::WHAT).map(Self::from),
            Some((3, rest)) => decode_as(rest, 3, Self::WHAT),
            other => Err(bad_version(other.map(|(v, _)| *v), Self::WHAT)),
        }
    }
}

#[cfg(test)]
mod tests;

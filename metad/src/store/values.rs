//! The values metad stores, with their on-disk versions.
//!
//! Every value is one version byte followed by the bincode encoding of a struct frozen for that
//! version (module [`v1`]). A later schema adds a `v2` module and a new match arm in `decode`
//! that converts old bytes forward, so values written by an older metad always decode. A version
//! this build does not know is a clear error, never a misread.

use super::StoreError;
use bincode::Options;

pub use v1::*;

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

/// Values of schema version 1. Frozen: never change these types, add a `v2` instead.
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
        /// Unix milliseconds of `open`.
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

/// Whether a directory entry is a directory (its key-form name must then end in `/`).
pub fn dentry_kind(dentry: &Dentry) -> bool {
    matches!(dentry, Dentry::Dir(_))
}

macro_rules! versioned {
    ($($ty:ident => $what:literal),* $(,)?) => {$(
        impl Value for $ty {
            const WHAT: &'static str = $what;

            fn encode(&self) -> Result<Vec<u8>, StoreError> {
                let mut bytes = vec![1u8];
                codec()
                    .serialize_into(&mut bytes, self)
                    .map_err(|e| StoreError::Corrupt(format!("cannot encode {}: {e}", Self::WHAT)))?;
                Ok(bytes)
            }

            fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
                match bytes.split_first() {
                    Some((1, rest)) => codec().deserialize(rest).map_err(|e| {
                        StoreError::Corrupt(format!("undecodable {} value (version 1): {e}", Self::WHAT))
                    }),
                    Some((version, _)) => Err(StoreError::Corrupt(format!(
                        "{} value has unknown version {version} (written by a newer metad?)",
                        Self::WHAT
                    ))),
                    None => Err(StoreError::Corrupt(format!("empty {} value", Self::WHAT))),
                }
            }
        }
    )*};
}

versioned!(
    Dentry => "directory entry",
    FileChunk => "file chunk",
    ChunkLoc => "chunk location",
    Node => "node",
    Session => "session",
    QueueItem => "queue item",
    Counter => "counter",
    Schema => "schema",
    Present => "marker",
);

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::{ChunkId, InodeId, NodeId};

    #[test]
    fn round_trip_with_version_byte() {
        let value = Dentry::File(File {
            inode: InodeId(7),
            size: 3,
            etag: "\"abc\"".into(),
            mtime_ms: 9,
            content_type: Some("text/plain".into()),
            meta: vec![("k".into(), "v".into())],
            chunk_count: 1,
        });
        let bytes = value.encode().unwrap();
        assert_eq!(bytes[0], 1);
        assert_eq!(Dentry::decode(&bytes).unwrap(), value);
        let loc = ChunkLoc {
            replicas: vec![NodeId(1), NodeId(2)],
            len: 5,
            crc32c: 6,
            refcount: 1,
        };
        assert_eq!(ChunkLoc::decode(&loc.encode().unwrap()).unwrap(), loc);
        let row = FileChunk {
            chunk: ChunkId(3),
            len: 1,
            crc32c: 2,
        };
        assert_eq!(FileChunk::decode(&row.encode().unwrap()).unwrap(), row);
    }

    #[test]
    fn unknown_version_and_garbage_are_clear_errors() {
        let err = Counter::decode(&[9, 1, 2]).unwrap_err().to_string();
        assert!(err.contains("unknown version 9"), "{err}");
        assert!(Counter::decode(&[]).is_err());
        assert!(Dentry::decode(&[1, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        // A huge length prefix must fail cleanly, not allocate.
        assert!(
            Session::decode(&[1, 1, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err()
        );
    }
}

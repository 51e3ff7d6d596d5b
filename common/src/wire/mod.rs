//! The typed requests and answers of metad's RPC (`POST /rpc/<method>`, JSON bodies) and the
//! conventions of chunkd's HTTP interface.
//!
//! Each request type implements [`Rpc`], which names its method and its answer type, so a call
//! site reads `metad.call(&StatReq { .. })` and gets a `StatResp` back.

use crate::checksum::Checksum;
use crate::{ChunkId, InodeId, NodeId, SessionId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A metad RPC: its method name (the URL is `/rpc/<METHOD>`), its answer, and whether it may
/// be sent again when its first outcome is unknown.
pub trait Rpc: Serialize + DeserializeOwned {
    /// The method name.
    const METHOD: &'static str;
    /// Whether the call may be repeated after an attempt whose outcome is unknown.
    const REPEAT: Repeat;
    /// The answer type.
    type Response: Serialize + DeserializeOwned;
}

/// Whether an RPC may be sent again after an attempt that may or may not have been done (no
/// answer, a reset connection). A request that was never delivered, or that metad refused
/// with 503, may always be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, and writes whose repetition leaves the same state (a second `begin_write`
    /// only leaves a session the reaper collects).
    Always,
    /// Writes named by an idempotency token (a write session, an upload): a repetition after
    /// the first was done answers that the token is gone, which the caller checks.
    WithToken,
    /// Writes whose repetition would do something twice or fail misleadingly.
    Never,
}

macro_rules! rpc {
    ($req:ty, $method:literal, $resp:ty, $repeat:ident) => {
        impl Rpc for $req {
            const METHOD: &'static str = $method;
            const REPEAT: Repeat = Repeat::$repeat;
            type Response = $resp;
        }
    };
}

// The S3-facing RPCs (buckets, access keys, listings), re-exported here.
mod s3;
pub use s3::*;

// S3 multipart uploads, re-exported here.
mod multipart;
pub use multipart::*;

/// An empty answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

// ---------------------------------------------------------------------------------------------
// Nodes

/// Life cycle of a chunkd as metad sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    /// Heartbeating; receives new chunks.
    Active,
    /// Missed heartbeats for longer than the dead timeout; its chunks are being re-replicated.
    Dead,
}

/// A chunkd as listed by `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// `host:port` of its chunk service.
    pub addr: String,
    /// Bytes of disk the node may use.
    pub capacity: u64,
    /// Bytes of disk in use.
    pub used: u64,
    /// Active or dead.
    pub state: NodeState,
    /// Milliseconds since the last heartbeat metad received (since metad started if none).
    pub last_heartbeat_ms_ago: u64,
    /// How many chunk replicas metad believes the node holds.
    pub chunks: u64,
}

/// A chunkd announces itself (at start, and whenever metad does not know it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterReq {
    /// The id kept in the chunkd's data folder; `None` on its very first start.
    pub node_id: Option<NodeId>,
    /// `host:port` where its chunk service listens.
    pub addr: String,
    /// Bytes of disk the node may use.
    pub capacity: u64,
    /// Bytes in use.
    pub used: u64,
    /// Every chunk the node holds, so metad can reconcile after an absence.
    pub chunks: Vec<ChunkId>,
}

/// The answer to [`RegisterReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterResp {
    /// The node's id (new if it had none).
    pub node_id: NodeId,
    /// How often to heartbeat.
    pub heartbeat_interval_ms: u64,
    /// Chunks metad does not reference: the node deletes them.
    pub delete: Vec<ChunkId>,
}
rpc!(RegisterReq, "register", RegisterResp, Never);

/// A chunkd's periodic sign of life.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeartbeatReq {
    /// The node's id.
    pub node_id: NodeId,
    /// `host:port` of its chunk service (it may have moved).
    pub addr: String,
    /// Bytes of disk the node may use.
    pub capacity: u64,
    /// Bytes in use.
    pub used: u64,
}

/// The answer to [`HeartbeatReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeartbeatResp {
    /// `false` when metad does not know the node (its state was lost): register again.
    pub known: bool,
}
rpc!(HeartbeatReq, "heartbeat", HeartbeatResp, Always);

/// A chunkd found a replica that fails its checksum and quarantined it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportBadChunkReq {
    /// The reporting node.
    pub node_id: NodeId,
    /// The corrupt chunk.
    pub chunk_id: ChunkId,
}
rpc!(ReportBadChunkReq, "report_bad_chunk", Empty, Always);

/// Cluster overview for `dfs status`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StatusReq {}

/// The answer to [`StatusReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusResp {
    /// Every registered chunkd.
    pub nodes: Vec<NodeInfo>,
    /// The replication factor.
    pub replication: u32,
    /// Chunks in the cluster.
    pub chunks: u64,
    /// Chunks with fewer live replicas than the replication factor.
    pub under_replicated: u64,
    /// Chunks waiting in the repair queue.
    pub repair_queue: u64,
    /// Chunks waiting in the garbage-collection queue.
    pub gc_queue: u64,
}
rpc!(StatusReq, "status", StatusResp, Always);

// ---------------------------------------------------------------------------------------------
// Namespace

/// File or directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A regular file (an S3 object).
    File,
    /// A directory (a bucket at the top level, a prefix below).
    Dir,
}

/// One namespace entry as seen by clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The entry's name in its parent, in key form: a directory's name ends in `/`.
    /// The root's name is `/`.
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Its inode.
    pub inode: InodeId,
    /// Bytes of data (for a directory: of its object `x/`'s payload, 0 when it is none).
    pub size: u64,
    /// Last modification, milliseconds since the Unix epoch.
    pub mtime_ms: u64,
    /// The S3 ETag (quoted hex MD5, or multipart form). Directories: for an explicit directory
    /// below a bucket (the S3 object `x/`) the ETag of its payload, or [`EMPTY_ETAG`] when it was
    /// made without one (`mkdir`); empty for buckets, the root and implicit directories.
    pub etag: String,
    /// Content type given at write time.
    pub content_type: Option<String>,
    /// User metadata and stored headers, as given at write time.
    #[serde(default)]
    pub meta: Vec<(String, String)>,
    /// The flexible checksum of the data (of a directory: of its object `x/`'s payload).
    #[serde(default)]
    pub checksum: Option<Checksum>,
    /// Directories: created explicitly (mkdir, S3 `x/` marker) rather than implied by a child.
    pub explicit: bool,
    /// Files and directory objects: how many chunks hold the data.
    pub chunk_count: u64,
    /// Files made by completing a multipart upload: the size of each part, in order (S3
    /// `partNumber` reads and `x-amz-mp-parts-count`). Empty for every other entry.
    #[serde(default)]
    pub part_sizes: Vec<u64>,
}

impl Entry {
    /// Whether this entry, found by looking up a path, is the S3 object that path names: the
    /// one definition the client and the gateway share.
    ///
    /// A path ending in `/` (`path_names_dir`, as [`crate::names::ObjectKey::names_dir`] says of
    /// a key) names the object `x/`: a directory with an ETag, which metad gives exactly to
    /// explicit directories below a bucket (never to buckets, the root or implicit
    /// directories). Any other path names a file only: without a file `x`, metad's lookup of
    /// `x` falls back to the directory `x/`, which is not that object.
    pub fn is_object(&self, path_names_dir: bool) -> bool {
        if path_names_dir {
            self.kind == EntryKind::Dir && !self.etag.is_empty()
        } else {
            self.kind == EntryKind::File
        }
    }
}

/// Where one replica of a chunk lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    /// The chunkd.
    pub node: NodeId,
    /// Its `host:port`.
    pub addr: String,
    /// Whether metad currently considers it alive.
    pub live: bool,
}

/// One piece of a file, in file order: a slice of a stored chunk (often all of it). Files
/// made by copying a range or by completing a multipart upload share slices of other files'
/// chunks instead of copying bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    /// The stored chunk.
    pub id: ChunkId,
    /// Offset of the slice's first byte in the file.
    pub offset: u64,
    /// The slice's length in bytes.
    pub len: u64,
    /// CRC32C of the whole stored chunk (not of the slice): check it only when reading the
    /// whole chunk ([`ChunkInfo::is_whole_chunk`]); a partial read relies on chunkd's block
    /// checksums.
    pub crc32c: u32,
    /// Its replicas, live ones first.
    pub replicas: Vec<Replica>,
    /// Bytes of the stored chunk before the slice (0 for a whole chunk).
    #[serde(default)]
    pub chunk_offset: u64,
    /// The stored chunk's full length; 0 (from an older metad) means the same as `len`.
    #[serde(default)]
    pub chunk_len: u64,
}

impl ChunkInfo {
    /// The stored chunk's full length (`chunk_len`, or `len` when that is 0).
    pub fn stored_len(&self) -> u64 {
        if self.chunk_len == 0 {
            self.len
        } else {
            self.chunk_len
        }
    }

    /// Whether the slice is the whole stored chunk.
    pub fn is_whole_chunk(&self) -> bool {
        self.chunk_offset == 0 && self.len == self.stored_len()
    }
}

/// Look up one path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatReq {
    /// Absolute path.
    pub path: String,
    /// Also return the chunk list with replica locations (of a file, or of the payload of a
    /// directory object).
    pub with_chunks: bool,
}

/// The answer to [`StatReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatResp {
    /// The entry.
    pub entry: Entry,
    /// Its chunks, when asked for and the entry is a file or a directory object.
    pub chunks: Vec<ChunkInfo>,
}
rpc!(StatReq, "stat", StatResp, Always);

/// Create a directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MkdirReq {
    /// Absolute path of the new directory.
    pub path: String,
    /// Create missing parents too (explicitly), and succeed if it already exists as a directory.
    pub parents: bool,
    /// Make the directory the empty S3 object `x/` with this payload (what a commit to `x/`
    /// without data does). Then the path must be below a bucket, missing parents are created
    /// implicitly (as a commit does, whatever `parents` says), and an existing directory is not
    /// an error: it becomes explicit and its payload (data included) is replaced.
    #[serde(default)]
    pub object: Option<DirObject>,
}
rpc!(MkdirReq, "mkdir", Entry, Never);

/// The ETag of an empty object (quoted hex MD5 of nothing): what an explicit directory made
/// without a payload shows as the object `x/`.
pub const EMPTY_ETAG: &str = "\"d41d8cd98f00b204e9800998ecf8427e\"";

/// The S3 view of an explicit directory `x/` without data, for [`MkdirReq::object`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirObject {
    /// Its ETag (the MD5 of nothing, [`EMPTY_ETAG`], for a plain empty PUT).
    pub etag: String,
    /// Content type given at write time.
    pub content_type: Option<String>,
    /// User metadata and stored headers, as given at write time.
    #[serde(default)]
    pub meta: Vec<(String, String)>,
    /// Its flexible checksum (of no data), if the writer gave one.
    #[serde(default)]
    pub checksum: Option<Checksum>,
}

/// List a directory, one page at a time, in key order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListReq {
    /// Absolute path of the directory.
    pub path: String,
    /// Only entries whose key-form name sorts strictly after this.
    pub start_after: Option<String>,
    /// At most this many entries (metad caps it at 1000).
    pub limit: u32,
}

/// The answer to [`ListReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListResp {
    /// Entries in key order.
    pub entries: Vec<Entry>,
    /// Whether more entries follow the last one returned.
    pub truncated: bool,
}
rpc!(ListReq, "list", ListResp, Always);

/// Start writing a file: opens a write session (the client library's `DfsClient::create`),
/// which is not a read handle; reads need no session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BeginWriteReq {
    /// Absolute path the file will have once committed. A path ending in `/` writes the
    /// payload of the directory object `x/` (see [`CommitReq`]).
    pub path: String,
}

/// The answer to [`BeginWriteReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WriteSession {
    /// The write session.
    pub session: SessionId,
    /// Bytes per chunk to cut the data into.
    pub chunk_size: u64,
    /// Replicas to write of each chunk.
    pub replication: u32,
}
rpc!(BeginWriteReq, "begin_write", WriteSession, Always);

/// Reserve a new chunk id and choose its replicas.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AllocChunkReq {
    /// The write session.
    pub session: SessionId,
    /// Nodes not to use (they just failed).
    pub exclude: Vec<NodeId>,
}

/// The answer to [`AllocChunkReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AllocChunkResp {
    /// The new chunk id.
    pub chunk_id: ChunkId,
    /// Where to write it: `replication` distinct live nodes.
    pub replicas: Vec<Replica>,
}
rpc!(AllocChunkReq, "alloc_chunk", AllocChunkResp, Always);

/// Choose one more node for a chunk whose replica write failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplaceReplicaReq {
    /// The write session.
    pub session: SessionId,
    /// The chunk.
    pub chunk_id: ChunkId,
    /// Nodes not to use: those holding it already and those that failed.
    pub exclude: Vec<NodeId>,
}
rpc!(ReplaceReplicaReq, "replace_replica", Replica, Never);

/// A chunk as written by the client, for [`CommitReq`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenChunk {
    /// The chunk.
    pub id: ChunkId,
    /// Its length.
    pub len: u64,
    /// CRC32C of its bytes, as every replica acknowledged it.
    pub crc32c: u32,
    /// The nodes that acknowledged a synced copy.
    pub replicas: Vec<NodeId>,
}

/// Make a written file visible, atomically replacing any file at its path. When the path ends
/// in `/` the data becomes the payload of the directory `x/` instead (made explicit, created
/// with implicit parents if missing), replacing its previous payload, whose chunks are
/// released; the answer is then the directory's entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommitReq {
    /// The write session (it knows the path).
    pub session: SessionId,
    /// Total size; must equal the sum of the chunk lengths.
    pub size: u64,
    /// The S3 ETag (quoted hex MD5 of the data).
    pub etag: String,
    /// Content type to store.
    pub content_type: Option<String>,
    /// User metadata and stored headers.
    #[serde(default)]
    pub meta: Vec<(String, String)>,
    /// The flexible checksum of the data, as verified by the writer, to store.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    /// The chunks in file order.
    pub chunks: Vec<WrittenChunk>,
    /// Fail with `PreconditionFailed` if an object exists at the path at commit time (S3
    /// `If-None-Match: *`; for a path ending in `/`, an explicit directory). Checked
    /// atomically with the commit.
    #[serde(default)]
    pub if_none_match: bool,
    /// Fail with `PreconditionFailed` unless a file exists at the path and its ETag matches (S3
    /// `If-Match`): `*` matches any file; otherwise a comma-separated list of ETags, compared
    /// without their double quotes. Checked atomically with the commit. When a precondition
    /// fails the session stays open (as after any failed commit): abort it.
    #[serde(default)]
    pub if_match: Option<String>,
}
rpc!(CommitReq, "commit", Entry, WithToken);

/// Give up a write session; its chunks are collected.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AbortReq {
    /// The write session.
    pub session: SessionId,
}
rpc!(AbortReq, "abort", Empty, WithToken);

/// Delete a file or a directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeleteReq {
    /// Absolute path.
    pub path: String,
    /// Delete a non-empty directory with everything below it.
    pub recursive: bool,
    /// S3 DeleteObject semantics: a path without a trailing `/` names only the file (never the
    /// directory of that name); a path ending in `/` names the object `x/` of an explicit
    /// directory: if the directory still has children only its payload (and its data) goes (it
    /// becomes implicit), otherwise it is removed with the implicit parents it leaves empty. A missing
    /// object (no such file, or a directory that is not explicit) is `NotFound`, like a missing
    /// file, for the gateway to map to 204. `recursive` is ignored.
    #[serde(default)]
    pub object: bool,
}
rpc!(DeleteReq, "delete", Empty, Never);

/// Rename a file or a whole directory, atomically.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RenameReq {
    /// Current absolute path.
    pub src: String,
    /// New absolute path. An existing file there is replaced; an existing directory is an error.
    pub dst: String,
}
rpc!(RenameReq, "rename", Empty, Never);

/// Copy a file; the copy shares the source's chunks (no data moves). Either path may end in
/// `/`: it then names the payload of a directory object (the source must be an explicit
/// directory; the destination is made one).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CopyReq {
    /// Source file.
    pub src: String,
    /// Destination path; an existing file there is replaced. When it is the source itself, the
    /// file keeps its chunks and only its metadata (with `replace_meta`) and mtime change.
    pub dst: String,
    /// Give the copy this content type and user metadata instead of the source's (S3
    /// `x-amz-metadata-directive: REPLACE`).
    #[serde(default)]
    pub replace_meta: Option<ReplaceMeta>,
    /// Like [`CommitReq::if_match`], for the file at `dst`.
    #[serde(default)]
    pub if_match: Option<String>,
    /// Like [`CommitReq::if_none_match`], for the file at `dst`.
    #[serde(default)]
    pub if_none_match: bool,
    /// Fail with `PreconditionFailed` unless the source's ETag matches (same syntax as
    /// [`CommitReq::if_match`]; S3 `x-amz-copy-source-if-match`), checked atomically.
    #[serde(default)]
    pub src_if_match: Option<String>,
}
rpc!(CopyReq, "copy", Entry, Never);

/// New metadata for a copy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceMeta {
    /// Content type of the copy.
    pub content_type: Option<String>,
    /// User metadata and stored headers of the copy.
    #[serde(default)]
    pub meta: Vec<(String, String)>,
    /// The copy's flexible checksum (the copy has the source's bytes, so normally the
    /// source's, or `None` to drop it).
    #[serde(default)]
    pub checksum: Option<Checksum>,
}

// ---------------------------------------------------------------------------------------------
// chunkd HTTP interface (not RPC-typed: bodies are raw chunk bytes)

/// `PUT /chunk/<id>`: body is the chunk; `x-dfs-content: crc32c=<hex>` gives its checksum.
/// `GET /chunk/<id>` with optional `Range: bytes=A-B`; `DELETE /chunk/<id>`.
pub const CHUNK_PATH_PREFIX: &str = "/chunk/";
/// `POST /replicate/<id>?to=<host:port>`: copy a held chunk to another chunkd (metad's order).
pub const REPLICATE_PATH_PREFIX: &str = "/replicate/";
/// `GET /chunks`: the ids of every chunk held, as a JSON array of [`ChunkId`].
pub const LIST_CHUNKS_PATH: &str = "/chunks";

/// chunkd's answer to a successful chunk PUT.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkPutResp {
    /// Bytes stored.
    pub len: u64,
    /// CRC32C of the stored bytes.
    pub crc32c: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests from callers that predate a field still decode, with the field's default.
    #[test]
    fn older_requests_still_decode() {
        let mkdir: MkdirReq = serde_json::from_str(r#"{"path":"/b/x","parents":true}"#).unwrap();
        assert_eq!(mkdir.object, None);
        let delete: DeleteReq =
            serde_json::from_str(r#"{"path":"/b/x","recursive":false}"#).unwrap();
        assert!(!delete.object);
        let copy: CopyReq = serde_json::from_str(r#"{"src":"/b/x","dst":"/b/y"}"#).unwrap();
        assert!(copy.replace_meta.is_none() && copy.if_match.is_none() && !copy.if_none_match);
        let commit: CommitReq = serde_json::from_str(
            r#"{"session":1,"size":0,"etag":"","content_type":null,"chunks":[]}"#,
        )
        .unwrap();
        assert!(!commit.if_none_match && commit.if_match.is_none());
        let list: ListObjectsReq = serde_json::from_str(
            r#"{"bucket":"b","delimiter":null,"start_after":null,"max_keys":5}"#,
        )
        .unwrap();
        assert_eq!(list.prefix, "");
    }

    /// Answers from an older metad still decode: a chunk is then a whole stored chunk.
    #[test]
    fn older_answers_still_decode() {
        let chunk: ChunkInfo =
            serde_json::from_str(r#"{"id":7,"offset":10,"len":5,"crc32c":1,"replicas":[]}"#)
                .unwrap();
        assert_eq!((chunk.chunk_offset, chunk.stored_len()), (0, 5));
        assert!(chunk.is_whole_chunk());
        let slice = ChunkInfo {
            chunk_offset: 2,
            chunk_len: 9,
            ..chunk
        };
        assert!(!slice.is_whole_chunk());
        let entry: Entry = serde_json::from_str(
            r#"{"name":"x","kind":"File","inode":3,"size":0,"mtime_ms":0,"etag":"",
                "content_type":null,"explicit":false,"chunk_count":0}"#,
        )
        .unwrap();
        assert!(entry.part_sizes.is_empty());
    }
}

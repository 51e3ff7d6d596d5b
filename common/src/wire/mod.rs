//! The typed requests and answers of metad's RPC (`POST /rpc/<method>`, JSON bodies) and the
//! conventions of chunkd's HTTP interface.
//!
//! Each request type implements [`Rpc`], which names its method and its answer type, so a call
//! site reads `metad.call(&StatReq { .. })` and gets a `StatResp` back.
//!
//! Names in requests are typed: the namespace RPCs carry a [`DfsPath`](crate::path::DfsPath),
//! the S3-only ones a [`BucketName`](crate::names::BucketName) or an
//! [`ObjectPath`](crate::names::ObjectPath). Each travels as its plain string and is validated
//! by the same constructor when a message is decoded, so a malformed name is refused as a
//! malformed request (`InvalidArgument`) and metad never parses a path string itself.

use crate::{ChunkId, NodeId};
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

// The namespace (entries, lookups, listings, renames, copies) and write sessions, re-exported
// here.
mod ns;
pub use ns::*;

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
    /// Bytes the cluster can no longer count on: the capacity minus what the node can still
    /// take (its chunks, and whatever else fills its filesystem; all of it after a write
    /// found the disk full). metad places chunks by `capacity - used`.
    pub used: u64,
    /// Every chunk the node holds, so metad can reconcile after an absence. Empty with
    /// `paged`.
    pub chunks: Vec<ChunkId>,
    /// The chunks follow in [`ReconcileReq`] pages (absent from older chunkds, which send
    /// them all here).
    #[serde(default)]
    pub paged: bool,
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
    /// Bytes the cluster can no longer count on: the capacity minus what the node can still
    /// take (its chunks, and whatever else fills its filesystem; all of it after a write
    /// found the disk full). metad places chunks by `capacity - used`.
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
    /// Of those, the chunks with no live replica at all: their files cannot be read until a
    /// chunkd that held them returns (0 from a metad that predates the count).
    #[serde(default)]
    pub lost: u64,
    /// Chunks waiting in the repair queue.
    pub repair_queue: u64,
    /// Chunks waiting in the garbage-collection queue.
    pub gc_queue: u64,
    /// Directory trees removed by a recursive delete, and files of over 3,000 slices deleted
    /// or replaced, whose rows metad is still deleting in the background (0 from a metad that
    /// predates them).
    #[serde(default)]
    pub detached_trees: u64,
    /// Dead chunkds whose chunks metad is still queueing for repair, in batches (0 from a
    /// metad that predates them).
    #[serde(default)]
    pub dead_node_sweeps: u64,
    /// The members of the metad group, as the member that answered sees them (empty from a
    /// metad that predates them).
    #[serde(default)]
    pub metad: Vec<MetadMember>,
}
rpc!(StatusReq, "status", StatusResp, Always);

/// What a metad member does in its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadRole {
    /// It takes writes and serves reads.
    Leader,
    /// It replicates the leader's log.
    Follower,
    /// It is asking to be elected.
    Candidate,
    /// It catches up and does not vote yet.
    Learner,
}

/// One member of the metad group, as the member that answered sees it (a single metad is a
/// group of one). For another member, the leader knows only how much of its log matches its
/// own: that index is given as both its log and applied index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadMember {
    /// Its id in the group.
    pub id: u64,
    /// Its `host:port`.
    pub addr: String,
    /// Its role.
    pub role: MetadRole,
    /// The election term it is in.
    pub term: u64,
    /// The last entry of its log.
    pub last_log_index: u64,
    /// The last entry applied to its database.
    pub applied_index: u64,
}

/// Take an online snapshot of metad's database: a consistent RocksDB checkpoint written to a
/// new folder on metad's host, usable as it is as a metad data folder (the backup, and how a
/// metad is restored from it). On the data folder's filesystem it hard-links the immutable
/// table files, so it is fast and small until the database moves on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotReq {
    /// Absolute path, on metad's host, of a folder that does not exist yet (its parent must).
    pub dir: String,
}

/// The answer to [`SnapshotReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotResp {
    /// Files in the snapshot.
    pub files: u64,
    /// Their bytes (hard-linked files count in full).
    pub bytes: u64,
}
rpc!(SnapshotReq, "snapshot", SnapshotResp, Never);

/// Adds member `id` at `addr` to the metad group: it joins as a learner, catches up (from the
/// log, or by snapshot), then votes. The new member must run (started with `--id` and
/// `--peers`, empty). Adding a member that already votes at that address does nothing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetadAddReq {
    /// The new member's id (1 or more, not in use).
    pub id: u64,
    /// Its `host:port`.
    pub addr: String,
}
rpc!(MetadAddReq, "metad_add", Empty, Always);

/// Removes member `id` from the metad group (it stops voting and receiving the log). Removing
/// a member that is not in the group does nothing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetadRemoveReq {
    /// The member's id.
    pub id: u64,
}
rpc!(MetadRemoveReq, "metad_remove", Empty, Always);

/// Most chunk ids in one [`ReconcileReq`].
pub const MAX_RECONCILE_PAGE: usize = 10_000;

/// One page of a paged registration: the ids of the chunks the node holds after `after` (the
/// last id of the previous page), ascending. The pages cover the node's chunks in order; the
/// last one says so, and metad then knows the whole list. A page out of order is refused with
/// the detail `NoSuchSession`, and the node registers again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReconcileReq {
    /// The registering node.
    pub node_id: NodeId,
    /// The last chunk id of the previous page; `None` for the first page.
    pub after: Option<ChunkId>,
    /// At most [`MAX_RECONCILE_PAGE`] ids, strictly ascending, all above `after`.
    pub chunks: Vec<ChunkId>,
    /// Whether no chunk follows this page.
    pub last: bool,
}

/// The answer to [`ReconcileReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReconcileResp {
    /// Chunks of the page that metad does not reference: the node deletes them.
    pub delete: Vec<ChunkId>,
}
rpc!(ReconcileReq, "reconcile", ReconcileResp, Never);

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
            r#"{"bucket":"bkt","delimiter":null,"start_after":null,"max_keys":5}"#,
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

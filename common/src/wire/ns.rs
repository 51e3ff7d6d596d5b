//! The namespace RPCs (lookups, listings, directories, deletes, renames, copies) and the
//! write sessions that create files. Every path is a [`DfsPath`], parsed where the request is
//! built and again when metad decodes it, so metad never handles a path string.

use super::{Empty, Repeat, Rpc};
use crate::checksum::Checksum;
use crate::path::DfsPath;
use crate::{ChunkId, InodeId, NodeId, SessionId};
use serde::{Deserialize, Serialize};

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
    pub path: DfsPath,
    /// Also return the chunk list with replica locations (of a file, or of the payload of a
    /// directory object).
    pub with_chunks: bool,
    /// With `with_chunks`: only one page of the chunk list, from the slice that holds this
    /// byte (at most [`MAX_CHUNK_PAGE`] slices). Without it the whole list comes back, which
    /// metad refuses for files of more than [`MAX_WHOLE_CHUNK_MAP`] slices.
    #[serde(default)]
    pub chunks_from: Option<u64>,
    /// With `chunks_from`: the page stops before the first slice that starts at or after this
    /// byte (the end of the range the reader wants).
    #[serde(default)]
    pub chunks_until: Option<u64>,
}

impl StatReq {
    /// Asks for the entry at `path` only.
    pub fn entry(path: DfsPath) -> Self {
        StatReq {
            path,
            with_chunks: false,
            chunks_from: None,
            chunks_until: None,
        }
    }

    /// Asks for the entry at `path` and the page of its chunk list that covers bytes
    /// `[from, until)` (or starts it, when the range spans more than a page).
    pub fn chunk_page(path: DfsPath, from: u64, until: u64) -> Self {
        StatReq {
            path,
            with_chunks: true,
            chunks_from: Some(from),
            chunks_until: Some(until),
        }
    }
}

/// Most chunk slices in one page of a chunk list ([`StatReq::chunks_from`]): about 200 KiB of
/// answer, and one location read per slice.
pub const MAX_CHUNK_PAGE: usize = 1000;

/// Most chunk slices of a chunk list sent whole (a [`StatReq`] without `chunks_from`, as
/// clients before paging asked): 80 GiB of data at the default chunk size.
pub const MAX_WHOLE_CHUNK_MAP: u64 = 10_000;

/// Most chunks one write session may hold: a file written by [`BeginWriteReq`] or a part.
///
/// 78 GiB in metad's default 8 MiB chunks. An S3 PUT and a part (5 GiB at most) stay under it
/// in chunks of 512 KiB or more; a larger file is written as a multipart upload (`dfs put`
/// does so by itself). The cap bounds what one commit writes in one transaction (a few rows
/// per chunk, near the 10,000 rows metad holds every batch to) and the size of its request.
/// An allocation over it is `InvalidArgument` with the detail `EntityTooLarge`, and the
/// session stays open for an abort.
pub const MAX_SESSION_CHUNKS: usize = 10_000;

/// The answer to [`StatReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatResp {
    /// The entry.
    pub entry: Entry,
    /// Its chunks, when asked for and the entry is a file or a directory object: all of them,
    /// or the page asked for.
    pub chunks: Vec<ChunkInfo>,
    /// For a page: the offset of the first slice after it, when there is one (ask again from
    /// there for more).
    #[serde(default)]
    pub chunks_next: Option<u64>,
}
rpc!(StatReq, "stat", StatResp, Always);

/// Create a directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MkdirReq {
    /// Absolute path of the new directory.
    pub path: DfsPath,
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
    pub path: DfsPath,
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
    pub path: DfsPath,
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
    pub path: DfsPath,
    /// Delete a non-empty directory with everything below it. The directory leaves the
    /// namespace when the call returns; metad frees the rows and data below it in the
    /// background (`StatusResp::detached_trees` counts the trees still being deleted).
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
    pub src: DfsPath,
    /// New absolute path. An existing file there is replaced; an existing directory is an error.
    pub dst: DfsPath,
}
rpc!(RenameReq, "rename", Empty, Never);

/// Copy a file; the copy shares the source's chunks (no data moves). Either path may end in
/// `/`: it then names the payload of a directory object (the source must be an explicit
/// directory; the destination is made one).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CopyReq {
    /// Source file.
    pub src: DfsPath,
    /// Destination path; an existing file there is replaced. When it is the source itself, the
    /// file keeps its chunks and only its metadata (with `replace_meta`) and mtime change.
    pub dst: DfsPath,
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

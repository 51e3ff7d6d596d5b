//! The namespace: buckets, directories and files over the `dentry`, `chunks` and `chunk_loc`
//! tables, plus the write sessions that produce files, and S3 multipart uploads (`upload`,
//! `upload_id` and `part` tables; not namespace entries until completed).
//!
//! A file's `chunks` rows are slices of stored chunks (often whole ones), and every slice, of a
//! file or of a part, holds one reference on its chunk: copies, part copies and completions
//! share chunks instead of copying bytes, and a chunk goes to GC when its last slice goes.
//!
//! An S3 key ending in `/` is the object of an explicit directory: its payload (data included)
//! lives in the directory's entry and its chunk rows under the directory's inode, exactly like
//! a file's. Writes of either kind of object go through `target::Target`.
//!
//! Every mutation is one [`Txn`]: it reads, checks, stages its writes and commits them as one
//! synced batch, so a reader sees the namespace before or after a change, never in between.
//! None grows with the size of a directory tree: a recursive delete detaches the subtree at once and
//! deletes its rows in bounded background batches (`detached`).
//! Buckets are top-level directories; they are created and removed explicitly only. Directories
//! created on the way by a file (implicit ones) disappear in the same batch that removes their
//! last entry, so empty prefixes never linger (S3 has no directories).

mod bucket;
mod chunk_map;
mod closed;
mod delete;
pub mod detached;
mod list_objects;
mod lookup;
mod map_share;
mod multipart;
mod object;
mod rename;
mod session;
mod target;
mod write;

#[cfg(test)]
pub(crate) mod tests;

pub use closed::CLOSED_SESSION_RETENTION;
pub use session::Sessions;

use crate::nodes::Nodes;
use crate::store::queue::{self, Queue};
use crate::store::values::{dentry_kind, ChunkLoc, Dentry, Dir, DirObject, File, FileChunk};
use crate::store::{keys, Cf, IdKind, Reader, Store, StoreError, Txn};
use dfs_common::names::BucketName;
use dfs_common::path::DfsPath;
use dfs_common::wire::{
    Entry, EntryKind, EMPTY_ETAG, MAX_OBJECT_SLICES, MAX_PART_COPY_SLICES, MAX_SESSION_CHUNKS,
};
use dfs_common::{ChunkId, ErrorCode, InodeId, NodeId, RpcError};
use std::sync::Arc;

/// The namespace settings taken from the daemon's configuration.
#[derive(Clone, Debug)]
pub struct NsSettings {
    /// Replicas per chunk.
    pub replication: u32,
    /// Bytes per chunk, told to writers.
    pub chunk_size: u64,
    /// Delay before chunks of uncommitted writes are deleted.
    pub orphan_grace_ms: u64,
    /// How many slices a part copy, a completed object and a write session may hold.
    pub slice_caps: SliceCaps,
}

/// Caps on the slices of multipart objects: [`MAX_PART_COPY_SLICES`] and
/// [`MAX_OBJECT_SLICES`], on the chunks of a write session ([`MAX_SESSION_CHUNKS`]), and the
/// size of the steps of large completions and aborts (the defaults, which the daemon always
/// uses, are lowered by tests only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceCaps {
    /// Most slices of a part made by a part copy.
    pub part_copy: usize,
    /// Most slices of an object made by a completion.
    pub object: usize,
    /// Most chunks of one write session ([`MAX_SESSION_CHUNKS`]).
    pub session: usize,
    /// About how many slices one step of a completion or an abort moves or releases (whole
    /// parts): an upload of more completes and aborts in several transactions.
    pub step: usize,
}

impl Default for SliceCaps {
    fn default() -> Self {
        SliceCaps {
            part_copy: MAX_PART_COPY_SLICES,
            object: MAX_OBJECT_SLICES,
            session: MAX_SESSION_CHUNKS,
            step: detached::BATCH_ROWS,
        }
    }
}

/// The namespace service.
pub struct Namespace {
    store: Arc<Store>,
    nodes: Arc<Nodes>,
    sessions: Arc<Sessions>,
    settings: NsSettings,
    /// The time stamp of the last upload id handed out (see `multipart::new_upload_id`).
    upload_stamp: std::sync::Mutex<u64>,
}

impl Namespace {
    /// A namespace over `store`.
    pub fn new(
        store: Arc<Store>,
        nodes: Arc<Nodes>,
        sessions: Arc<Sessions>,
        settings: NsSettings,
    ) -> Self {
        Namespace {
            store,
            nodes,
            sessions,
            settings,
            upload_stamp: std::sync::Mutex::new(0),
        }
    }

    /// The open write sessions.
    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    fn new_inode(&self) -> Result<InodeId, StoreError> {
        Ok(InodeId(self.store.next_id(IdKind::Inode)?))
    }
}

/// A directory met while walking a path: where its entry is and what it says.
#[derive(Clone, Debug)]
struct DirStep {
    /// The directory holding the entry.
    parent: InodeId,
    /// The entry's key-form name (ends in `/`).
    key_name: String,
    /// The directory itself.
    dir: Dir,
}

/// Walks `components` from the root, each one a directory. `what` names the full path for
/// error messages.
fn walk_dirs(
    r: &impl Reader,
    components: &[String],
    what: &DfsPath,
) -> Result<Vec<DirStep>, RpcError> {
    let mut steps: Vec<DirStep> = Vec::with_capacity(components.len());
    let mut parent = InodeId::ROOT;
    for (i, name) in components.iter().enumerate() {
        let key_name = keys::entry_name(name, true);
        match get_dentry(r, parent, &key_name)? {
            Some(Dentry::Dir(dir)) => {
                let inode = dir.inode;
                steps.push(DirStep {
                    parent,
                    key_name,
                    dir,
                });
                parent = inode;
            }
            _ => {
                let missing = DfsPath {
                    components: components[..=i].to_vec(),
                    trailing_slash: true,
                };
                return Err(if i == 0 {
                    RpcError::no_such_bucket(format!("no such bucket {name:?} (in {what})"))
                } else {
                    RpcError::not_found(format!("no such directory {missing} (in {what})"))
                });
            }
        }
    }
    Ok(steps)
}

/// The inode of the last directory of a walk (the root for an empty one).
fn last_inode(steps: &[DirStep]) -> InodeId {
    steps.last().map_or(InodeId::ROOT, |s| s.dir.inode)
}

/// The entry stored under `parent` ‖ `key_name`, checked against the name's form.
fn get_dentry(
    r: &impl Reader,
    parent: InodeId,
    key_name: &str,
) -> Result<Option<Dentry>, StoreError> {
    let found = r.get::<Dentry>(Cf::Dentry, &keys::dentry(parent, key_name))?;
    match &found {
        Some(d) if dentry_kind(d) != key_name.ends_with('/') => Err(StoreError::Corrupt(format!(
            "entry {key_name:?} in directory {parent} has the wrong kind"
        ))),
        _ => Ok(found),
    }
}

/// Finds `name` in `parent`: the file `name` and, failing that, the directory `name/`. With
/// `dir_only` (the path ended in `/`), only the directory.
fn find_entry(
    r: &impl Reader,
    parent: InodeId,
    name: &str,
    dir_only: bool,
) -> Result<Option<(String, Dentry)>, StoreError> {
    if !dir_only {
        if let Some(file) = get_dentry(r, parent, name)? {
            return Ok(Some((name.to_owned(), file)));
        }
    }
    let key_name = keys::entry_name(name, true);
    Ok(get_dentry(r, parent, &key_name)?.map(|d| (key_name, d)))
}

/// The bucket of a path, which must exist.
fn bucket(r: &impl Reader, path: &DfsPath) -> Result<Dir, RpcError> {
    let name = path.components.first().map_or("", String::as_str);
    match get_dentry(r, InodeId::ROOT, &keys::entry_name(name, true))? {
        Some(Dentry::Dir(dir)) => Ok(dir),
        _ => Err(RpcError::no_such_bucket(format!(
            "no such bucket {name:?} (in {path})"
        ))),
    }
}

/// The bucket called `name` (a bare name, as S3 requests give it), which must exist.
fn bucket_by_name(r: &impl Reader, name: &BucketName) -> Result<Dir, RpcError> {
    match get_dentry(r, InodeId::ROOT, &keys::entry_name(name, true))? {
        Some(Dentry::Dir(dir)) => Ok(dir),
        _ => Err(RpcError::no_such_bucket(format!("no such bucket {name:?}"))),
    }
}

/// Checks that a path can name a file: inside a bucket and not ending in `/`.
fn check_file_path(path: &DfsPath) -> Result<(), RpcError> {
    if path.trailing_slash {
        return Err(RpcError::invalid(format!(
            "{path} ends in / and names a directory, not a file"
        )));
    }
    check_object_path(path)
}

/// Checks that a path can name an object: inside a bucket. It names the file `x`, or ending in
/// `/` the payload of the directory `x/`.
fn check_object_path(path: &DfsPath) -> Result<(), RpcError> {
    if path.components.len() < 2 {
        return Err(RpcError::invalid(format!(
            "files and objects must be inside a bucket: {path}"
        )));
    }
    Ok(())
}

/// Creates the missing directories of `components` below `parent` as implicit directories and
/// returns the inode of the last one.
fn ensure_dirs(
    ns: &Namespace,
    txn: &mut Txn<'_>,
    mut parent: InodeId,
    components: &[String],
    now_ms: u64,
) -> Result<InodeId, RpcError> {
    for name in components {
        let key_name = keys::entry_name(name, true);
        parent = match get_dentry(txn, parent, &key_name)? {
            Some(Dentry::Dir(dir)) => dir.inode,
            Some(Dentry::File(_)) => unreachable_kind(&key_name)?,
            None => {
                let dir = Dir {
                    inode: ns.new_inode()?,
                    mtime_ms: now_ms,
                    explicit: false,
                    object: None,
                    bucket: None,
                };
                txn.put(
                    Cf::Dentry,
                    &keys::dentry(parent, &key_name),
                    &Dentry::Dir(dir.clone()),
                )?;
                dir.inode
            }
        };
    }
    Ok(parent)
}

fn unreachable_kind<T>(key_name: &str) -> Result<T, RpcError> {
    Err(RpcError::internal(format!(
        "directory entry {key_name:?} holds a file"
    )))
}

/// Removes the implicit directories of `steps` (deepest first, never the bucket at index 0)
/// that the transaction left empty.
fn remove_empty_implicit(txn: &mut Txn<'_>, steps: &[DirStep]) -> Result<(), StoreError> {
    for step in steps.iter().skip(1).rev() {
        if step.dir.explicit
            || txn.any_with_prefix(Cf::Dentry, &keys::dentry_prefix(step.dir.inode))?
        {
            break;
        }
        txn.delete(Cf::Dentry, &keys::dentry(step.parent, &step.key_name));
    }
    Ok(())
}

/// The chunk rows of a file (or of a directory's payload), in order.
fn file_chunks(r: &impl Reader, inode: InodeId) -> Result<Vec<FileChunk>, StoreError> {
    let mut rows = Vec::new();
    r.scan_raw(
        Cf::Chunks,
        &keys::file_chunk_prefix(inode),
        None,
        &mut |_, value| {
            use crate::store::values::Value;
            rows.push(FileChunk::decode(value)?);
            Ok(true)
        },
    )?;
    Ok(rows)
}

/// Most chunk rows a file may have for its data to be released in the transaction that
/// deletes or replaces it: each costs about three rows (its own, its chunk's location, maybe a
/// GC item), so this keeps that transaction near [`detached::BATCH_ROWS`].
pub(crate) const INLINE_RELEASE_ROWS: usize = 3_000;

/// Removes a file's chunk rows and drops their references; chunks nothing uses any more go to
/// the GC queue. A file of up to [`INLINE_RELEASE_ROWS`] rows is released in the same
/// transaction; a bigger one (a large or much-copied multipart object) is handed to the
/// background deleter of detached trees, which releases its rows in bounded batches: a file
/// gets a fresh inode at every write, so nothing else will ever use its rows. Rows that
/// other files still share (`map_share`) stay.
fn release_file(txn: &mut Txn<'_>, file: &File, path: &DfsPath) -> Result<(), StoreError> {
    if map_share::drop_holder(txn, file.inode)? {
        return Ok(());
    }
    if has_more_rows_than(txn, file.inode, INLINE_RELEASE_ROWS)? {
        return detached::detach(txn, file.inode, path);
    }
    release_rows(txn, file.inode, &path.to_string())
}

/// Whether `inode` has more than `limit` chunk rows (reads at most `limit + 1`).
fn has_more_rows_than(r: &impl Reader, inode: InodeId, limit: usize) -> Result<bool, StoreError> {
    let mut seen = 0;
    r.scan_raw(
        Cf::Chunks,
        &keys::file_chunk_prefix(inode),
        None,
        &mut |_, _| {
            seen += 1;
            Ok(seen <= limit)
        },
    )?;
    Ok(seen > limit)
}

/// Removes the chunk rows of `inode` (a file, or a directory's payload) and drops their
/// references, as [`release_file`] does. `owner` names it, for logs.
fn release_rows(txn: &mut Txn<'_>, inode: InodeId, owner: &str) -> Result<(), StoreError> {
    let rows = file_chunks(txn, inode)?;
    for index in 0..rows.len() {
        txn.delete(Cf::Chunks, &keys::file_chunk(inode, index as u64));
    }
    release_slices(txn, &rows, owner)
}

/// Drops the reference each slice holds on its chunk (a chunk may appear in several slices,
/// each one counts); chunks left unreferenced go to the GC queue. `owner` names what held
/// them, for logs.
fn release_slices(txn: &mut Txn<'_>, slices: &[FileChunk], owner: &str) -> Result<(), StoreError> {
    for slice in slices {
        let key = keys::chunk_loc(slice.chunk);
        let Some(mut loc) = txn.get::<ChunkLoc>(Cf::ChunkLoc, &key)? else {
            tracing::error!(chunk = %slice.chunk, %owner, "chunk has no location record");
            continue;
        };
        loc.refcount = loc.refcount.saturating_sub(1);
        if loc.refcount == 0 {
            let reason = format!("released by {owner}");
            queue::push(
                txn,
                Queue::Gc,
                now_ms(),
                slice.chunk,
                &loc.replicas,
                &reason,
            )?;
        }
        txn.put(Cf::ChunkLoc, &key, &loc)?;
    }
    Ok(())
}

/// Adds one reference per slice to its chunk (the slices are being shared by a new owner).
fn share_slices(txn: &mut Txn<'_>, slices: &[FileChunk], owner: &str) -> Result<(), RpcError> {
    for slice in slices {
        let key = keys::chunk_loc(slice.chunk);
        let mut loc = txn.get::<ChunkLoc>(Cf::ChunkLoc, &key)?.ok_or_else(|| {
            RpcError::internal(format!(
                "chunk {} of {owner} has no location record",
                slice.chunk
            ))
        })?;
        loc.refcount = loc.refcount.saturating_add(1);
        txn.put(Cf::ChunkLoc, &key, &loc)?;
    }
    Ok(())
}

/// Queues chunks of an uncommitted write for deletion after the grace period.
fn collect_uncommitted(
    ns: &Namespace,
    txn: &mut Txn<'_>,
    chunks: &[(ChunkId, Vec<NodeId>)],
    reason: &str,
) -> Result<(), StoreError> {
    let due = now_ms().saturating_add(ns.settings.orphan_grace_ms);
    for (chunk, nodes) in chunks {
        queue::push(txn, Queue::Gc, due, *chunk, nodes, reason)?;
    }
    Ok(())
}

/// The entry clients see for a stored one in directory `parent`.
fn to_entry(parent: InodeId, key_name: &str, dentry: &Dentry) -> Entry {
    match dentry {
        Dentry::Dir(dir) => {
            let object = dir_object(parent, dir);
            let object = object.as_deref();
            Entry {
                name: key_name.to_owned(),
                kind: EntryKind::Dir,
                inode: dir.inode,
                size: object.map_or(0, |o| o.size),
                mtime_ms: dir.mtime_ms,
                etag: object.map(|o| o.etag.clone()).unwrap_or_default(),
                content_type: object.and_then(|o| o.content_type.clone()),
                meta: object.map(|o| o.meta.clone()).unwrap_or_default(),
                checksum: object.and_then(|o| o.checksum.clone()).map(Into::into),
                explicit: dir.explicit,
                chunk_count: object.map_or(0, |o| o.chunk_count),
                part_sizes: object.map(|o| o.part_sizes.clone()).unwrap_or_default(),
            }
        }
        Dentry::File(file) => Entry {
            name: key_name.to_owned(),
            kind: EntryKind::File,
            inode: file.inode,
            size: file.size,
            mtime_ms: file.mtime_ms,
            etag: file.etag.clone(),
            content_type: file.content_type.clone(),
            meta: file.meta.clone(),
            checksum: file.checksum.clone().map(Into::into),
            explicit: false,
            chunk_count: file.chunk_count,
            part_sizes: file.part_sizes.clone(),
        },
    }
}

/// The payload of the S3 object `x/` that directory `dir` (in `parent`) is, if it is one:
/// explicit directories below a bucket are objects; one made without a payload (mkdir) is
/// empty, with the ETag of nothing. Buckets, the root and implicit directories are not objects.
fn dir_object(parent: InodeId, dir: &Dir) -> Option<std::borrow::Cow<'_, DirObject>> {
    use std::borrow::Cow;
    if !dir.explicit || parent == InodeId::ROOT || dir.inode == InodeId::ROOT {
        return None;
    }
    Some(match &dir.object {
        Some(object) => Cow::Borrowed(object),
        None => Cow::Owned(DirObject {
            etag: EMPTY_ETAG.to_owned(),
            ..DirObject::default()
        }),
    })
}

/// The root directory's entry.
fn root_entry() -> Entry {
    to_entry(
        InodeId::ROOT,
        "/",
        &Dentry::Dir(Dir {
            inode: InodeId::ROOT,
            mtime_ms: 0,
            explicit: true,
            object: None,
            bucket: None,
        }),
    )
}

/// Whether a stored ETag satisfies an S3 `If-Match` value: `*`, or a comma-separated list of
/// ETags compared without their double quotes (a weak `W/` prefix is ignored).
fn etag_matches(stored: &str, wanted: &str) -> bool {
    let bare = |e: &str| {
        let e = e.trim();
        let e = e.strip_prefix("W/").unwrap_or(e);
        e.trim_matches('"').to_owned()
    };
    let stored = bare(stored);
    wanted
        .split(',')
        .any(|w| w.trim() == "*" || bare(w) == stored)
}

/// Checks the S3 write preconditions against the ETag of the object currently at `path` (if
/// any).
fn check_preconditions(
    existing: Option<&str>,
    if_match: Option<&str>,
    if_none_match: bool,
    path: &DfsPath,
) -> Result<(), RpcError> {
    let failed = |why: String| Err(RpcError::new(ErrorCode::PreconditionFailed, why));
    match (existing, if_match) {
        (Some(_), _) if if_none_match => failed(format!("{path} already exists (If-None-Match)")),
        (None, Some(want)) => failed(format!("{path} does not exist (If-Match {want})")),
        (Some(etag), Some(want)) if !etag_matches(etag, want) => {
            failed(format!("{path} has ETag {etag} (If-Match {want})"))
        }
        _ => Ok(()),
    }
}

/// Now, by the group's clock (never before a time the group already wrote).
fn now_ms() -> u64 {
    crate::clock::now_ms()
}

fn already_exists(path: &DfsPath) -> RpcError {
    RpcError::new(ErrorCode::AlreadyExists, format!("{path} already exists"))
}

fn no_such_entry(path: &DfsPath) -> RpcError {
    RpcError::not_found(format!("no such file or directory: {path}"))
}

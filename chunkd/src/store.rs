//! Chunk files on local disk: crash-safe writes, checksummed reads, quarantine.
//!
//! Layout of the data folder:
//! ```text
//! chunkd.marker                  written at first start; without it a non-empty folder is refused
//! node_id                        the NodeId metad gave at first registration
//! chunks/<last 2 hex>/<16 hex>   one file per chunk (see format.rs); the low digits spread
//!                                sequential ids over 256 folders (layout 2, see layout.rs)
//! tmp/                           chunks being written; cleared at start
//! quarantine/                    chunks that failed a check, and entries of chunks/ the start
//!                                could not inspect (see scan.rs), kept for inspection
//! ```
//! Chunk ids reach this module only as [`ChunkId`] (parsed by `ChunkId::parse_hex`), and every
//! path is built from their 16-hex-digit form, so no request can name a file outside the folder.
//!
//! All functions here do blocking I/O: call them from `spawn_blocking`.

use crate::error::io_err;
pub use crate::error::StoreError;
use crate::format::{self, Header, HEADER_LEN, MAX_CHUNK_LEN};
use crate::layout::{check_marker, folder_of, sync_dir, sync_rename, upgrade, write_durable};
use crate::layout::{quarantine_target, RemoveOnDrop, LAYOUT_VERSION};
use bytes::Bytes;
use dfs_common::checksum::{crc32c, crc32c_append, crc_to_hex, BLOCK_SIZE};
use dfs_common::metrics::{latency_histogram, observe_since, Histogram};
use dfs_common::{ChunkId, NodeId};
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Largest block size a chunk file may declare; bounds the memory of one block read.
const MAX_BLOCK_SIZE: u32 = 16 << 20;

/// One piece of a chunk body on its way from the network to the writer thread.
#[derive(Debug)]
pub enum Piece {
    /// More bytes.
    Data(Bytes),
    /// The body ended normally. A channel closed without `End` means the upload was aborted.
    End,
}

/// Result of a successful put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The chunk was written.
    Stored,
    /// The same chunk (same length and CRC) was already stored; nothing changed.
    AlreadyHeld,
}

/// Held chunks and the bytes their files use.
#[derive(Default)]
struct Index {
    files: HashMap<ChunkId, u64>,
    used: u64,
}

/// The chunk store of one data folder.
pub struct Store {
    root: PathBuf,
    chunks: PathBuf,
    tmp: PathBuf,
    quarantine: PathBuf,
    index: Mutex<Index>,
    /// Seconds each fsync of a chunk write took (file, and folder after the rename).
    fsync_seconds: Histogram,
}

impl Store {
    /// Opens (or initialises) the data folder: checks the marker, upgrades an older layout,
    /// clears `tmp/`, indexes chunks.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(root).map_err(io_err("create data folder", root))?;
        let version = check_marker(root)?;
        let store = Store {
            root: root.to_owned(),
            chunks: root.join("chunks"),
            tmp: root.join("tmp"),
            quarantine: root.join("quarantine"),
            index: Mutex::new(Index::default()),
            fsync_seconds: latency_histogram(),
        };
        for dir in [&store.chunks, &store.tmp, &store.quarantine] {
            fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
        }
        if version < LAYOUT_VERSION {
            upgrade(root, &store.chunks)?;
        }
        // Whatever is in tmp/ was being written when the process stopped: never acknowledged.
        let leftovers = fs::read_dir(&store.tmp).map_err(io_err("list", &store.tmp))?;
        for entry in leftovers.flatten() {
            let path = entry.path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(io_err("remove leftover temporary file", &path))?;
        }
        let files = crate::scan::scan(&store.chunks, &store.quarantine)?;
        let used = files.values().sum();
        *store.lock() = Index { files, used };
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // The index stays consistent even if a thread panicked while holding the lock: every
        // update is a single insert/remove plus the matching `used` change.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Path of a chunk's file. The id's fixed 16-hex form cannot contain `/` or `..`.
    fn chunk_path(&self, id: ChunkId) -> PathBuf {
        self.folder_path(id).join(id.to_string())
    }

    /// The folder of a chunk's file.
    fn folder_path(&self, id: ChunkId) -> PathBuf {
        self.chunks.join(folder_of(&id.to_string()))
    }

    /// Ids of every chunk held, sorted.
    pub fn list(&self) -> Vec<ChunkId> {
        let mut ids: Vec<ChunkId> = self.lock().files.keys().copied().collect();
        ids.sort();
        ids
    }

    /// Bytes used by chunk files.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// Whether the chunk is held.
    pub fn contains(&self, id: ChunkId) -> bool {
        self.lock().files.contains_key(&id)
    }

    /// Writes a chunk from the pieces `next_piece` yields, durably, and checks it has
    /// `expected_len` bytes and CRC `expected_crc`. Nothing is visible under the chunk's name
    /// unless all of that holds.
    pub fn write_chunk(
        &self,
        id: ChunkId,
        expected_len: u64,
        expected_crc: u32,
        mut next_piece: impl FnMut() -> Option<Piece>,
    ) -> Result<(PutOutcome, Header), StoreError> {
        if expected_len > MAX_CHUNK_LEN {
            return Err(StoreError::TooLarge {
                id,
                len: expected_len,
            });
        }
        let tmp_path = self
            .tmp
            .join(format!("{id}.{:016x}.part", rand::random::<u64>()));
        let guard = RemoveOnDrop(Some(tmp_path.clone()));
        let mut file = File::create(&tmp_path).map_err(io_err("create", &tmp_path))?;
        let write_err = io_err("write", &tmp_path);
        // The real header goes in last: a file with a valid header is a complete file.
        let result = (|| {
            file.write_all(&[0u8; HEADER_LEN as usize])?;
            let mut block = Vec::with_capacity(BLOCK_SIZE);
            let mut table = Vec::new();
            let mut whole = crc32c(&[]);
            let mut got = 0u64;
            let mut ended = false;
            while let Some(piece) = next_piece() {
                let mut data = match piece {
                    Piece::Data(data) => data,
                    Piece::End => {
                        ended = true;
                        break;
                    }
                };
                got += data.len() as u64;
                if got > expected_len {
                    break;
                }
                whole = crc32c_append(whole, &data);
                while !data.is_empty() {
                    let take = (BLOCK_SIZE - block.len()).min(data.len());
                    block.extend_from_slice(&data.split_to(take));
                    if block.len() == BLOCK_SIZE {
                        table.push(crc32c(&block));
                        file.write_all(&block)?;
                        block.clear();
                    }
                }
            }
            if !block.is_empty() {
                table.push(crc32c(&block));
                file.write_all(&block)?;
            }
            Ok::<_, io::Error>((ended, got, whole, table))
        })();
        let (ended, got, whole, table) = result.map_err(write_err)?;
        if !ended || got != expected_len {
            return Err(StoreError::LengthMismatch {
                id,
                expected: expected_len,
                got,
            });
        }
        if whole != expected_crc {
            return Err(StoreError::ChecksumMismatch {
                id,
                expected: crc_to_hex(expected_crc),
                actual: crc_to_hex(whole),
            });
        }
        let header = Header {
            data_len: got,
            block_size: BLOCK_SIZE as u32,
            crc32c: whole,
        };
        file.write_all(&format::encode_table(&table))
            .and_then(|()| file.write_all_at(&header.encode(), 0))
            .map_err(io_err("write", &tmp_path))?;
        // The data must be on disk before the rename makes it visible under its name: otherwise
        // a crash could leave a complete-looking name over missing blocks.
        self.timed_sync(|| file.sync_all())
            .map_err(io_err("sync", &tmp_path))?;
        drop(file);
        let target = self.chunk_path(id);
        let prefix_dir = target.parent().unwrap_or(&self.chunks).to_owned();
        let new_prefix = match fs::create_dir(&prefix_dir) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(io_err("create folder", &prefix_dir)(e)),
        };
        if new_prefix {
            self.timed_sync(|| sync_dir(&self.chunks))?;
        }
        {
            let mut index = self.lock();
            if index.files.contains_key(&id) {
                match read_header(&target) {
                    Ok(old) if old.data_len == header.data_len && old.crc32c == header.crc32c => {
                        return Ok((PutOutcome::AlreadyHeld, header));
                    }
                    Ok(_) => return Err(StoreError::Conflict(id)),
                    // A damaged old copy is replaced by the good one just received.
                    Err(reason) => {
                        tracing::warn!(%id, %reason, "replacing damaged copy of chunk")
                    }
                }
            }
            fs::rename(&tmp_path, &target).map_err(io_err("rename into place", &target))?;
            let len = header.file_len();
            if let Some(old) = index.files.insert(id, len) {
                index.used = index.used.saturating_sub(old);
            }
            index.used += len;
        }
        guard.disarm();
        // The rename is durable only once the directory entry is: the caller acknowledges the
        // chunk as stored after this returns, so a power loss must not undo it.
        self.timed_sync(|| sync_dir(&prefix_dir))?;
        Ok((PutOutcome::Stored, header))
    }

    /// Runs one fsync and records how long it took.
    fn timed_sync<T>(&self, sync: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = sync();
        observe_since(&self.fsync_seconds, started);
        result
    }

    /// The fsync latency histogram, for the metrics registry.
    pub fn fsync_histogram(&self) -> Histogram {
        self.fsync_seconds.clone()
    }

    /// Whether the data folder takes writes: creates, writes and removes a small file in
    /// `tmp/` (no fsync: the probe must stay cheap).
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let path = self
            .tmp
            .join(format!("ready.{:016x}.probe", rand::random::<u64>()));
        let written = File::create(&path).and_then(|mut f| f.write_all(b"ok"));
        let removed = fs::remove_file(&path);
        written.map_err(io_err("write a probe file in", &self.tmp))?;
        removed.map_err(io_err("remove the probe file", &path))?;
        Ok(())
    }

    /// Opens a chunk for reading and checks its header, size and block table.
    pub fn open_chunk(&self, id: ChunkId) -> Result<ChunkReader, StoreError> {
        let path = self.chunk_path(id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.missing(id)),
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let corrupt = |reason: String| StoreError::Corrupt { id, reason };
        let mut head = [0u8; HEADER_LEN as usize];
        read_exact_at(&file, &mut head, 0, &path)?.map_err(&corrupt)?;
        let header = Header::decode(&head).map_err(&corrupt)?;
        if header.block_size > MAX_BLOCK_SIZE {
            return Err(corrupt(format!(
                "block size {} is too large",
                header.block_size
            )));
        }
        let actual = file.metadata().map_err(io_err("stat", &path))?.len();
        if actual != header.file_len() {
            return Err(corrupt(format!(
                "file is {actual} bytes, its header implies {}",
                header.file_len()
            )));
        }
        let table_len = 4 * header.block_count();
        // Bounded by MAX_CHUNK_LEN / block size * 4, checked by `Header::decode`.
        let mut table = vec![0u8; table_len as usize];
        read_exact_at(&file, &mut table, HEADER_LEN + header.data_len, &path)?.map_err(&corrupt)?;
        Ok(ChunkReader {
            id,
            path,
            file,
            header,
            table: format::decode_table(&table),
        })
    }

    /// The error for a chunk whose file is not there: lost if the index says this node holds
    /// it (deleted behind chunkd's back, a failing disk), so that it is quarantined and
    /// reported like a corrupt copy; not held otherwise. Checked under the index lock, which
    /// a delete holds while it removes the file, so a chunk deleted meanwhile is not lost.
    fn missing(&self, id: ChunkId) -> StoreError {
        if self.contains(id) {
            StoreError::Corrupt {
                id,
                reason: "its file is missing".into(),
            }
        } else {
            StoreError::NotFound(id)
        }
    }

    /// Checks, without reading it, that the file of a chunk held is there with its size: the
    /// inventory pass. A missing or resized file is [`StoreError::Corrupt`].
    pub fn check_present(&self, id: ChunkId) -> Result<(), StoreError> {
        let Some(expected) = self.lock().files.get(&id).copied() else {
            return Err(StoreError::NotFound(id));
        };
        let path = self.chunk_path(id);
        match fs::metadata(&path) {
            Ok(meta) if meta.len() == expected => Ok(()),
            Ok(meta) => Err(StoreError::Corrupt {
                id,
                reason: format!(
                    "file is {} bytes, it was written with {expected}",
                    meta.len()
                ),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.missing(id)),
            Err(e) => Err(io_err("stat", &path)(e)),
        }
    }

    /// Reads a whole chunk and checks every block CRC and the whole-data CRC (for scrub).
    pub fn verify_chunk(&self, id: ChunkId) -> Result<(), StoreError> {
        let reader = self.open_chunk(id)?;
        let mut whole = crc32c(&[]);
        for index in 0..reader.header.block_count() {
            let block = reader.read_block(index)?;
            whole = crc32c_append(whole, &block);
        }
        if whole != reader.header.crc32c {
            return Err(StoreError::Corrupt {
                id,
                reason: format!(
                    "data has CRC32C {}, the header says {}",
                    crc_to_hex(whole),
                    crc_to_hex(reader.header.crc32c)
                ),
            });
        }
        Ok(())
    }

    /// Removes a chunk durably; `false` if it was not held.
    pub fn delete(&self, id: ChunkId) -> Result<bool, StoreError> {
        let removed = self.remove(id)?;
        if removed {
            // Without it a power cut may bring the file back: a copy metad has forgotten,
            // kept and counted as used until a reconciliation deletes it again.
            sync_dir(&self.folder_path(id))?;
        }
        Ok(removed)
    }

    /// Removes many chunks, like [`delete`](Self::delete) each but syncing each folder once at
    /// the end instead of once per chunk: deletions come by the thousand after a
    /// reconciliation. Returns the failures.
    pub fn delete_many(&self, ids: &[ChunkId]) -> Vec<StoreError> {
        let mut errors = Vec::new();
        let mut folders = BTreeSet::new();
        for &id in ids {
            match self.remove(id) {
                Ok(true) => {
                    folders.insert(self.folder_path(id));
                }
                Ok(false) => {}
                Err(e) => errors.push(e),
            }
        }
        errors.extend(folders.iter().filter_map(|folder| sync_dir(folder).err()));
        errors
    }

    /// Removes a chunk's file without syncing its folder; `false` if it was not there.
    fn remove(&self, id: ChunkId) -> Result<bool, StoreError> {
        let path = self.chunk_path(id);
        let mut index = self.lock();
        let removed = match fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err("remove", &path)(e)),
        };
        if let Some(len) = index.files.remove(&id) {
            index.used = index.used.saturating_sub(len);
        }
        Ok(removed)
    }

    /// Moves a corrupt chunk out of `chunks/` into `quarantine/`, so it is never served again
    /// but stays available for inspection, and forgets it. Returns where it went, or `None`
    /// when there was no file left to move (missing, or moved by a concurrent reader).
    pub fn quarantine(&self, id: ChunkId) -> Result<Option<PathBuf>, StoreError> {
        let path = self.chunk_path(id);
        let target = quarantine_target(&self.quarantine, &id.to_string());
        let moved = {
            let mut index = self.lock();
            let moved = match fs::rename(&path, &target) {
                Ok(()) => Some(target),
                // Already quarantined by a concurrent reader, or deleted: nothing left to move.
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err("move to quarantine", &path)(e)),
            };
            if let Some(len) = index.files.remove(&id) {
                index.used = index.used.saturating_sub(len);
            }
            moved
        };
        // Outside the lock: reads need not wait for the disk. Without the syncs a power cut
        // could put the corrupt file back in `chunks/`, where the next start would index it.
        if moved.is_some() {
            sync_rename(&self.folder_path(id), &self.quarantine)?;
        }
        Ok(moved)
    }

    /// The node id kept in the folder, if metad gave one already.
    pub fn node_id(&self) -> Result<Option<NodeId>, StoreError> {
        let path = self.root.join("node_id");
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(|n| Some(NodeId(n))).map_err(|_| {
                StoreError::Layout(format!(
                    "{} does not hold a node id ({:?}); restore it or remove it to register as a new node",
                    path.display(),
                    text.trim()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    /// Records the node id durably.
    pub fn set_node_id(&self, id: NodeId) -> Result<(), StoreError> {
        write_durable(&self.root, "node_id", format!("{}\n", id.0).as_bytes())
    }
}

/// A chunk opened for reading, its header and block table checked.
pub struct ChunkReader {
    id: ChunkId,
    path: PathBuf,
    file: File,
    header: Header,
    table: Vec<u32>,
}

impl ChunkReader {
    /// The chunk's header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Reads block `index` and verifies its CRC before returning it.
    pub fn read_block(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        let (offset, len) = self.header.block_span(index);
        let expected = usize::try_from(index)
            .ok()
            .and_then(|i| self.table.get(i).copied())
            .ok_or_else(|| StoreError::Corrupt {
                id: self.id,
                reason: format!("block {index} is beyond the block table"),
            })?;
        let mut buf = vec![0u8; len];
        read_exact_at(&self.file, &mut buf, offset, &self.path)?.map_err(|reason| {
            StoreError::Corrupt {
                id: self.id,
                reason,
            }
        })?;
        let actual = crc32c(&buf);
        if actual != expected {
            return Err(StoreError::Corrupt {
                id: self.id,
                reason: format!(
                    "block {index} has CRC32C {}, expected {}",
                    crc_to_hex(actual),
                    crc_to_hex(expected)
                ),
            });
        }
        Ok(buf)
    }
}

/// Reads exactly `buf.len()` bytes at `offset`; a short file or a read error of the medium
/// (EIO: the copy cannot be served, like a corrupt one) is `Ok(Err(reason))`, other failures
/// are I/O errors.
fn read_exact_at(
    file: &File,
    buf: &mut [u8],
    offset: u64,
    path: &Path,
) -> Result<Result<(), String>, StoreError> {
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(Ok(())),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Err(format!(
            "file ends before byte {}",
            offset + buf.len() as u64
        ))),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
            Ok(Err(format!("read error at byte {offset}: {e}")))
        }
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// Reads and checks the header of the chunk file at `path`.
fn read_header(path: &Path) -> Result<Header, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut head = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| e.to_string())?;
    Header::decode(&head)
}

//! Snapshots between members (REPLICATION.md §4): a member behind the leader's purged log, or
//! one whose data folder was lost, gets the leader's newest snapshot (a RocksDB checkpoint
//! folder) file by file in pieces of at most 4 MiB, then installs it.
//!
//! Installing rewrites the live state database from the received checkpoint: every row of
//! every replicated table is deleted and the checkpoint's rows are copied in, in bounded
//! batches. A marker file names the folder being installed until the copy is complete and
//! synced; a member that crashes meanwhile redoes the copy at its next start, so an install
//! is all or nothing. (The alternative, swapping database folders under the running
//! process, would mean replacing every handle on the store.)

use super::types::{SnapshotDir, TypeConfig};
use super::RaftGroup;
use crate::store::{Cf, StoreError};
use bincode::Options;
use dfs_common::RpcError;
use openraft::{BasicNode, Snapshot, SnapshotMeta, Vote};
use rocksdb::{IteratorMode, WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes of a file per piece.
pub const PIECE: usize = 4 << 20;
/// Rows (or bytes) per write batch while installing.
const COPY_ROWS: usize = 10_000;
const COPY_BYTES: usize = 8 << 20;
/// The marker naming the folder being installed.
const INSTALLING: &str = "installing";

/// One piece of one file of a snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub struct Piece {
    /// The snapshot's id (its folder name on the leader).
    pub snapshot_id: String,
    /// The file's name in the folder.
    pub file: String,
    /// Where the piece starts in the file.
    pub offset: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// The end of a transfer: install what was sent.
#[derive(Debug, Serialize, Deserialize)]
pub struct Install {
    /// The sender's vote (a stale leader's install is refused by Raft).
    pub vote: Vote<u64>,
    /// What the snapshot holds.
    pub meta: SnapshotMeta<u64, BasicNode>,
    /// Every file and its size.
    pub files: Vec<(String, u64)>,
}

/// The files of a snapshot folder with their sizes (blocking).
pub fn list_files(dir: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() {
            files.push((entry.file_name().to_string_lossy().into_owned(), meta.len()));
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the piece of `file` at `offset` (blocking).
pub fn read_piece(file: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(file)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut data = Vec::with_capacity(PIECE);
    f.take(PIECE as u64).read_to_end(&mut data)?;
    Ok(data)
}

/// A file or snapshot name that stays inside its folder.
fn safe_name(name: &str) -> Result<&str, RpcError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(RpcError::invalid(format!(
            "bad snapshot file name {name:?}"
        )))
    }
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> RpcError + '_ {
    move |e| RpcError::internal(format!("{what}: {e}"))
}

impl RaftGroup {
    /// Where received snapshots are assembled.
    fn incoming(&self) -> PathBuf {
        self.shared.dir.join("incoming")
    }

    /// Stores one received piece (blocking). Pieces of a file come in order; a new snapshot
    /// id drops the pieces of older ones.
    pub fn receive_piece(&self, piece: &Piece) -> Result<(), RpcError> {
        let id = safe_name(&piece.snapshot_id)?;
        let name = safe_name(&piece.file)?;
        let incoming = self.incoming();
        let folder = incoming.join(id);
        if piece.offset == 0 && !folder.exists() {
            let _ = std::fs::remove_dir_all(&incoming);
            std::fs::create_dir_all(&folder).map_err(io_error("creating the snapshot folder"))?;
        }
        let path = folder.join(name);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error("opening a snapshot file"))?;
        let len = file.metadata().map_err(io_error("a snapshot file"))?.len();
        if piece.offset == 0 && len > 0 {
            file.set_len(0)
                .map_err(io_error("restarting a snapshot file"))?;
        } else if len != piece.offset {
            return Err(RpcError::invalid(format!(
                "snapshot piece of {name} at {} but {len} bytes were received",
                piece.offset
            )));
        }
        file.write_all(&piece.data)
            .map_err(io_error("writing a snapshot file"))
    }

    /// Checks that every file arrived whole and syncs them (blocking); returns the folder.
    pub fn complete_transfer(&self, install: &Install) -> Result<PathBuf, RpcError> {
        let id = safe_name(&install.meta.snapshot_id)?;
        let folder = self.incoming().join(id);
        for (name, size) in &install.files {
            let path = folder.join(safe_name(name)?);
            let file =
                std::fs::File::open(&path).map_err(io_error("a snapshot file is missing"))?;
            let len = file.metadata().map_err(io_error("a snapshot file"))?.len();
            if len != *size {
                return Err(RpcError::invalid(format!(
                    "snapshot file {name} has {len} bytes, not {size}"
                )));
            }
            file.sync_all()
                .map_err(io_error("syncing a snapshot file"))?;
        }
        std::fs::File::open(&folder)
            .and_then(|d| d.sync_all())
            .map_err(io_error("syncing the snapshot folder"))?;
        Ok(folder)
    }

    /// Hands a received snapshot to Raft, which installs it through the state machine.
    pub async fn install(&self, install: Install, folder: PathBuf) -> Result<Vec<u8>, RpcError> {
        let snapshot = Snapshot::<TypeConfig> {
            meta: install.meta,
            snapshot: Box::new(SnapshotDir { path: folder }),
        };
        let result = self
            .raft()
            .install_full_snapshot(install.vote, snapshot)
            .await
            .map_err(|e| e.to_string());
        bincode::DefaultOptions::new()
            .serialize(&result)
            .map_err(|e| RpcError::internal(format!("encoding an install answer: {e}")))
    }
}

/// Makes the state database `db` hold exactly what the checkpoint in `from` holds (the
/// node-local table excepted), crash-safely: see the module doc. Blocking.
pub fn install_state(db: &DB, group_dir: &Path, from: &Path) -> Result<(), StoreError> {
    let marker = group_dir.join(INSTALLING);
    write_synced(&marker, from.to_string_lossy().as_bytes())?;
    copy_state(db, from)?;
    std::fs::remove_file(&marker).map_err(|e| StoreError::Corrupt(format!("{INSTALLING}: {e}")))?;
    Ok(())
}

/// Finishes an install a crash interrupted (at start, before Raft runs). Blocking.
pub fn finish_interrupted_install(db: &DB, group_dir: &Path) -> Result<(), StoreError> {
    let marker = group_dir.join(INSTALLING);
    let Ok(named) = std::fs::read_to_string(&marker) else {
        return Ok(());
    };
    let from = PathBuf::from(named);
    if !from.is_dir() {
        return Err(StoreError::Corrupt(format!(
            "a snapshot install was interrupted and its folder {} is gone: this member's \
             state is incomplete; wipe its data folder and let it rejoin",
            from.display()
        )));
    }
    tracing::warn!(from = %from.display(), "finishing a snapshot install a crash interrupted");
    install_state(db, group_dir, &from)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let fail = |e: std::io::Error| StoreError::Corrupt(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::create(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(fail)?;
    }
    Ok(())
}

/// Replaces every replicated row of `db` with those of the checkpoint in `from`.
fn copy_state(db: &DB, from: &Path) -> Result<(), StoreError> {
    let names = Cf::ALL.iter().map(|cf| cf.name());
    let source = DB::open_cf_for_read_only(&rocksdb::Options::default(), from, names, false)?;
    for cf in Cf::ALL.iter().copied().filter(|cf| !cf.is_node_local()) {
        let target = crate::group::apply::handle(db, cf)?;
        let last = db
            .iterator_cf(target, IteratorMode::End)
            .next()
            .transpose()?;
        if let Some((last, _)) = last {
            let mut end = last.to_vec();
            end.push(0);
            db.delete_range_cf(target, &b""[..], &end[..])?;
        }
        let from_table = crate::group::apply::handle(&source, cf)?;
        let mut batch = WriteBatch::default();
        let (mut rows, mut bytes) = (0, 0);
        for item in source.iterator_cf(from_table, IteratorMode::Start) {
            let (key, value) = item?;
            bytes += key.len() + value.len();
            rows += 1;
            batch.put_cf(target, &key, &value);
            if rows >= COPY_ROWS || bytes >= COPY_BYTES {
                db.write_opt(std::mem::take(&mut batch), &WriteOptions::default())?;
                (rows, bytes) = (0, 0);
            }
        }
        db.write_opt(batch, &WriteOptions::default())?;
    }
    db.flush_wal(true)?;
    for cf in Cf::ALL {
        db.flush_cf(crate::group::apply::handle(db, cf)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

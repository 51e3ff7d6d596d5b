//! The data folder's marker and layout, its upgrade from older layouts, and the durable
//! small-file helpers of the store.

use crate::error::{io_err, StoreError};
use dfs_common::ChunkId;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the marker file of a chunkd data folder.
pub const MARKER_FILE: &str = "chunkd.marker";
/// Version of the data-folder layout written into the marker.
///
/// 1: `chunks/<first 2 hex>/<16 hex>`. 2: `chunks/<last 2 hex>/<16 hex>`: metad hands out ids
/// sequentially from 1, so the high digits were `00` for every chunk and one folder held them all.
pub const LAYOUT_VERSION: u32 = 2;

/// The folder under `chunks/` of a chunk whose 16-hex name is `name` (layout 2): its last two
/// hex digits, which spread sequential ids evenly over 256 folders.
pub(crate) fn folder_of(name: &str) -> &str {
    &name[name.len().saturating_sub(2)..]
}

/// The folder of a chunk in layout 1.
fn v1_folder_of(name: &str) -> &str {
    &name[..name.len().min(2)]
}

/// Flushes a directory's entries (new names, renames) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(test)]
    SYNCED.with(|synced| synced.borrow_mut().push(dir.to_owned()));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync folder", dir))
}

#[cfg(test)]
thread_local! {
    /// Folders [`sync_dir`] flushed on this thread, in order: fsyncs leave nothing a test could
    /// observe otherwise.
    pub(crate) static SYNCED: std::cell::RefCell<Vec<PathBuf>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Where a file named `name` goes in the quarantine folder `quarantine`: its name and the
/// time, so that copies set aside at different times never overwrite each other.
pub(crate) fn quarantine_target(quarantine: &Path, name: &str) -> PathBuf {
    quarantine.join(format!("{name}.{}", dfs_common::auth::unix_now_ms()))
}

/// Makes a rename of a file out of `from_dir` into `to_dir` durable. The source folder goes
/// first: once its fsync returns, no crash can bring the name back in `from_dir` (for the
/// quarantine: a corrupt file served again from `chunks/`). A crash before the second fsync
/// may at worst lose the new name, which only costs the copy kept for inspection.
pub(crate) fn sync_rename(from_dir: &Path, to_dir: &Path) -> Result<(), StoreError> {
    sync_dir(from_dir)?;
    sync_dir(to_dir)
}

/// Writes `root/name` atomically and durably: temp file, fsync, rename, fsync the folder.
pub(crate) fn write_durable(root: &Path, name: &str, contents: &[u8]) -> Result<(), StoreError> {
    let tmp = root.join(format!(".{name}.tmp"));
    let target = root.join(name);
    File::create(&tmp)
        .and_then(|mut f| f.write_all(contents).and_then(|()| f.sync_all()))
        .map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, &target).map_err(io_err("rename into place", &target))?;
    sync_dir(root)
}

/// Writes the marker of the current layout.
fn write_marker(root: &Path) -> Result<(), StoreError> {
    let text = format!("dfs-chunkd data folder\nformat = {LAYOUT_VERSION}\n");
    write_durable(root, MARKER_FILE, text.as_bytes())
}

/// Checks the marker of a data folder and returns its layout version, writing a marker of the
/// current version into an empty folder. Versions older than [`LAYOUT_VERSION`] are returned
/// for [`upgrade`]; newer ones are refused.
pub(crate) fn check_marker(root: &Path) -> Result<u32, StoreError> {
    let marker = root.join(MARKER_FILE);
    match fs::read_to_string(&marker) {
        Ok(text) => {
            let version = text
                .lines()
                .find_map(|line| line.strip_prefix("format = "))
                .and_then(|v| v.trim().parse::<u32>().ok());
            match version {
                Some(v @ 1..=LAYOUT_VERSION) => Ok(v),
                Some(other) => Err(StoreError::Layout(format!(
                    "{} says layout version {other}; this chunkd knows versions 1 to {LAYOUT_VERSION} only (was it written by a newer chunkd?)",
                    marker.display()
                ))),
                None => Err(StoreError::Layout(format!(
                    "{} is not a chunkd marker file (no `format = N` line)",
                    marker.display()
                ))),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let entries = fs::read_dir(root).map_err(io_err("list", root))?;
            // A fresh ext4 filesystem holds `lost+found`: that is still an empty disk.
            let foreign = entries
                .flatten()
                .map(|e| e.file_name())
                .find(|name| name != "lost+found");
            if let Some(name) = foreign {
                return Err(StoreError::Layout(format!(
                    "data folder {} is not empty ({:?} is there) but has no {MARKER_FILE}: it may be \
                     the wrong disk or another program's folder. Point chunkd at its own data folder, \
                     or at an empty one to start a new node",
                    root.display(),
                    name
                )));
            }
            write_marker(root)?;
            Ok(LAYOUT_VERSION)
        }
        Err(e) => Err(io_err("read", &marker)(e)),
    }
}

/// Upgrades the folder `chunks` of data folder `root` from layout 1 in place: moves every chunk
/// file from the folder of its first two hex digits to that of its last two, then writes the
/// current marker. Crash-safe and idempotent: the marker says 2 only once every move is durable,
/// and a start that finds marker 1 over a mix of old and new places finishes the job. A file
/// that cannot be moved stops the start with the marker still at 1: going on would strand it.
pub(crate) fn upgrade(root: &Path, chunks: &Path) -> Result<(), StoreError> {
    let mut folders = Vec::new();
    for entry in fs::read_dir(chunks).map_err(io_err("list", chunks))? {
        let path = entry.map_err(io_err("list", chunks))?.path();
        if path.is_dir() {
            folders.push(path);
        }
    }
    let mut moved = 0u64;
    for folder in &folders {
        let folder_name = folder.file_name().unwrap_or_default().to_string_lossy();
        for entry in fs::read_dir(folder).map_err(io_err("list", folder))? {
            let name = entry.map_err(io_err("list", folder))?.file_name();
            let name = name.to_string_lossy();
            // Only what layout 1 indexed moves; anything else is left for the scan to judge.
            let is_chunk = ChunkId::parse_hex(&name).is_some_and(|id| id.to_string() == name);
            if !is_chunk || v1_folder_of(&name) != folder_name || folder_of(&name) == folder_name {
                continue;
            }
            let target_dir = chunks.join(folder_of(&name));
            if let Err(e) = fs::create_dir(&target_dir) {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Err(io_err("create folder", &target_dir)(e));
                }
            }
            let target = target_dir.join(&*name);
            // Same chunk, same bytes: a copy already at the target (a crash mid-rename) is
            // simply replaced.
            fs::rename(folder.join(&*name), &target)
                .map_err(io_err("move to its layout-2 folder", &target))?;
            moved += 1;
        }
    }
    // Every folder, not only those this run touched: moves of an interrupted run may still be
    // only in the page cache (the process died, the machine did not).
    for entry in fs::read_dir(chunks).map_err(io_err("list", chunks))? {
        let path = entry.map_err(io_err("list", chunks))?.path();
        if path.is_dir() {
            sync_dir(&path)?;
        }
    }
    sync_dir(chunks)?;
    write_marker(root)?;
    tracing::info!(
        moved,
        "data folder upgraded to layout {LAYOUT_VERSION}: chunk files moved to the folder of their id's last two hex digits"
    );
    Ok(())
}

/// Deletes a temporary file unless disarmed (a failed or abandoned write leaves nothing).
pub(crate) struct RemoveOnDrop(pub(crate) Option<PathBuf>);

impl RemoveOnDrop {
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("cannot remove temporary file {}: {e}", path.display());
                }
            }
        }
    }
}

//! The data folder's marker and the durable small-file helpers of the store.

use crate::error::{io_err, StoreError};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the marker file of a chunkd data folder.
pub const MARKER_FILE: &str = "chunkd.marker";
/// Version of the data-folder layout written into the marker.
pub const LAYOUT_VERSION: u32 = 1;

/// Flushes a directory's entries (new names, renames) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync folder", dir))
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

/// Checks the marker of a data folder, writing it into an empty folder.
pub(crate) fn check_marker(root: &Path) -> Result<(), StoreError> {
    let marker = root.join(MARKER_FILE);
    match fs::read_to_string(&marker) {
        Ok(text) => {
            let version = text
                .lines()
                .find_map(|line| line.strip_prefix("format = "))
                .and_then(|v| v.trim().parse::<u32>().ok());
            match version {
                Some(LAYOUT_VERSION) => Ok(()),
                Some(other) => Err(StoreError::Layout(format!(
                    "{} says layout version {other}; this chunkd knows version {LAYOUT_VERSION} only (was it written by a newer chunkd?)",
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
            let text = format!("dfs-chunkd data folder\nformat = {LAYOUT_VERSION}\n");
            write_durable(root, MARKER_FILE, text.as_bytes())
        }
        Err(e) => Err(io_err("read", &marker)(e)),
    }
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

//! The start-up scan of `chunks/`: indexes the chunk files. One entry that cannot be inspected
//! (a stat that fails, something other than a file under a chunk's name) is moved to
//! `quarantine/`, or skipped when even that fails, so that it does not keep the node and all
//! its other chunks from serving. metad learns at registration that those chunks are missing
//! here and copies them again from other replicas.

use crate::error::{io_err, StoreError};
use crate::layout::{folder_of, quarantine_target, sync_rename};
use dfs_common::ChunkId;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// Reads `chunks/` into a map from chunk to file size, moving entries that cannot be inspected
/// to `quarantine`. Only a failure to list `chunks/` itself is an error: a partial list would
/// pass for the whole.
pub(crate) fn scan(chunks: &Path, quarantine: &Path) -> Result<HashMap<ChunkId, u64>, StoreError> {
    let mut files = HashMap::new();
    for prefix in fs::read_dir(chunks).map_err(io_err("list", chunks))? {
        let prefix = prefix.map_err(io_err("list", chunks))?;
        let prefix_path = prefix.path();
        let prefix_name = prefix.file_name().to_string_lossy().into_owned();
        if !prefix_path.is_dir() {
            tracing::warn!("ignoring unexpected file {}", prefix_path.display());
            continue;
        }
        let entries = match fs::read_dir(&prefix_path) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list {}: its chunks are not served", prefix_path.display());
                continue;
            }
        };
        for entry in entries {
            // The listing of a folder ends at its first error.
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the rest of {}: its chunks are not served", prefix_path.display());
                    break;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = ChunkId::parse_hex(&name)
                .filter(|id| id.to_string() == name && folder_of(&name) == prefix_name);
            let Some(id) = id else {
                tracing::warn!("ignoring unexpected file {}", entry.path().display());
                continue;
            };
            let path = entry.path();
            // Follows symlinks, as reads and the inventory pass do: what counts is the file a
            // read would open. A file too short for its header is indexed all the same: reads,
            // the scrub and the inventory find it corrupt and report it.
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    files.insert(id, meta.len());
                }
                Ok(_) => set_aside(&path, quarantine, &name, "not a regular file"),
                Err(e) => set_aside(&path, quarantine, &name, &format!("cannot stat it: {e}")),
            }
        }
    }
    Ok(files)
}

/// Moves an entry that cannot be served into `quarantine`, or leaves it with a warning.
fn set_aside(path: &Path, quarantine: &Path, name: &str, problem: &str) {
    let target = quarantine_target(quarantine, name);
    let moved = fs::rename(path, &target)
        .map_err(io_err("move to quarantine", path))
        .and_then(|()| sync_rename(path.parent().unwrap_or(path), quarantine));
    match moved {
        Ok(()) => tracing::warn!(
            "{}: {problem}; moved to {}",
            path.display(),
            target.display()
        ),
        Err(e) => tracing::warn!("{}: {problem}; skipped ({e})", path.display()),
    }
}

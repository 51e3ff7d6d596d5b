//! What `dfs dev` remembers between starts, in its data folder: the ports (`dev.json`) and
//! the S3 access key it made (`s3-key.json`, readable by its owner only).

use dfs_common::Secret;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The file that remembers the ports.
pub(super) const STATE_FILE: &str = "dev.json";

/// The file that keeps the dev access key and its secret (mode 0600).
pub(super) const KEY_FILE: &str = "s3-key.json";

/// What `dev.json` holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Remembered {
    /// metad's port last time (member 1's in a group).
    #[serde(default)]
    pub metad_port: Option<u16>,
    /// The ports of metad members 2, 3, ... of a group last time (empty for a single metad;
    /// missing in files of older versions).
    #[serde(default)]
    pub metad_ports: Vec<u16>,
    /// Each chunkd's port last time, chunkd-1 first.
    #[serde(default)]
    pub chunkd_ports: Vec<u16>,
    /// The gateway's S3 port last time.
    #[serde(default)]
    pub s3_port: Option<u16>,
    /// The gateway's admin port last time.
    #[serde(default)]
    pub s3_admin_port: Option<u16>,
}

/// The access key `dfs dev` made for the person using it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct DevKey {
    /// The access key id.
    pub key_id: String,
    /// Its secret (never in logs or panics).
    pub secret: Secret,
}

/// The remembered ports; nothing when the file is missing or unreadable (a fresh start).
pub(super) fn load_state(path: &Path) -> Remembered {
    load_json(path).unwrap_or_default()
}

/// Writes the ports through a temporary file and a rename, so a crash never leaves half a file.
pub(super) fn save_state(path: &Path, state: &Remembered) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    replace_file(path, &text, 0o644)
}

/// The dev access key kept last time, if any (a damaged file counts as none).
pub(super) fn load_key(path: &Path) -> Option<DevKey> {
    load_json(path)
}

/// Keeps the dev access key, readable by its owner only (it holds a secret).
pub(super) fn save_key(path: &Path, key: &DevKey) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(key).map_err(std::io::Error::other)?;
    replace_file(path, &text, 0o600)
}

/// A JSON file's value; `None` (with a warning when it exists but does not parse) otherwise.
fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(value) => Some(value),
        Err(e) => {
            eprintln!("warning: ignoring {}: {e}", path.display());
            None
        }
    }
}

/// Replaces `path` with `contents` atomically: a temporary file made with `mode` from the
/// start (a secret is never readable by others, not even for an instant), synced, renamed.
fn replace_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    // A stale temporary file may have other permissions: start afresh.
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn state_round_trips_and_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        assert_eq!(load_state(&path), Remembered::default());
        let state = Remembered {
            metad_port: Some(40_000),
            metad_ports: vec![40_005, 40_006],
            chunkd_ports: vec![40_001, 40_002],
            s3_port: Some(40_003),
            s3_admin_port: Some(40_004),
        };
        save_state(&path, &state).unwrap();
        assert_eq!(load_state(&path), state);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(load_state(&path), Remembered::default());
    }

    #[test]
    fn state_of_older_versions_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        std::fs::write(&path, br#"{"metad_port": 7700, "chunkd_ports": [7801]}"#).unwrap();
        let state = load_state(&path);
        assert_eq!(state.metad_port, Some(7700));
        assert_eq!(state.s3_port, None);
        assert!(state.metad_ports.is_empty());
    }

    #[test]
    fn the_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        assert_eq!(load_key(&path), None);
        let key = DevKey {
            key_id: "DFSAB12CD34EF56GH78J".into(),
            secret: "secret-secret".into(),
        };
        save_key(&path, &key).unwrap();
        assert_eq!(load_key(&path), Some(key.clone()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{key:?}").contains("secret-secret"));
        // Replacing keeps it private.
        save_key(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

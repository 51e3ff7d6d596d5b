//! One-time upgrades run at open, when the schema marker says the database is older than this
//! build.
//!
//! Most stored values need none: old versions decode forward when read and are written back in
//! the current version when next changed (the directory-entry table may hold millions of rows,
//! so rewriting it at open would stall the start for nothing). The exception is the part of
//! schema 5 (typed checksums): a version 3 part holds its checksum as bare base64 text whose
//! algorithm only its upload knows, so its decoder alone cannot type it. Before marking the
//! database version 5, [`typed_part_checksums`] rewrites every part of every upload with its
//! upload's algorithm, in one synced batch (parts exist only for unfinished uploads: few).
//! Schema 7 moved the rows of this process alone out of the replicated tables:
//! [`node_local_rows`].

use super::values::{decode_v3_part, Part, Upload, Value};
use super::{keys, Cf, Reader, Store, StoreError};

/// Rewrites every version 3 part as version 5, its checksum typed with its upload's algorithm
/// (text that does not parse is dropped and logged, never a panic), and every upload as
/// version 5. Returns how many parts were rewritten. Idempotent: a crash before the schema
/// marker is written just runs it again.
pub(super) fn typed_part_checksums(store: &Store) -> Result<usize, StoreError> {
    let view = store.view();
    let mut uploads: Vec<(Vec<u8>, String, Upload)> = Vec::new();
    view.scan_raw(Cf::Upload, &[], None, &mut |key, value| {
        let Some((_, _, upload_id)) = keys::parse_upload(key) else {
            tracing::warn!("upgrade: skipping an upload row with an unreadable key");
            return Ok(true);
        };
        uploads.push((key.to_vec(), upload_id, Upload::decode(value)?));
        Ok(true)
    })?;
    let mut parts: Vec<(Vec<u8>, Part)> = Vec::new();
    for (_, upload_id, upload) in &uploads {
        let prefix = keys::part_prefix(upload_id);
        view.scan_raw(Cf::Part, &prefix, None, &mut |key, value| {
            if let Some(old) = decode_v3_part(value)? {
                parts.push((key.to_vec(), Part::from_v3(old, upload.checksum_algorithm)));
            }
            Ok(true)
        })?;
    }
    drop(view);
    let mut txn = store.begin();
    for (key, _, upload) in &uploads {
        txn.put(Cf::Upload, key, upload)?;
    }
    for (key, part) in &parts {
        txn.put(Cf::Part, key, part)?;
    }
    txn.commit(true)?;
    Ok(parts.len())
}

/// Moves the open-session mirror from the former `session` table, and deletes the readiness
/// probe's key from `meta`, into the node-local `local` table (schema 7). One synced batch
/// (open sessions are few); idempotent, a crash before the schema marker is written just runs
/// it again over an emptied table. The rows move byte for byte: a session's value keeps its
/// version, only its key gains the `session/` prefix. Returns how many sessions moved.
pub(super) fn node_local_rows(store: &Store) -> Result<usize, StoreError> {
    let view = store.view();
    let mut sessions: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    view.scan_raw(Cf::Session, &[], None, &mut |key, value| {
        sessions.push((key.to_vec(), value.to_vec()));
        Ok(true)
    })?;
    let health = view.get_raw(Cf::Meta, keys::meta::LEGACY_HEALTH)?.is_some();
    drop(view);
    if sessions.is_empty() && !health {
        return Ok(0);
    }
    let mut txn = store.begin();
    for (key, value) in &sessions {
        txn.delete(Cf::Session, key);
        txn.put_raw(Cf::Local, &keys::local::session_from_legacy(key), value);
    }
    txn.delete(Cf::Meta, keys::meta::LEGACY_HEALTH);
    txn.commit(true)?;
    Ok(sessions.len())
}

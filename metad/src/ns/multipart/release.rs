//! Releasing an upload's parts in bounded steps: an abort, an expiry, and the parts a
//! completion leaves out. Each part's slices drop their references (chunks nothing else uses
//! go to GC); a step releases whole parts, about `SliceCaps::step` slices of them, so that an
//! upload of ten thousand parts copied from fragmented objects never makes one transaction of
//! millions of rows. An abort that needs several steps marks the upload
//! `UploadState::Aborting` in its first: from then on it accepts nothing, the steps go on
//! (the next abort or the expiry finishes them after a crash), and its row goes with the last.

use super::{find_upload, forget_upload, was_completed, Found};
use crate::ns::{detached, release_slices, Namespace};
use crate::store::values::{Part, Upload, UploadState, Value};
use crate::store::{keys, Cf, Reader, StoreError, Txn};
use dfs_common::names::ObjectPath;
use dfs_common::path::DfsPath;
use dfs_common::RpcError;

impl Namespace {
    /// Aborts upload `id` (of `path`, when given) to the end, a step at a time; `why` says
    /// what ended it, for logs and GC reasons. An upload being completed loses the rows
    /// written so far (to the background deleter); a completed one is `NotFound`.
    pub(super) fn abort_in_steps(
        &self,
        id: &str,
        path: Option<&ObjectPath>,
        why: &str,
    ) -> Result<(), RpcError> {
        while !self.abort_step(id, path, why)? {}
        Ok(())
    }

    /// One step of an abort, committed; whether the upload is gone.
    pub(super) fn abort_step(
        &self,
        id: &str,
        path: Option<&ObjectPath>,
        why: &str,
    ) -> Result<bool, RpcError> {
        let mut txn = self.store.begin();
        let found = find_upload(&txn, id, path)?;
        match &found.upload.state {
            UploadState::Completed(_) => return Err(was_completed(&found)),
            UploadState::Completing(assembly) => {
                let object = DfsPath::parse(&found.path())?;
                detached::detach(&mut txn, assembly.inode, &object)?;
            }
            UploadState::Open | UploadState::Aborting => {}
        }
        let more = release_parts(&mut txn, &found, self.settings.slice_caps.step, &[], why)?;
        if more {
            let aborting = Upload {
                state: UploadState::Aborting,
                ..found.upload.clone()
            };
            txn.put(Cf::Upload, &found.row_key(), &aborting)?;
        } else {
            forget_upload(&mut txn, &found);
        }
        txn.commit(true)?;
        if !more {
            tracing::debug!(upload_id = %found.id, path = %found.path(), "upload {why}");
        }
        Ok(!more)
    }
}

/// Stages the release of the upload's parts in number order, but those numbered in `keep`,
/// until `budget` slices are released (whole parts: at least one when any is left). Returns
/// whether parts (other than `keep`) remain.
pub(super) fn release_parts(
    txn: &mut Txn<'_>,
    found: &Found,
    budget: usize,
    keep: &[u32],
    why: &str,
) -> Result<bool, StoreError> {
    let mut taken: Vec<(u32, Part)> = Vec::new();
    let mut slices = 0usize;
    let mut more = false;
    txn.scan_raw(
        Cf::Part,
        &keys::part_prefix(&found.id),
        None,
        &mut |key, value| {
            if !taken.is_empty() && slices >= budget {
                more = true;
                return Ok(false);
            }
            match keys::parse_part(key) {
                Some(number) if keep.contains(&number) => {}
                Some(number) => {
                    let part = Part::decode(value)?;
                    slices = slices.saturating_add(part.slices.len());
                    taken.push((number, part));
                }
                None => tracing::error!("skipping malformed part key {key:02x?}"),
            }
            Ok(true)
        },
    )?;
    for (number, part) in taken {
        txn.delete(Cf::Part, &keys::part(&found.id, number));
        let owner = format!("{} ({why})", found.part_owner(number));
        release_slices(txn, &part.slices, &owner)?;
    }
    Ok(more)
}

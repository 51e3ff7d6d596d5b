//! A completion too large for one transaction: the listed parts' slices become the object's
//! chunk rows a bounded step at a time (about `SliceCaps::step` slices per step, whole parts
//! only), under an inode no entry names yet; the parts left out are released likewise; a last
//! small step checks the preconditions and links the object. Each step is one synced
//! transaction that also records its progress in the upload's row (`UploadState::Completing`),
//! so a completion cut off by a crash or a leader change resumes where it stopped when the
//! client sends it again, and other commits run between the steps. Until the link nothing is
//! visible; an abort (or the expiry) of an upload being completed hands the rows written so
//! far to the background deleter.

use super::complete::{lists_parts, mark_completed, object_checksum};
use super::release::release_parts;
use super::Found;
use crate::ns::chunk_map::put_rows;
use crate::ns::target::Target;
use crate::ns::Namespace;
use crate::store::values::{Assembly, Part, Upload, UploadState};
use crate::store::{keys, Cf, Reader, StoreError, Txn};
use dfs_common::path::DfsPath;
use dfs_common::wire::{CompleteUploadReq, CompleteUploadResp};
use dfs_common::{ErrorDetail, RpcError};

impl Namespace {
    /// The next step of `assembly` in `txn`, committed. `Some` once the object is linked;
    /// `None` when more steps follow. A request that lists other parts than the ones being
    /// assembled is refused: the upload can only be completed as it began, or aborted.
    pub(super) fn assemble(
        &self,
        mut txn: Txn<'_>,
        found: &Found,
        mut assembly: Assembly,
        req: &CompleteUploadReq,
        now: u64,
    ) -> Result<Option<CompleteUploadResp>, RpcError> {
        let payload = &assembly.payload;
        if !lists_parts(req, &assembly.part_numbers, &payload.etag)
            || object_checksum(&found.upload, req.checksum.as_ref())? != payload.checksum
        {
            return Err(RpcError::detailed(
                ErrorDetail::InvalidPart,
                format!(
                    "upload {} is being completed with {} other part(s) (ETag {}): send that \
                     completion again to finish it, or abort the upload",
                    found.id,
                    assembly.part_numbers.len(),
                    payload.etag
                ),
            ));
        }
        let step = self.settings.slice_caps.step;
        let mut budget = step;
        while let Some(&number) = assembly.part_numbers.get(assembly.parts_done as usize) {
            let key = keys::part(&found.id, number);
            let Some(part) = txn.get::<Part>(Cf::Part, &key)? else {
                return Err(RpcError::internal(format!(
                    "part {number} of upload {} is gone while the upload is being completed",
                    found.id
                )));
            };
            // A part larger than what is left of this step waits for the next one, which
            // takes it whatever its size.
            if part.slices.len() > budget && budget < step {
                break;
            }
            (assembly.rows_done, assembly.bytes_done) = put_rows(
                &mut txn,
                assembly.inode,
                assembly.rows_done,
                assembly.bytes_done,
                &part.slices,
            )?;
            txn.delete(Cf::Part, &key);
            assembly.parts_done += 1;
            budget = budget.saturating_sub(part.slices.len());
        }
        let moved_all = assembly.parts_done as usize == assembly.part_numbers.len();
        // Every listed part is gone: the parts still there are the unlisted ones.
        if !moved_all
            || budget == 0
            || release_parts(&mut txn, found, budget, &[], "left out of the completion")?
        {
            save_progress(&mut txn, found, &assembly)?;
            txn.commit(true)?;
            tracing::debug!(
                upload_id = %found.id,
                parts_done = assembly.parts_done,
                rows_done = assembly.rows_done,
                "completion step"
            );
            return Ok(None);
        }
        self.link(txn, found, assembly, req, now).map(Some)
    }

    /// The last step: the object, whose rows are all written, replaces what is at its key.
    /// When a precondition fails the upload stays as it is (being completed): the same
    /// completion may be sent again.
    fn link(
        &self,
        mut txn: Txn<'_>,
        found: &Found,
        assembly: Assembly,
        req: &CompleteUploadReq,
        now: u64,
    ) -> Result<CompleteUploadResp, RpcError> {
        if assembly.rows_done != assembly.payload.chunk_count {
            return Err(RpcError::internal(format!(
                "upload {}: {} chunk rows written for an object of {}",
                found.id, assembly.rows_done, assembly.payload.chunk_count
            )));
        }
        let path = DfsPath::parse(&found.path())?;
        let names = path.components.get(1..).unwrap_or(&[]);
        let target = Target::locate(self, &mut txn, found.at.bucket, names, false, now)?;
        if let Err(err) =
            target.check_preconditions(req.if_match.as_deref(), req.if_none_match, &path)
        {
            // The object is there (the failed precondition saw it): nothing above it was made.
            save_progress(&mut txn, found, &assembly)?;
            txn.commit(true)?;
            return Err(err);
        }
        let etag = assembly.payload.etag.clone();
        let payload = assembly.payload.clone();
        let entry = target.link(&mut txn, payload.clone(), assembly.inode, &path, now)?;
        mark_completed(
            &mut txn,
            found,
            assembly.part_numbers,
            assembly.inode,
            payload,
            now,
        )?;
        txn.commit(true)?;
        tracing::info!(upload_id = %found.id, %path, %etag, "upload completed in steps");
        Ok(CompleteUploadResp { entry, etag })
    }
}

/// Stages the upload's row with the completion's progress.
pub(super) fn save_progress(
    txn: &mut Txn<'_>,
    found: &Found,
    assembly: &Assembly,
) -> Result<(), StoreError> {
    let upload = Upload {
        state: UploadState::Completing(assembly.clone()),
        ..found.upload.clone()
    };
    txn.put(Cf::Upload, &found.row_key(), &upload)
}

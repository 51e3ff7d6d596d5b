//! CompleteMultipartUpload: the object appears at the upload's path, atomically, made of the
//! listed parts' chunk slices. No data moves and no reference count changes for the listed
//! parts: each slice's reference passes from the part row to the object's chunk row. A key
//! ending in `/` becomes the payload of the directory object `x/` (see `target`). The object
//! holds at most `MAX_OBJECT_SLICES` slices (`SliceCaps`). An upload of more slices than one
//! transaction may carry is completed in steps (`assemble`).

use super::assemble::save_progress;
use super::release::release_parts;
use super::{find_upload, no_such_upload, normalize_etag, Found};
use crate::ns::target::{check_directory_object, file_of, payload_of, Target};
use crate::ns::{now_ms, to_entry, Namespace};
use crate::store::keys;
use crate::store::values::{
    Assembly, Checksum as StoredChecksum, Completion, Dentry, Dir, DirObject, File, Part, Upload,
    UploadState, Value,
};
use crate::store::{Cf, Reader, StoreError, Txn};
use dfs_common::checksum::{Checksum, ChecksumAlgorithm};
use dfs_common::path::DfsPath;
use dfs_common::wire::{CompleteUploadReq, CompleteUploadResp, Entry, MIN_PART_SIZE};
use dfs_common::{ErrorDetail, InodeId, RpcError};
use md5::{Digest, Md5};
use std::collections::BTreeMap;

impl Namespace {
    /// Completes an upload (see `CompleteUploadReq`). An upload whose parts hold at most
    /// `SliceCaps::step` slices in all (nearly every one) completes in one synced
    /// transaction; a larger one in bounded steps (see `assemble`), the object appearing
    /// atomically with the last.
    pub fn complete_upload(&self, req: &CompleteUploadReq) -> Result<CompleteUploadResp, RpcError> {
        loop {
            if let Some(resp) = self.complete_step(req)? {
                return Ok(resp);
            }
        }
    }

    /// One transaction of a completion: the whole of it, or its next step (`None`: more
    /// steps follow).
    pub(super) fn complete_step(
        &self,
        req: &CompleteUploadReq,
    ) -> Result<Option<CompleteUploadResp>, RpcError> {
        let now = now_ms();
        let mut txn = self.store.begin();
        let found = find_upload(&txn, &req.upload_id, req.path.as_ref())?;
        match &found.upload.state {
            UploadState::Open => {}
            UploadState::Completed(done) => return repeated(&found, done, req).map(Some),
            UploadState::Completing(assembly) => {
                let assembly = assembly.clone();
                return self.assemble(txn, &found, assembly, req, now);
            }
            UploadState::Aborting => return Err(no_such_upload(&found.id)),
        }
        let summaries = part_summaries(&txn, &found.id)?;
        let listed = check_parts(&found, &summaries, &req.parts)?;
        check_slices(&found, &summaries, &listed, self.settings.slice_caps.object)?;
        let etags: Vec<&str> = listed
            .iter()
            .filter_map(|n| summaries.get(n).map(|p| p.etag.as_str()))
            .collect();
        let etag = multipart_etag(&etags).ok_or_else(|| {
            RpcError::internal(format!("upload {}: a stored part ETag is no MD5", found.id))
        })?;
        let path = DfsPath::parse(&found.path())?;
        // The bucket is known by its inode (it may have been renamed since the creation).
        let names = path.components.get(1..).unwrap_or(&[]);
        let target = Target::locate(
            self,
            &mut txn,
            found.at.bucket,
            names,
            path.trailing_slash,
            now,
        )?;
        target.check_preconditions(req.if_match.as_deref(), req.if_none_match, &path)?;
        let mut payload = DirObject {
            etag: etag.clone(),
            content_type: found.upload.content_type.clone(),
            meta: found.upload.meta.clone(),
            checksum: object_checksum(&found.upload, req.checksum.as_ref())?,
            size: 0,
            chunk_count: 0,
            part_sizes: Vec::with_capacity(listed.len()),
        };
        for number in &listed {
            let part = &summaries[number];
            payload.size = payload.size.saturating_add(part.size);
            payload.chunk_count = payload.chunk_count.saturating_add(part.slices as u64);
            payload.part_sizes.push(part.size);
        }
        let all_slices: usize = summaries.values().map(|p| p.slices).sum();
        let step = self.settings.slice_caps.step;
        // A directory object's rows live under the directory's own inode, next to its current
        // payload's: it is always linked in one transaction, so it holds at most one step of
        // slices, and the parts left out of it are released first, a step at a time.
        if path.trailing_slash {
            check_directory_object(&path, payload.chunk_count, step)?;
            if all_slices > step {
                drop(txn);
                let mut txn = self.store.begin();
                let found = find_upload(&txn, &req.upload_id, req.path.as_ref())?;
                if found.upload.state == UploadState::Open {
                    let why = "left out of the completion";
                    release_parts(&mut txn, &found, step, &listed, why)?;
                    txn.commit(true)?;
                }
                return Ok(None);
            }
        }
        if all_slices > step {
            let assembly = Assembly {
                inode: self.new_inode()?,
                part_numbers: listed,
                parts_done: 0,
                rows_done: 0,
                bytes_done: 0,
                payload,
                started_ms: now,
            };
            // Only the checks were wanted of this transaction: parents it would create for
            // the object must wait for the link. The next one records the plan, then the steps
            // follow (as they would for a resumed completion).
            drop(txn);
            let mut txn = self.store.begin();
            let found = find_upload(&txn, &req.upload_id, req.path.as_ref())?;
            if found.upload.state == UploadState::Open {
                tracing::info!(
                    upload_id = %found.id, %path, slices = all_slices,
                    "completing a large upload in steps"
                );
                save_progress(&mut txn, &found, &assembly)?;
                txn.commit(true)?;
            }
            return Ok(None);
        }
        let mut rows = Vec::new();
        for number in &listed {
            let key = keys::part(&found.id, *number);
            if let Some(part) = txn.get::<Part>(Cf::Part, &key)? {
                rows.extend(part.slices);
                txn.delete(Cf::Part, &key);
            }
        }
        release_parts(
            &mut txn,
            &found,
            usize::MAX,
            &[],
            "left out of the completion",
        )?;
        let inode = target.inode;
        let entry = target.replace(&mut txn, payload.clone(), &rows, &path, now)?;
        mark_completed(&mut txn, &found, listed, inode, payload, now)?;
        txn.commit(true)?;
        tracing::debug!(upload_id = %found.id, %path, %etag, "upload completed");
        Ok(Some(CompleteUploadResp { entry, etag }))
    }
}

/// Stages the upload's row as completed: it answers a repeated completion until it expires.
pub(super) fn mark_completed(
    txn: &mut Txn<'_>,
    found: &Found,
    part_numbers: Vec<u32>,
    inode: InodeId,
    payload: DirObject,
    now: u64,
) -> Result<(), StoreError> {
    let completed = Upload {
        state: UploadState::Completed(Completion {
            completed_ms: now,
            part_numbers,
            file: file_of(inode, now, payload),
        }),
        ..found.upload.clone()
    };
    txn.put(Cf::Upload, &found.row_key(), &completed)
}

/// What a completion needs to know of a part before it moves it.
#[derive(Debug)]
pub(super) struct PartSummary {
    size: u64,
    etag: String,
    slices: usize,
}

/// A summary of every part of upload `id`, by number; one part's slices in memory at a time.
fn part_summaries(r: &impl Reader, id: &str) -> Result<BTreeMap<u32, PartSummary>, StoreError> {
    let mut parts = BTreeMap::new();
    r.scan_raw(Cf::Part, &keys::part_prefix(id), None, &mut |key, value| {
        match keys::parse_part(key) {
            Some(number) => {
                let part = Part::decode(value)?;
                let summary = PartSummary {
                    size: part.size,
                    etag: part.etag,
                    slices: part.slices.len(),
                };
                parts.insert(number, summary);
            }
            None => tracing::error!("skipping malformed part key {key:02x?}"),
        }
        Ok(true)
    })?;
    Ok(parts)
}

/// The answer to a completion of an upload already completed: the same object when the part
/// list is the same, `NotFound` otherwise (the upload no longer exists for anything else).
fn repeated(
    found: &Found,
    done: &Completion,
    req: &CompleteUploadReq,
) -> Result<CompleteUploadResp, RpcError> {
    if !lists_parts(req, &done.part_numbers, &done.file.etag) {
        return Err(no_such_upload(&found.id));
    }
    Ok(CompleteUploadResp {
        entry: completed_entry(found, &done.file),
        etag: done.file.etag.clone(),
    })
}

/// Whether `req` lists the parts `numbers` whose multipart ETag is `etag` (a completion
/// repeated, or resumed).
pub(super) fn lists_parts(req: &CompleteUploadReq, numbers: &[u32], etag: &str) -> bool {
    let listed: Vec<u32> = req.parts.iter().map(|(n, _)| *n).collect();
    let etags: Option<Vec<String>> = req.parts.iter().map(|(_, e)| normalize_etag(e)).collect();
    let listed_etag =
        etags.and_then(|e| multipart_etag(&e.iter().map(String::as_str).collect::<Vec<_>>()));
    listed == numbers && listed_etag.as_deref() == Some(etag)
}

/// The entry a completion made, as recorded (for a key ending in `/`, a directory object's).
fn completed_entry(found: &Found, file: &File) -> Entry {
    let key = &found.upload.key;
    match key.strip_suffix('/') {
        Some(dir_key) => {
            let name = format!("{}/", dir_key.rsplit('/').next().unwrap_or_default());
            let dir = Dir {
                inode: file.inode,
                mtime_ms: file.mtime_ms,
                explicit: true,
                object: Some(payload_of(file)),
                bucket: None,
            };
            to_entry(found.at.bucket, &name, &Dentry::Dir(dir))
        }
        None => {
            let name = key.rsplit('/').next().unwrap_or_default();
            to_entry(found.at.bucket, name, &Dentry::File(file.clone()))
        }
    }
}

/// Checks the requested part list as S3 does, in S3's order, and returns the part numbers.
fn check_parts(
    found: &Found,
    parts: &BTreeMap<u32, PartSummary>,
    requested: &[(u32, String)],
) -> Result<Vec<u32>, RpcError> {
    let id = &found.id;
    if requested.is_empty() {
        return Err(RpcError::detailed(
            ErrorDetail::NoPartsListed,
            format!("the completion of upload {id} lists no part"),
        ));
    }
    for pair in requested.windows(2) {
        if pair[1].0 <= pair[0].0 {
            return Err(RpcError::detailed(ErrorDetail::InvalidPartOrder, format!(
                "part {} is listed after part {} in the completion of upload {id}: part numbers must ascend",
                pair[1].0, pair[0].0
            )));
        }
    }
    for (number, etag) in requested {
        let Some(part) = parts.get(number) else {
            return Err(RpcError::detailed(
                ErrorDetail::InvalidPart,
                format!("upload {id} has no part {number}"),
            ));
        };
        if normalize_etag(etag).as_deref() != Some(part.etag.as_str()) {
            return Err(RpcError::detailed(
                ErrorDetail::InvalidPart,
                format!(
                    "part {number} of upload {id} has ETag {}, not {etag}",
                    part.etag
                ),
            ));
        }
    }
    if let Some((_, all_but_last)) = requested.split_last() {
        for (number, _) in all_but_last {
            let size = parts.get(number).map_or(0, |p| p.size);
            if size < MIN_PART_SIZE {
                return Err(RpcError::detailed(ErrorDetail::EntityTooSmall, format!(
                    "part {number} of upload {id} is {size} bytes; every part but the last must hold at least {MIN_PART_SIZE}"
                )));
            }
        }
    }
    Ok(requested.iter().map(|(n, _)| *n).collect())
}

/// Checks that the listed parts hold at most `cap` slices in all (`MAX_OBJECT_SLICES`).
fn check_slices(
    found: &Found,
    parts: &BTreeMap<u32, PartSummary>,
    listed: &[u32],
    cap: usize,
) -> Result<(), RpcError> {
    let slices = listed
        .iter()
        .filter_map(|n| parts.get(n))
        .fold(0usize, |sum, part| sum.saturating_add(part.slices));
    if slices > cap {
        return Err(RpcError::detailed(
            ErrorDetail::InvalidRequest,
            format!(
                "the parts listed to complete upload {} are stored in {slices} slices of chunks, and an object may hold at most {cap} (parts copied from fragmented objects carry all their slices)",
                found.id
            ),
        ));
    }
    Ok(())
}

/// The ETag of a multipart object: the hex MD5 of the concatenated binary MD5s of its parts,
/// then `-` and the number of parts, quoted. `None` when an ETag is no MD5.
pub(super) fn multipart_etag(part_etags: &[&str]) -> Option<String> {
    let mut md5 = Md5::new();
    for etag in part_etags {
        let bare = etag.trim().trim_matches('"');
        let mut digest = [0u8; 16];
        hex::decode_to_slice(bare, &mut digest).ok()?;
        md5.update(digest);
    }
    Some(format!(
        "\"{}-{}\"",
        hex::encode(md5.finalize()),
        part_etags.len()
    ))
}

/// The object's checksum: the completion's, which must be of the upload's algorithm (an
/// upload without one takes none).
pub(super) fn object_checksum(
    upload: &Upload,
    checksum: Option<&Checksum>,
) -> Result<Option<StoredChecksum>, RpcError> {
    let Some(checksum) = checksum else {
        return Ok(None);
    };
    match upload.checksum_algorithm {
        Some(algorithm) if ChecksumAlgorithm::from(algorithm) == checksum.algorithm => {
            Ok(Some(checksum.clone().into()))
        }
        Some(algorithm) => Err(RpcError::detailed(
            ErrorDetail::InvalidRequest,
            format!(
            "the upload of {}/{} has the checksum algorithm {}, not {}",
            upload.bucket,
            upload.key,
            ChecksumAlgorithm::from(algorithm).name(),
            checksum.algorithm.name()
        ),
        )),
        None => Err(RpcError::detailed(
            ErrorDetail::InvalidRequest,
            format!(
            "the upload of {}/{} has no checksum algorithm, so its completion cannot carry a checksum",
            upload.bucket, upload.key
        ),
        )),
    }
}

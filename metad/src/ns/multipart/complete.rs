//! CompleteMultipartUpload: the object appears at the upload's path, atomically, made of the
//! listed parts' chunk slices. No data moves and no reference count changes for the listed
//! parts: each slice's reference passes from the part row to the object's chunk row. A key
//! ending in `/` becomes the payload of the directory object `x/` (see `target`). The object
//! holds at most `MAX_OBJECT_SLICES` slices (`SliceCaps`).

use super::{find_upload, load_parts, no_such_upload, normalize_etag, Found};
use crate::ns::target::{file_of, payload_of, Target};
use crate::ns::{now_ms, release_slices, to_entry, Namespace};
use crate::store::keys;
use crate::store::values::{
    Checksum as StoredChecksum, Completion, Dentry, Dir, DirObject, File, Part, Upload, UploadState,
};
use crate::store::{Cf, Txn};
use dfs_common::checksum::{Checksum, ChecksumAlgorithm};
use dfs_common::path::DfsPath;
use dfs_common::wire::{CompleteUploadReq, CompleteUploadResp, Entry, MIN_PART_SIZE};
use dfs_common::{ErrorDetail, RpcError};
use md5::{Digest, Md5};
use std::collections::BTreeMap;

impl Namespace {
    /// Completes an upload (see `CompleteUploadReq`), in one synced batch.
    pub fn complete_upload(&self, req: &CompleteUploadReq) -> Result<CompleteUploadResp, RpcError> {
        let now = now_ms();
        let mut txn = self.store.begin();
        let found = find_upload(&txn, &req.upload_id, req.path.as_ref())?;
        if let UploadState::Completed(done) = &found.upload.state {
            return repeated(&found, done, req);
        }
        let mut parts = load_parts(&txn, &found.id)?;
        let listed = check_parts(&found, &parts, &req.parts)?;
        check_slices(&found, &parts, &listed, self.settings.slice_caps.object)?;
        let etags: Vec<&str> = listed
            .iter()
            .filter_map(|n| parts.get(n).map(|p| p.etag.as_str()))
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
        let mut rows = Vec::new();
        for number in &listed {
            let Some(part) = parts.remove(number) else {
                continue; // checked above: every listed part exists
            };
            rows.extend(part.slices);
            payload.size = payload.size.saturating_add(part.size);
            payload.part_sizes.push(part.size);
            txn.delete(Cf::Part, &keys::part(&found.id, *number));
        }
        payload.chunk_count = rows.len() as u64;
        collect_unlisted(&mut txn, &found, parts)?;
        let inode = target.inode;
        let entry = target.replace(&mut txn, payload.clone(), &rows, &path, now)?;
        let completed = Upload {
            state: UploadState::Completed(Completion {
                completed_ms: now,
                part_numbers: listed,
                file: file_of(inode, now, payload),
            }),
            ..found.upload.clone()
        };
        txn.put(Cf::Upload, &found.row_key(), &completed)?;
        txn.commit(true)?;
        tracing::debug!(upload_id = %found.id, %path, %etag, "upload completed");
        Ok(CompleteUploadResp { entry, etag })
    }
}

/// The answer to a completion of an upload already completed: the same object when the part
/// list is the same, `NotFound` otherwise (the upload no longer exists for anything else).
fn repeated(
    found: &Found,
    done: &Completion,
    req: &CompleteUploadReq,
) -> Result<CompleteUploadResp, RpcError> {
    let numbers: Vec<u32> = req.parts.iter().map(|(n, _)| *n).collect();
    let etags: Option<Vec<String>> = req.parts.iter().map(|(_, e)| normalize_etag(e)).collect();
    let etag =
        etags.and_then(|e| multipart_etag(&e.iter().map(String::as_str).collect::<Vec<_>>()));
    if numbers != done.part_numbers || etag.as_deref() != Some(done.file.etag.as_str()) {
        return Err(no_such_upload(&found.id));
    }
    Ok(CompleteUploadResp {
        entry: completed_entry(found, &done.file),
        etag: done.file.etag.clone(),
    })
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
    parts: &BTreeMap<u32, Part>,
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
    parts: &BTreeMap<u32, Part>,
    listed: &[u32],
    cap: usize,
) -> Result<(), RpcError> {
    let slices = listed
        .iter()
        .filter_map(|n| parts.get(n))
        .fold(0usize, |sum, part| sum.saturating_add(part.slices.len()));
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
fn object_checksum(
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

/// Stages the removal of the parts the completion left out; their chunks are collected unless
/// something else still uses them.
fn collect_unlisted(
    txn: &mut Txn<'_>,
    found: &Found,
    unlisted: BTreeMap<u32, Part>,
) -> Result<(), RpcError> {
    for (number, part) in unlisted {
        txn.delete(Cf::Part, &keys::part(&found.id, number));
        let owner = format!("{} (left out of the completion)", found.part_owner(number));
        release_slices(txn, &part.slices, &owner)?;
    }
    Ok(())
}

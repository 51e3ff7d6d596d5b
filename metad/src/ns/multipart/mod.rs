//! S3 multipart uploads: creating them, writing parts through write sessions, aborting,
//! listing parts, and their expiry. Completion is in `multipart_complete`, part copies in
//! `multipart_copy`, the bucket-wide listing in `multipart_list`.
//!
//! An upload is a row of the `upload` table (bucket inode ‖ key ‖ 0 ‖ id), found by id through
//! the `upload_id` index, and its parts are rows of the `part` table (id ‖ part number). A part
//! is a list of chunk slices, each holding one reference on its chunk exactly as a file's chunk
//! row does, so the garbage collector never takes a chunk a part still uses, and completion
//! moves references from parts to the object without touching any chunk. None of this is a
//! namespace entry: `stat`, `list` and `list_objects` cannot see it.

mod assemble;
mod complete;
mod copy;
mod list;
mod release;
#[cfg(test)]
pub(super) mod tests;

use super::{bucket, bucket_by_name, check_object_path, now_ms, release_slices, Namespace};
use crate::store::keys;
use crate::store::values::{Part, PartTarget, Session, Upload, UploadRef, UploadState, Value};
use crate::store::{Cf, Reader, StoreError, Txn};
use dfs_common::names::ObjectPath;
use dfs_common::path::DfsPath;
use dfs_common::wire::{
    AbortUploadReq, BeginPartWriteReq, CommitPartReq, CreateUploadReq, CreateUploadResp,
    ListPartsReq, ListPartsResp, PartInfo, UploadInfo, WriteSession, MAX_LIST_PARTS,
    MAX_PART_NUMBER, MAX_PART_SIZE, MIN_PART_NUMBER,
};
use dfs_common::{ErrorCode, ErrorDetail, InodeId, RpcError};
use rand::Rng;

/// An upload found by id.
#[derive(Clone, Debug)]
pub(super) struct Found {
    /// Its id.
    pub(super) id: String,
    /// Where its row is.
    pub(super) at: UploadRef,
    /// The row.
    pub(super) upload: Upload,
}

impl Found {
    /// The key of its `upload` row.
    pub(super) fn row_key(&self) -> Vec<u8> {
        keys::upload(self.at.bucket, &self.at.key, &self.id)
    }

    /// `/bucket/key` as created (for messages).
    pub(super) fn path(&self) -> String {
        format!("/{}/{}", self.upload.bucket, self.upload.key)
    }

    /// What its parts are called in logs and GC reasons.
    pub(super) fn part_owner(&self, number: u32) -> String {
        format!("part {number} of upload {} ({})", self.id, self.path())
    }
}

impl Namespace {
    /// Starts a multipart upload of the object at `req.path`.
    pub fn create_upload(&self, req: &CreateUploadReq) -> Result<CreateUploadResp, RpcError> {
        let path = DfsPath::from(&req.path);
        check_object_path(&path)?;
        let key = object_key(&path);
        let now = now_ms();
        let mut txn = self.store.begin();
        let bucket = bucket(&txn, &path)?;
        let mut upload_id = self.new_upload_id();
        // 64 random bits make a collision all but impossible; checking costs one read.
        while txn
            .get_raw(Cf::UploadId, &keys::upload_id(&upload_id))?
            .is_some()
        {
            upload_id = self.new_upload_id();
        }
        let upload = Upload {
            bucket: path.components[0].clone(),
            key: key.clone(),
            initiated_ms: now,
            content_type: req.content_type.clone(),
            meta: req.meta.clone(),
            checksum_algorithm: req.checksum_algorithm.map(Into::into),
            checksum_type: req.checksum_type.map(Into::into),
            owner_key: req.owner_key.clone(),
            state: UploadState::Open,
        };
        let index = UploadRef {
            bucket: bucket.inode,
            key,
        };
        txn.put(
            Cf::Upload,
            &keys::upload(bucket.inode, &index.key, &upload_id),
            &upload,
        )?;
        txn.put(Cf::UploadId, &keys::upload_id(&upload_id), &index)?;
        txn.commit(true)?;
        tracing::debug!(%upload_id, %path, "upload created");
        Ok(CreateUploadResp { upload_id })
    }

    /// A new upload id: 16 hex digits of a time stamp (milliseconds ‖ 16-bit sequence, always
    /// increasing in this process), so that ids of one key sort by creation and the expiry
    /// scan can stop at the first young one, then 16 hex digits of a cryptographic random
    /// number, so that ids cannot be guessed.
    fn new_upload_id(&self) -> String {
        let mut last = self
            .upload_stamp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stamp = (now_ms() << 16).max(last.saturating_add(1));
        *last = stamp;
        let secret: u64 = rand::thread_rng().gen();
        format!("{stamp:016x}{secret:016x}")
    }

    /// Starts writing a part: a write session whose commit is [`Namespace::commit_part`].
    pub fn begin_part_write(&self, req: &BeginPartWriteReq) -> Result<WriteSession, RpcError> {
        check_part_number(req.part_number)?;
        let found = open_upload(&self.store.view(), &req.upload_id, req.path.as_ref())?;
        let target = PartTarget {
            upload_id: found.id.clone(),
            part_number: req.part_number,
        };
        let session = self
            .sessions
            .open(&self.store, found.path(), Some(target), now_ms())?;
        Ok(WriteSession {
            session,
            chunk_size: self.settings.chunk_size,
            replication: self.settings.replication,
        })
    }

    /// Stores a written part, replacing any part of the same number, in one synced batch.
    /// A commit repeated after its answer was lost gets the first answer (see `closed`).
    pub fn commit_part(&self, req: &CommitPartReq) -> Result<PartInfo, RpcError> {
        let session = match self.sessions.begin_close(req.session) {
            Ok(session) => session,
            Err(e) if e.detail == ErrorDetail::NoSuchSession => {
                let etag = normalize_etag(&req.etag).unwrap_or_else(|| req.etag.clone());
                return self.repeated_part_commit(req, &etag)?.ok_or(e);
            }
            Err(e) => return Err(e),
        };
        match self.commit_part_session(&session, req) {
            Ok(info) => {
                self.sessions.finish_close(req.session);
                Ok(info)
            }
            Err(e) => {
                self.sessions.cancel_close(req.session);
                Err(e)
            }
        }
    }

    fn commit_part_session(
        &self,
        session: &Session,
        req: &CommitPartReq,
    ) -> Result<PartInfo, RpcError> {
        let Some(target) = &session.part else {
            return Err(RpcError::invalid(format!(
                "write session {} writes the file {}, not a part: end it with commit",
                req.session, session.path
            )));
        };
        let number = target.part_number;
        let etag = normalize_etag(&req.etag).ok_or_else(|| {
            RpcError::invalid(format!(
                "part {number} of upload {}: ETag {:?} is not an MD5 (32 hex digits)",
                target.upload_id, req.etag
            ))
        })?;
        if req.size > MAX_PART_SIZE {
            return Err(RpcError::detailed(ErrorDetail::EntityTooLarge, format!(
                "part {number} of upload {} is {} bytes, more than the {MAX_PART_SIZE} a part may hold",
                target.upload_id, req.size
            )));
        }
        let path = DfsPath::parse(&session.path)?;
        let chunks = self.check_written(session, req.session, req.size, &req.chunks, &path)?;
        let now = now_ms();
        let mut txn = self.store.begin();
        let found = open_upload(&txn, &target.upload_id, None)?;
        let owner = found.part_owner(number);
        let slices = self.record_written(&mut txn, &chunks, &owner, now)?;
        self.close_written(&mut txn, req.session, session, &chunks, &owner)?;
        let part = Part {
            size: req.size,
            etag,
            checksum: req.checksum.clone().map(Into::into),
            mtime_ms: now,
            slices,
        };
        replace_part(&mut txn, &found, number, &part)?;
        let info = part_info(number, &part);
        let closed = super::closed::closed_part(&info, now);
        txn.put(Cf::Session, &keys::closed_session(req.session), &closed)?;
        txn.commit(true)?;
        Ok(info)
    }

    /// Aborts an upload that is open (or being completed, or already being aborted): its
    /// parts' chunks are collected, in bounded steps when there are many.
    pub fn abort_upload(&self, req: &AbortUploadReq) -> Result<(), RpcError> {
        self.abort_in_steps(&req.upload_id, req.path.as_ref(), "aborted")
    }

    /// One page of an open upload's parts, by number.
    pub fn list_parts(&self, req: &ListPartsReq) -> Result<ListPartsResp, RpcError> {
        let view = self.store.view();
        let found = open_upload(&view, &req.upload_id, req.path.as_ref())?;
        let max = req.max_parts.min(MAX_LIST_PARTS) as usize;
        let mut parts = Vec::new();
        let mut truncated = false;
        if max > 0 {
            let after = keys::part(&found.id, req.part_number_marker);
            view.scan_raw(
                Cf::Part,
                &keys::part_prefix(&found.id),
                Some(&after),
                &mut |key, value| {
                    if parts.len() == max {
                        truncated = true;
                        return Ok(false);
                    }
                    match keys::parse_part(key) {
                        Some(number) => parts.push(part_info(number, &Part::decode(value)?)),
                        None => tracing::error!("skipping malformed part key {key:02x?}"),
                    }
                    Ok(true)
                },
            )?;
        }
        let next_part_number_marker = parts.last().map_or(0, |p| p.part_number);
        Ok(ListPartsResp {
            path: found.path(),
            upload: upload_info(&found),
            parts,
            truncated,
            next_part_number_marker,
        })
    }

    /// Aborts the open uploads created `open_ttl_ms` or more before `now_ms` and forgets the
    /// completed ones completed `completed_ttl_ms` or more before it, at most `limit` of them.
    /// Returns how many went.
    pub fn expire_uploads(
        &self,
        now_ms: u64,
        open_ttl_ms: u64,
        completed_ttl_ms: u64,
        limit: usize,
    ) -> Result<usize, RpcError> {
        let due = |upload: &Upload| match &upload.state {
            UploadState::Open => upload.initiated_ms.saturating_add(open_ttl_ms) <= now_ms,
            // A completion in steps that its client gave up on.
            UploadState::Completing(assembly) => {
                assembly.started_ms.saturating_add(open_ttl_ms) <= now_ms
            }
            UploadState::Aborting => true,
            UploadState::Completed(done) => {
                done.completed_ms.saturating_add(completed_ttl_ms) <= now_ms
            }
        };
        // Every upload that may be due was created before this; ids start with their creation
        // time, so the scan of the index stops at the first younger one.
        let horizon = now_ms.saturating_sub(open_ttl_ms.min(completed_ttl_ms));
        let view = self.store.view();
        let mut candidates = Vec::new();
        view.scan_raw(Cf::UploadId, &[], None, &mut |key, _| {
            let id = String::from_utf8_lossy(key).into_owned();
            if upload_id_time_ms(&id).is_some_and(|t| t > horizon) || candidates.len() >= limit {
                return Ok(false);
            }
            match lookup(&view, &id) {
                Ok(Some((_, Some(upload)))) if !due(&upload) => {}
                Ok(_) => candidates.push(id),
                Err(e) => tracing::error!("upload expiry: upload {id}: {e}"),
            }
            Ok(true)
        })?;
        drop(view);
        let mut removed = 0;
        for id in candidates {
            let mut txn = self.store.begin();
            match lookup(&txn, &id)? {
                Some((at, Some(upload))) if due(&upload) => {
                    let found = Found { id, at, upload };
                    match found.upload.state {
                        UploadState::Completed(_) => forget_upload(&mut txn, &found),
                        UploadState::Open | UploadState::Completing(_) | UploadState::Aborting => {
                            drop(txn);
                            self.abort_in_steps(&found.id, None, "expired")?;
                            tracing::info!("upload {} of {} expired", found.id, found.path());
                            removed += 1;
                            continue;
                        }
                    }
                    removed += 1;
                }
                Some((_, Some(_))) => {} // completed or renewed meanwhile: not due any more
                // An index entry without its upload: only the index is left to remove.
                Some((_, None)) => txn.delete(Cf::UploadId, &keys::upload_id(&id)),
                None => {}
            }
            txn.commit(true)?;
        }
        Ok(removed)
    }
}

/// The key of the object that `path` (a checked object path) names below its bucket; a path
/// ending in `/` names a key ending in `/` (a directory object).
pub(super) fn object_key(path: &DfsPath) -> String {
    let mut key = path.components.get(1..).unwrap_or(&[]).join("/");
    if path.trailing_slash {
        key.push('/');
    }
    key
}

/// The creation time in an upload id (see `new_upload_id`), if it has the shape of one.
fn upload_id_time_ms(id: &str) -> Option<u64> {
    if !keys::is_upload_id(id) {
        return None;
    }
    u64::from_str_radix(id.get(..16)?, 16)
        .ok()
        .map(|stamp| stamp >> 16)
}

/// The index entry of `id` and the upload row it points to (`None` inside when the row is
/// missing). `None` for an id that is unknown or not shaped like one.
fn lookup(r: &impl Reader, id: &str) -> Result<Option<(UploadRef, Option<Upload>)>, StoreError> {
    if !keys::is_upload_id(id) {
        return Ok(None);
    }
    let Some(at) = r.get::<UploadRef>(Cf::UploadId, &keys::upload_id(id))? else {
        return Ok(None);
    };
    let upload = r.get::<Upload>(Cf::Upload, &keys::upload(at.bucket, &at.key, id))?;
    Ok(Some((at, upload)))
}

/// The upload `id` in any state; `NotFound` when it does not exist or, with `path`, is not
/// the upload of that bucket and key.
pub(super) fn find_upload(
    r: &impl Reader,
    id: &str,
    path: Option<&ObjectPath>,
) -> Result<Found, RpcError> {
    let Some((at, Some(upload))) = lookup(r, id)? else {
        return Err(no_such_upload(id));
    };
    if let Some(path) = path {
        if !is_upload_path(r, &at, path)? {
            return Err(RpcError::not_found(format!(
                "no such upload {id} for {path}"
            )));
        }
    }
    Ok(Found {
        id: id.to_owned(),
        at,
        upload,
    })
}

/// Like [`find_upload`], but the upload must still be open.
pub(super) fn open_upload(
    r: &impl Reader,
    id: &str,
    path: Option<&ObjectPath>,
) -> Result<Found, RpcError> {
    let found = find_upload(r, id, path)?;
    match found.upload.state {
        UploadState::Open => Ok(found),
        UploadState::Completed(_) => Err(was_completed(&found)),
        UploadState::Completing(_) => Err(RpcError::not_found(format!(
            "upload {id} of {} is being completed: it takes no more parts",
            found.path()
        ))),
        UploadState::Aborting => Err(no_such_upload(id)),
    }
}

/// The error for an operation that needs an upload not yet completed.
pub(super) fn was_completed(found: &Found) -> RpcError {
    RpcError::not_found(format!(
        "upload {} of {} was completed",
        found.id,
        found.path()
    ))
}

/// Whether `path` names the bucket (by its current name) and key of the upload at `at`.
fn is_upload_path(r: &impl Reader, at: &UploadRef, path: &ObjectPath) -> Result<bool, RpcError> {
    if path.key.as_str() != at.key {
        return Ok(false);
    }
    Ok(bucket_by_name(r, &path.bucket).is_ok_and(|dir| dir.inode == at.bucket))
}

/// The error for an upload that does not exist (any more).
pub(super) fn no_such_upload(id: &str) -> RpcError {
    RpcError::detailed(
        ErrorDetail::NoSuchUpload,
        format!("no such upload {id} (never created, or aborted, expired or completed)"),
    )
}

/// Checks a part number.
pub(super) fn check_part_number(number: u32) -> Result<(), RpcError> {
    if (MIN_PART_NUMBER..=MAX_PART_NUMBER).contains(&number) {
        Ok(())
    } else {
        Err(RpcError::detailed(
            ErrorDetail::InvalidPartNumber,
            format!("part number {number} is not between {MIN_PART_NUMBER} and {MAX_PART_NUMBER}"),
        ))
    }
}

/// An MD5 ETag in its stored form (quoted lower-case hex), from 32 hex digits with or without
/// quotes; `None` for anything else.
pub(super) fn normalize_etag(text: &str) -> Option<String> {
    let text = text.trim();
    let bare = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    (bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("\"{}\"", bare.to_ascii_lowercase()))
}

/// A part as listed.
pub(super) fn part_info(number: u32, part: &Part) -> PartInfo {
    PartInfo {
        part_number: number,
        size: part.size,
        etag: part.etag.clone(),
        checksum: part.checksum.clone().map(Into::into),
        mtime_ms: part.mtime_ms,
    }
}

fn upload_info(found: &Found) -> UploadInfo {
    let u = &found.upload;
    UploadInfo {
        upload_id: found.id.clone(),
        bucket: u.bucket.clone(),
        key: u.key.clone(),
        initiated_ms: u.initiated_ms,
        content_type: u.content_type.clone(),
        meta: u.meta.clone(),
        checksum_algorithm: u.checksum_algorithm.map(Into::into),
        checksum_type: u.checksum_type.map(Into::into),
        owner_key: u.owner_key.clone(),
    }
}

/// Stages `part` as part `number` of the upload; the part it replaces (if any) drops its
/// references. The new part's references must already be taken, so that a part replaced by
/// slices of the same chunks never sends them to GC.
pub(super) fn replace_part(
    txn: &mut Txn<'_>,
    found: &Found,
    number: u32,
    part: &Part,
) -> Result<(), StoreError> {
    let key = keys::part(&found.id, number);
    if let Some(old) = txn.get::<Part>(Cf::Part, &key)? {
        release_slices(txn, &old.slices, &found.part_owner(number))?;
    }
    txn.put(Cf::Part, &key, part)
}

/// Stages the removal of an upload's row and index entry (its parts must be gone).
fn forget_upload(txn: &mut Txn<'_>, found: &Found) {
    txn.delete(Cf::Upload, &found.row_key());
    txn.delete(Cf::UploadId, &keys::upload_id(&found.id));
}

/// Refuses, with `NotEmpty`, to remove bucket `name` (inode `bucket`) while it has open
/// uploads; otherwise stages the removal of its completed-upload markers.
pub(super) fn clear_bucket_uploads(
    txn: &mut Txn<'_>,
    bucket: InodeId,
    name: &str,
) -> Result<(), RpcError> {
    let mut open = 0usize;
    let mut completed = Vec::new();
    txn.scan_raw(
        Cf::Upload,
        &keys::dentry_prefix(bucket),
        None,
        &mut |key, value| {
            match (keys::parse_upload(key), Upload::decode(value)?) {
                (
                    Some((_, _, id)),
                    Upload {
                        state: UploadState::Completed(_),
                        ..
                    },
                ) => completed.push((key.to_vec(), id)),
                // Open, or being completed or aborted: in progress.
                (Some(_), _) => open += 1,
                (None, _) => tracing::error!("skipping malformed upload key {key:02x?}"),
            }
            Ok(true)
        },
    )?;
    if open > 0 {
        return Err(RpcError::new(
            ErrorCode::NotEmpty,
            format!("bucket {name:?} has {open} multipart upload(s) in progress: abort them first"),
        ));
    }
    for (key, id) in completed {
        txn.delete(Cf::Upload, &key);
        txn.delete(Cf::UploadId, &keys::upload_id(&id));
    }
    Ok(())
}

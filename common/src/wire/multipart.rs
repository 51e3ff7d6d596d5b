//! S3 multipart uploads at metad. Re-exported by [`crate::wire`].
//!
//! An upload is created for a path (`/bucket/key`) and named by an opaque id. Its parts are
//! written like files, through a write session ([`BeginPartWriteReq`], then `alloc_chunk` and
//! `replace_replica` as for any write, then [`CommitPartReq`]), or made from a range of an
//! existing object without copying bytes ([`CopyPartReq`]). [`CompleteUploadReq`] makes the
//! object appear atomically from the parts' chunks; nothing moves. Parts and uploads are not
//! namespace entries: `stat`, `list` and `list_objects` never show them.
//!
//! Errors: an unknown, aborted, expired or completed upload is `NotFound` with the detail
//! [`ErrorDetail::NoSuchUpload`](crate::ErrorDetail::NoSuchUpload). The S3 validation errors
//! of completion and of parts are `InvalidArgument` with the detail naming the condition
//! (`InvalidPart`, `InvalidPartOrder`, `EntityTooSmall`, `NoPartsListed`, `EntityTooLarge`,
//! `InvalidPartNumber`, `InvalidRange`, `InvalidRequest`).
//!
//! Every request that names an upload by id may also carry the `path` the caller believes it
//! belongs to (the bucket and key of the S3 request): metad then answers `NotFound` unless the
//! upload is for that very bucket and key, so a request authorised for one bucket can never
//! touch an upload of another.

use super::{Entry, Repeat, Rpc, WriteSession, WrittenChunk};
use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use crate::names::{BucketName, ObjectPath};
use crate::{InodeId, SessionId};
use serde::{Deserialize, Serialize};

/// Smallest part number.
pub const MIN_PART_NUMBER: u32 = 1;
/// Largest part number (S3 allows 10 000 parts).
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Smallest size of every part but the last one of a completed upload (5 MiB).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Largest size of one part (5 GiB).
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// Most slices a part made by [`CopyPartReq`] (S3 UploadPartCopy) may hold: 10,000.
///
/// A slice is a piece of one stored chunk. A part copy shares the source's slices over the
/// range instead of copying bytes, so how many it carries depends on how the source was made,
/// not on the range's size, and copies of copies could otherwise pile up slices without
/// moving a byte. No copy of a normally written object gets near the cap: a part is at most
/// [`MAX_PART_SIZE`] (5 GiB), which is 640 slices in metad's default 8 MiB chunks and 5,120
/// in 1 MiB chunks; a range of a multipart source also crosses at most 1,026 of its parts
/// (every part but the last holds at least [`MIN_PART_SIZE`]), each adding at most one short
/// slice: 6,146 at most for any source written in chunks of 1 MiB or more. The cap also keeps
/// the copy's transaction (it updates one chunk record per slice) near the 10,000 rows metad
/// holds every batch to. A copy over it is `InvalidArgument` with the detail `InvalidRequest`
/// (S3 `InvalidRequest`), and nothing changes.
pub const MAX_PART_COPY_SLICES: usize = 10_000;

/// Most slices an object completed by [`CompleteUploadReq`] may hold: 1,048,576 (2^20).
///
/// S3's largest object, 5 TiB, written in metad's default 8 MiB chunks has 655,360 slices,
/// plus at most one short slice per part (10,000 parts): 665,360. With a `chunk_size` below
/// about 5 MiB the largest object that can be completed is smaller (about 1 TiB in 1 MiB
/// chunks). So parts copied from fragmented objects cannot add up to a multi-million-slice
/// object, whose chunk map would be huge to store, read and delete. A completion over it is
/// `InvalidArgument` with the detail `InvalidRequest`, and the upload stays open.
pub const MAX_OBJECT_SLICES: usize = 1 << 20;

// The figures the documentation of the two caps gives, checked when compiling.
const _: () = {
    const MIB: u64 = 1 << 20;
    // A 5 GiB range in 1 MiB chunks, plus one short slice per part of the source it crosses.
    let crossed = MAX_PART_SIZE / MIN_PART_SIZE + 2;
    assert!(MAX_PART_SIZE / MIB + crossed == 6_146);
    assert!(6_146 <= MAX_PART_COPY_SLICES as u64);
    // A 5 TiB object in 8 MiB chunks, plus one short slice per part.
    let largest = (5 << 40) / (8 * MIB) + MAX_PART_NUMBER as u64;
    assert!(largest == 665_360 && largest <= MAX_OBJECT_SLICES as u64);
    // 10,000 copies of 5 GiB ranges in 8 MiB chunks would hold millions: refused.
    assert!(MAX_PART_NUMBER as u64 * (MAX_PART_SIZE / (8 * MIB)) > MAX_OBJECT_SLICES as u64);
};

/// Most parts one [`ListPartsReq`] returns.
pub const MAX_LIST_PARTS: u32 = 1000;
/// Most uploads and common prefixes one [`ListUploadsReq`] returns.
pub const MAX_LIST_UPLOADS: u32 = 1000;

/// Start a multipart upload (S3 CreateMultipartUpload).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateUploadReq {
    /// `/bucket/key` of the object the upload will make (not ending in `/`). A missing
    /// bucket is `NotFound` with the detail `NoSuchBucket`.
    pub path: ObjectPath,
    /// Content type the object gets.
    pub content_type: Option<String>,
    /// User metadata and stored headers the object gets.
    #[serde(default)]
    pub meta: Vec<(String, String)>,
    /// The flexible checksum algorithm of the upload (S3 `x-amz-checksum-algorithm`), kept
    /// for the gateway.
    #[serde(default)]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Composite or full-object (S3 `x-amz-checksum-type`), kept for the gateway.
    #[serde(default)]
    pub checksum_type: Option<ChecksumType>,
    /// The access key that starts the upload (S3 initiator and owner), if any.
    #[serde(default)]
    pub owner_key: Option<String>,
}

/// The answer to [`CreateUploadReq`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUploadResp {
    /// The upload id: 32 lower-case hex digits, URL-safe and unguessable. Ids of one key sort
    /// in the order the uploads were created.
    pub upload_id: String,
}
rpc!(CreateUploadReq, "create_upload", CreateUploadResp, Never);

/// Start writing a part: a write session like [`super::BeginWriteReq`]'s, to be filled with
/// `alloc_chunk` / `replace_replica` and ended with [`CommitPartReq`] (or `abort`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BeginPartWriteReq {
    /// The upload.
    pub upload_id: String,
    /// The part number, 1 to [`MAX_PART_NUMBER`].
    pub part_number: u32,
    /// The upload's `/bucket/key`, checked when given (see the module documentation).
    #[serde(default)]
    pub path: Option<ObjectPath>,
}
rpc!(BeginPartWriteReq, "begin_part_write", WriteSession, Always);

/// Store a written part, replacing any part of the same number (whose chunks are collected),
/// in one synced batch. `NotFound` when the upload is gone or completed; the session then
/// stays open: abort it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommitPartReq {
    /// The write session opened by [`BeginPartWriteReq`].
    pub session: SessionId,
    /// Total size; must equal the sum of the chunk lengths (at most [`MAX_PART_SIZE`]).
    pub size: u64,
    /// The part's ETag: the MD5 of its bytes as 32 hex digits, quoted or not (stored quoted).
    pub etag: String,
    /// The part's flexible checksum (full-object: of the part's bytes) as verified by the
    /// gateway, if any.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    /// The chunks in order.
    pub chunks: Vec<WrittenChunk>,
}

/// A stored part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Its number.
    pub part_number: u32,
    /// Bytes of data.
    pub size: u64,
    /// Its ETag, quoted.
    pub etag: String,
    /// Its flexible checksum (full-object: of the part's bytes), if one was given.
    pub checksum: Option<Checksum>,
    /// When it was stored, Unix milliseconds.
    pub mtime_ms: u64,
}
rpc!(CommitPartReq, "commit_part", PartInfo, WithToken);

/// Make a part from bytes of an existing object (S3 UploadPartCopy), sharing its chunks: the
/// part is a list of slices of the source's chunks, and no byte is copied. A part of the same
/// number is replaced. One synced batch, preconditions included.
///
/// S3 makes the part's ETag the MD5 of its bytes, which metad cannot compute without the data:
/// when the part is the whole source and the source's ETag is a plain MD5 (not multipart),
/// metad uses the source's ETag; otherwise the caller must read the range once, hash it, and
/// pass `etag` (the data is still not copied). To make sure the hash and the shared bytes are
/// the same version of the source, pass the source inode seen while hashing in `src_inode`.
///
/// The part may hold at most [`MAX_PART_COPY_SLICES`] slices of the source's chunks
/// (`InvalidRequest` otherwise).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CopyPartReq {
    /// The upload.
    pub upload_id: String,
    /// The part number, 1 to [`MAX_PART_NUMBER`].
    pub part_number: u32,
    /// The upload's `/bucket/key`, checked when given (see the module documentation).
    #[serde(default)]
    pub path: Option<ObjectPath>,
    /// The source object's path (`/bucket/key`; `/bucket/dir/` for a directory object).
    pub src: ObjectPath,
    /// First and last byte (inclusive) of the source to take (S3
    /// `x-amz-copy-source-range`); `None` for the whole source. Outside the source:
    /// `InvalidArgument` with message `InvalidRange: ...`.
    #[serde(default)]
    pub range: Option<(u64, u64)>,
    /// S3 `x-amz-copy-source-if-match` (ETags compared without quotes, `*` matches any).
    #[serde(default)]
    pub src_if_match: Option<String>,
    /// S3 `x-amz-copy-source-if-none-match`.
    #[serde(default)]
    pub src_if_none_match: Option<String>,
    /// S3 `x-amz-copy-source-if-modified-since`, Unix milliseconds (compared in whole seconds).
    #[serde(default)]
    pub src_if_modified_since_ms: Option<u64>,
    /// S3 `x-amz-copy-source-if-unmodified-since`, Unix milliseconds (whole seconds).
    #[serde(default)]
    pub src_if_unmodified_since_ms: Option<u64>,
    /// The MD5 of the part's bytes (32 hex digits, quoted or not), computed by the caller;
    /// required unless the part is the whole of a source with a plain MD5 ETag.
    #[serde(default)]
    pub etag: Option<String>,
    /// The part's flexible checksum (full-object: of the part's bytes), computed by the
    /// caller, if any.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    /// Fail with `Conflict` unless the source is still this inode (it was not replaced since
    /// the caller read it to compute `etag`).
    #[serde(default)]
    pub src_inode: Option<InodeId>,
}

/// The answer to [`CopyPartReq`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyPartResp {
    /// The new part.
    pub part: PartInfo,
    /// The source's ETag.
    pub src_etag: String,
    /// The source's last modification, Unix milliseconds.
    pub src_mtime_ms: u64,
}
rpc!(CopyPartReq, "copy_part", CopyPartResp, Never);

/// Complete an upload (S3 CompleteMultipartUpload): the object appears at the upload's path,
/// atomically, made of the listed parts' chunks (no data moves), in one synced batch.
///
/// Validation, in S3's order: no part is `MalformedXML`; part numbers must ascend strictly
/// (`InvalidPartOrder`); each must exist with that ETag (`InvalidPart`); every part but the
/// last must hold at least [`MIN_PART_SIZE`] bytes (`EntityTooSmall`). The ETag is
/// `"<hex MD5 of the concatenated binary part MD5s>-<number of parts>"`; the listed parts may
/// hold at most [`MAX_OBJECT_SLICES`] slices in all (`InvalidRequest`). Parts left out are
/// collected. A completed upload answers a repeated completion with the same parts with the
/// same object (for a day); any other call on it is `NotFound`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompleteUploadReq {
    /// The upload.
    pub upload_id: String,
    /// The upload's `/bucket/key`, checked when given (see the module documentation).
    #[serde(default)]
    pub path: Option<ObjectPath>,
    /// The parts to assemble: (part number, ETag as sent; quotes optional).
    pub parts: Vec<(u32, String)>,
    /// Fail with `PreconditionFailed` if an object exists at the path (S3 `If-None-Match: *`),
    /// checked atomically with the completion.
    #[serde(default)]
    pub if_none_match: bool,
    /// Fail with `PreconditionFailed` unless the object at the path has this ETag (S3
    /// `If-Match`, same syntax as `CommitReq::if_match`).
    #[serde(default)]
    pub if_match: Option<String>,
    /// The object's flexible checksum computed by the gateway from the parts' checksums,
    /// stored with the object. Its algorithm must be the upload's (which must be set).
    #[serde(default)]
    pub checksum: Option<Checksum>,
}

/// The answer to [`CompleteUploadReq`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteUploadResp {
    /// The new object's entry (with `part_sizes`).
    pub entry: Entry,
    /// Its ETag (the same as `entry.etag`).
    pub etag: String,
}
rpc!(
    CompleteUploadReq,
    "complete_upload",
    CompleteUploadResp,
    Never
);

/// Abort an upload (S3 AbortMultipartUpload): its parts' chunks are collected. `NotFound` if
/// it is unknown or completed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AbortUploadReq {
    /// The upload.
    pub upload_id: String,
    /// The upload's `/bucket/key`, checked when given (see the module documentation).
    #[serde(default)]
    pub path: Option<ObjectPath>,
}
rpc!(AbortUploadReq, "abort_upload", super::Empty, WithToken);

/// What is known of an open upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfo {
    /// The upload id.
    pub upload_id: String,
    /// The bucket's name when the upload was created.
    pub bucket: String,
    /// The object's key.
    pub key: String,
    /// Creation time, Unix milliseconds.
    pub initiated_ms: u64,
    /// Content type the object will get.
    pub content_type: Option<String>,
    /// User metadata and stored headers the object will get.
    pub meta: Vec<(String, String)>,
    /// The flexible checksum algorithm, as given at creation.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The checksum type, as given at creation.
    pub checksum_type: Option<ChecksumType>,
    /// The access key that started it.
    pub owner_key: Option<String>,
}

/// List the parts of an open upload (S3 ListParts), one page at a time, by part number.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListPartsReq {
    /// The upload.
    pub upload_id: String,
    /// The upload's `/bucket/key`, checked when given (see the module documentation).
    #[serde(default)]
    pub path: Option<ObjectPath>,
    /// Only parts with a greater number (S3 `part-number-marker`; 0 for all).
    #[serde(default)]
    pub part_number_marker: u32,
    /// At most this many parts (capped at [`MAX_LIST_PARTS`]); 0 answers an empty,
    /// untruncated page.
    pub max_parts: u32,
}

/// The answer to [`ListPartsReq`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPartsResp {
    /// `/bucket/key` of the upload (the bucket's name as it was at creation).
    pub path: String,
    /// The upload.
    pub upload: UploadInfo,
    /// The parts, by number.
    pub parts: Vec<PartInfo>,
    /// Whether more parts follow.
    pub truncated: bool,
    /// The number of the last part returned (the `part_number_marker` of the next page); 0
    /// when none was.
    pub next_part_number_marker: u32,
}
rpc!(ListPartsReq, "list_parts", ListPartsResp, Always);

/// List a bucket's open uploads (S3 ListMultipartUploads), in S3 order: by key, then by
/// creation (the order of their ids).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListUploadsReq {
    /// The bucket.
    pub bucket: BucketName,
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Roll keys that contain this after the prefix up into common prefixes.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Only uploads of keys after this one; with `upload_id_marker`, also the uploads of this
    /// key whose ids sort after that one. A key inside a common prefix (or the prefix itself)
    /// skips the whole common prefix.
    #[serde(default)]
    pub key_marker: Option<String>,
    /// See `key_marker`; ignored without it.
    #[serde(default)]
    pub upload_id_marker: Option<String>,
    /// At most this many uploads and common prefixes together (capped at
    /// [`MAX_LIST_UPLOADS`]); 0 answers an empty, untruncated page.
    pub max_uploads: u32,
}

/// One upload of a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadEntry {
    /// The object's key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// Creation time, Unix milliseconds.
    pub initiated_ms: u64,
    /// The access key that started it.
    pub owner_key: Option<String>,
    /// The flexible checksum algorithm, as given at creation.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The checksum type, as given at creation.
    pub checksum_type: Option<ChecksumType>,
    /// A completion in steps began and has not finished (its client went away, or it is
    /// running now): the upload takes no more parts; sending the same completion again
    /// finishes it, an abort drops it. Still in progress for S3, so still listed.
    #[serde(default)]
    pub completing: bool,
}

/// The answer to [`ListUploadsReq`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListUploadsResp {
    /// Uploads in S3 order.
    pub uploads: Vec<UploadEntry>,
    /// Common prefixes, in key order (interleaved with `uploads` in one order).
    pub common_prefixes: Vec<String>,
    /// Whether more uploads or prefixes follow.
    pub truncated: bool,
    /// When truncated: the key of the last upload, or the last common prefix, of this page
    /// (whichever sorts last).
    pub next_key_marker: Option<String>,
    /// When truncated and the page ends with an upload: its id.
    pub next_upload_id_marker: Option<String>,
}
rpc!(ListUploadsReq, "list_uploads", ListUploadsResp, Always);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_requests_decode() {
        let list: ListPartsReq =
            serde_json::from_str(r#"{"upload_id":"u","max_parts":5}"#).unwrap();
        assert_eq!((list.part_number_marker, list.path), (0, None));
        let copy: CopyPartReq =
            serde_json::from_str(r#"{"upload_id":"u","part_number":1,"src":"/bkt/x"}"#).unwrap();
        assert!(copy.range.is_none() && copy.etag.is_none() && copy.src_inode.is_none());
        let complete: CompleteUploadReq =
            serde_json::from_str(r#"{"upload_id":"u","parts":[[1,"\"e\""]]}"#).unwrap();
        assert_eq!(complete.parts, [(1, "\"e\"".to_owned())]);
    }
}

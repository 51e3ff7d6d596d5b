//! UploadPartCopy: a part made of slices of an existing object's chunks. The slices take one
//! reference each on their chunks; no byte is copied. Whatever the range, it is cut along the
//! source's chunk slices, so a range across chunk boundaries becomes one slice per chunk it
//! touches. A part copy holds at most `MAX_PART_COPY_SLICES` slices (`SliceCaps`), so that
//! copies of fragmented objects cannot pile up slices without moving a byte.

use super::{check_part_number, normalize_etag, open_upload, part_info, replace_part};
use crate::ns::{
    chunk_map, dir_object, etag_matches, get_dentry, last_inode, now_ms, share_slices, walk_dirs,
    Namespace,
};
use crate::store::keys;
use crate::store::values::{Dentry, FileChunk, Part};
use crate::store::Txn;
use dfs_common::path::DfsPath;
use dfs_common::wire::{CopyPartReq, CopyPartResp, MAX_PART_SIZE};
use dfs_common::{ErrorCode, ErrorDetail, InodeId, RpcError};

/// The source of a part copy, as found.
struct Source {
    inode: InodeId,
    size: u64,
    etag: String,
    mtime_ms: u64,
    /// Its number of chunk rows.
    count: u64,
}

impl Namespace {
    /// Makes part `req.part_number` of an upload from a range of another object (see
    /// `CopyPartReq`), in one synced batch.
    pub fn copy_part(&self, req: &CopyPartReq) -> Result<CopyPartResp, RpcError> {
        check_part_number(req.part_number)?;
        let src = DfsPath::from(&req.src);
        let now = now_ms();
        let mut txn = self.store.begin();
        let found = open_upload(&txn, &req.upload_id, req.path.as_ref())?;
        let source = find_source(&txn, &src)?;
        if req.src_inode.is_some_and(|inode| inode != source.inode) {
            return Err(RpcError::new(
                ErrorCode::Conflict,
                format!("{src} was replaced while the part copy was being prepared"),
            ));
        }
        check_source_conditions(&source.etag, source.mtime_ms, req, &src)?;
        let (start, end) = match req.range {
            None => (0, source.size),
            Some((first, last)) if first <= last && last < source.size => (first, last + 1),
            Some((first, last)) => {
                return Err(RpcError::detailed(
                    ErrorDetail::InvalidRange,
                    format!(
                        "bytes {first}-{last} are not inside {src}, which holds {} bytes",
                        source.size
                    ),
                ))
            }
        };
        let size = end - start;
        if size > MAX_PART_SIZE {
            return Err(RpcError::detailed(
                ErrorDetail::InvalidRequest,
                format!(
                    "a part copy may take at most {MAX_PART_SIZE} bytes, not {size} (from {src})"
                ),
            ));
        }
        let whole = start == 0 && end == source.size;
        let etag = match (&req.etag, whole) {
            (Some(given), _) => normalize_etag(given).ok_or_else(|| {
                RpcError::invalid(format!(
                    "part copy from {src}: ETag {given:?} is not an MD5 (32 hex digits)"
                ))
            })?,
            (None, true) => normalize_etag(&source.etag).ok_or_else(|| needs_etag(&src))?,
            (None, false) => return Err(needs_etag(&src)),
        };
        // Only the rows of the range are read, one more than the cap at most.
        let cap = self.settings.slice_caps.part_copy;
        let rows = chunk_map::page(&txn, source.inode, source.count, start, end, cap + 1)?;
        if rows.rows.len() > cap {
            return Err(RpcError::detailed(
                ErrorDetail::InvalidRequest,
                format!(
                    "bytes {start}-{} of {src} are stored in more than {cap} slices of chunks, and a part copy may hold at most {cap}: copy a smaller range",
                    end - 1,
                ),
            ));
        }
        let slices = slice_range(&rows.rows, start, end)
            .map_err(|why| RpcError::internal(format!("cannot copy from {src}: {why}")))?;
        let number = req.part_number;
        share_slices(&mut txn, &slices, &found.part_owner(number))?;
        let part = Part {
            size,
            etag,
            checksum: req.checksum.clone().map(Into::into),
            mtime_ms: now,
            slices,
        };
        replace_part(&mut txn, &found, number, &part)?;
        txn.commit(true)?;
        Ok(CopyPartResp {
            part: part_info(number, &part),
            src_etag: source.etag,
            src_mtime_ms: source.mtime_ms,
        })
    }
}

fn needs_etag(src: &DfsPath) -> RpcError {
    RpcError::invalid(format!(
        "part copy from {src}: the part is not the whole of a source with a plain MD5 ETag, so \
         the caller must give the MD5 of its bytes"
    ))
}

/// The object `src` names: the file `x`, or for `x/` the object of an explicit directory.
fn find_source(txn: &Txn<'_>, src: &DfsPath) -> Result<Source, RpcError> {
    let missing = || RpcError::not_found(format!("no such object {src}"));
    let Some(name) = src.name() else {
        return Err(missing());
    };
    let steps = walk_dirs(txn, src.parent_components(), src)?;
    let parent = last_inode(&steps);
    if src.trailing_slash {
        return match get_dentry(txn, parent, &keys::entry_name(name, true))? {
            Some(Dentry::Dir(dir)) => {
                let object = dir_object(parent, &dir).ok_or_else(missing)?;
                Ok(Source {
                    inode: dir.inode,
                    size: object.size,
                    etag: object.etag.clone(),
                    mtime_ms: dir.mtime_ms,
                    count: object.chunk_count,
                })
            }
            _ => Err(missing()),
        };
    }
    match get_dentry(txn, parent, name)? {
        Some(Dentry::File(file)) => Ok(Source {
            inode: file.inode,
            size: file.size,
            count: file.chunk_count,
            etag: file.etag,
            mtime_ms: file.mtime_ms,
        }),
        _ => Err(missing()),
    }
}

/// The S3 `x-amz-copy-source-if-*` conditions, compared with HTTP dates' precision (whole
/// seconds). A matching If-Match overrides If-Unmodified-Since, and If-None-Match overrides
/// If-Modified-Since, as S3 documents.
fn check_source_conditions(
    etag: &str,
    mtime_ms: u64,
    req: &CopyPartReq,
    src: &DfsPath,
) -> Result<(), RpcError> {
    let failed = |why: String| {
        Err(RpcError::new(
            ErrorCode::PreconditionFailed,
            format!("copy source {src} {why}"),
        ))
    };
    let secs = mtime_ms / 1000;
    match (&req.src_if_match, req.src_if_unmodified_since_ms) {
        (Some(want), _) if !etag_matches(etag, want) => {
            return failed(format!("has ETag {etag} (If-Match {want})"))
        }
        (None, Some(since)) if secs > since / 1000 => {
            return failed(format!("was modified after {since} (If-Unmodified-Since)"))
        }
        _ => {}
    }
    match (&req.src_if_none_match, req.src_if_modified_since_ms) {
        (Some(want), _) if etag_matches(etag, want) => {
            failed(format!("has ETag {etag} (If-None-Match {want})"))
        }
        (None, Some(since)) if secs <= since / 1000 => failed(format!(
            "was not modified after {since} (If-Modified-Since)"
        )),
        _ => Ok(()),
    }
}

/// The slices that hold bytes `[start, end)` of a file, from its chunk rows that cover them
/// (each with its offset in the file, in order): each row the range touches, cut to the part
/// of it inside the range. Fails when the rows leave a gap or end before `end`.
pub(super) fn slice_range(
    rows: &[(u64, FileChunk)],
    start: u64,
    end: u64,
) -> Result<Vec<FileChunk>, String> {
    let mut out = Vec::new();
    let mut pos = start;
    for (offset, row) in rows {
        if pos >= end {
            break;
        }
        let row_end = offset
            .checked_add(row.len)
            .ok_or("the chunk rows overflow")?;
        if row_end <= pos {
            continue;
        }
        if *offset > pos {
            return Err(format!("no chunk row holds byte {pos}"));
        }
        let from = pos - offset;
        let to = row_end.min(end) - offset;
        out.push(FileChunk {
            chunk: row.chunk,
            chunk_offset: row.chunk_offset.saturating_add(from),
            len: to - from,
            crc32c: row.crc32c,
            chunk_len: row.chunk_len,
        });
        pos = offset + to;
    }
    if pos < end {
        return Err(format!(
            "its chunk rows end at byte {pos}, before the {end} asked for"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::ChunkId;

    /// Whole chunks of these lengths, one after the other, with their offsets.
    fn rows(lens: &[u64]) -> Vec<(u64, FileChunk)> {
        let mut offset = 0;
        lens.iter()
            .enumerate()
            .map(|(i, &len)| {
                let row = FileChunk {
                    chunk: ChunkId(i as u64 + 1),
                    chunk_offset: 0,
                    len,
                    crc32c: i as u32,
                    chunk_len: len,
                };
                offset += len;
                (offset - len, row)
            })
            .collect()
    }

    /// (chunk, offset in chunk, len) of each slice.
    fn shape(slices: &[FileChunk]) -> Vec<(u64, u64, u64)> {
        slices
            .iter()
            .map(|s| (s.chunk.0, s.chunk_offset, s.len))
            .collect()
    }

    #[test]
    fn ranges_are_cut_along_chunks() {
        let r = rows(&[10, 10, 5]);
        assert_eq!(
            shape(&slice_range(&r, 0, 25).unwrap()),
            [(1, 0, 10), (2, 0, 10), (3, 0, 5)]
        );
        assert_eq!(
            shape(&slice_range(&r, 3, 12).unwrap()),
            [(1, 3, 7), (2, 0, 2)]
        );
        assert_eq!(shape(&slice_range(&r, 10, 20).unwrap()), [(2, 0, 10)]);
        assert_eq!(shape(&slice_range(&r, 24, 25).unwrap()), [(3, 4, 1)]);
        assert!(slice_range(&r, 5, 5).unwrap().is_empty());
        assert!(slice_range(&r, 0, 26).is_err());
        // Rows from the middle of a file (a page), and a gap.
        assert_eq!(
            shape(&slice_range(&r[1..], 12, 22).unwrap()),
            [(2, 2, 8), (3, 0, 2)]
        );
        assert!(slice_range(&r[1..], 5, 12).is_err());
        assert!(slice_range(&[r[0].clone(), r[2].clone()], 5, 22).is_err());
        // The whole chunk's length and CRC travel with every slice.
        let s = slice_range(&r, 12, 13).unwrap();
        assert_eq!((s[0].chunk_len, s[0].crc32c), (10, 1));
    }

    #[test]
    fn slices_of_slices_keep_their_place_in_the_chunk() {
        let mut r = rows(&[10]);
        r[0].1.chunk_offset = 100;
        r[0].1.chunk_len = 1000;
        let s = slice_range(&r, 2, 5).unwrap();
        assert_eq!(shape(&s), [(1, 102, 3)]);
        assert_eq!(s[0].chunk_len, 1000);
    }

    fn conditions(req: impl FnOnce(&mut CopyPartReq)) -> Result<(), RpcError> {
        let mut r = CopyPartReq {
            upload_id: String::new(),
            part_number: 1,
            path: None,
            src: "/bkt/x".parse().unwrap(),
            range: None,
            src_if_match: None,
            src_if_none_match: None,
            src_if_modified_since_ms: None,
            src_if_unmodified_since_ms: None,
            etag: None,
            checksum: None,
            src_inode: None,
        };
        req(&mut r);
        let src = DfsPath::parse("/bkt/x").unwrap();
        // The source: ETag "e", modified at second 100.
        check_source_conditions("\"e\"", 100_500, &r, &src)
    }

    #[test]
    fn copy_source_conditions_follow_s3() {
        let code = |r: Result<(), RpcError>| r.err().map(|e| e.code);
        let failed = Some(ErrorCode::PreconditionFailed);
        assert_eq!(code(conditions(|_| {})), None);
        assert_eq!(
            code(conditions(|r| r.src_if_match = Some("e".into()))),
            None
        );
        assert_eq!(
            code(conditions(|r| r.src_if_match = Some("f".into()))),
            failed
        );
        assert_eq!(
            code(conditions(|r| r.src_if_none_match = Some("\"e\"".into()))),
            failed
        );
        assert_eq!(
            code(conditions(|r| r.src_if_none_match = Some("f".into()))),
            None
        );
        // Same second: not modified since, not modified after.
        assert_eq!(
            code(conditions(|r| r.src_if_modified_since_ms = Some(100_000))),
            failed
        );
        assert_eq!(
            code(conditions(|r| r.src_if_modified_since_ms = Some(99_999))),
            None
        );
        assert_eq!(
            code(conditions(|r| r.src_if_unmodified_since_ms = Some(100_000))),
            None
        );
        assert_eq!(
            code(conditions(|r| r.src_if_unmodified_since_ms = Some(99_000))),
            failed
        );
        // A matching If-Match wins over a failing If-Unmodified-Since.
        assert_eq!(
            code(conditions(|r| {
                r.src_if_match = Some("e".into());
                r.src_if_unmodified_since_ms = Some(1);
            })),
            None
        );
        // A failing If-None-Match fails even with a true If-Modified-Since.
        assert_eq!(
            code(conditions(|r| {
                r.src_if_none_match = Some("e".into());
                r.src_if_modified_since_ms = Some(1);
            })),
            failed
        );
    }
}

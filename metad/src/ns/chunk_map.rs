//! A file's chunk map read by byte range. The rows of a file are keyed by their index; since
//! schema version 8 each also records where its slice starts in the file, so the row holding a
//! given byte is found by a binary search over the indices (a few point reads), and a read of
//! any range costs the rows of that range, never the whole map. Rows written before version 8
//! carry no offset: for those files the search falls back to summing lengths from the first
//! row (their size was bounded by the caps of their day).

use crate::store::values::{ChunkRow, FileChunk, StoredChunkRow};
use crate::store::{keys, Cf, Reader, StoreError, Txn};
use dfs_common::InodeId;

/// A run of consecutive rows of a chunk map.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Each row's slice and where it starts in the file, in file order.
    pub rows: Vec<(u64, FileChunk)>,
    /// Where the first row after the page starts, when one exists.
    pub next: Option<u64>,
}

/// The rows of `inode` (a file or a directory's payload, with `count` rows) that hold bytes
/// from `from` on: from the row holding byte `from`, at most `max` rows, stopping before the
/// first row that starts at or after `until`. Rows ending at or before `from` are skipped (rows
/// of no length at `from` among them). Past the end of the data the page is empty.
pub fn page(
    r: &impl Reader,
    inode: InodeId,
    count: u64,
    from: u64,
    until: u64,
    max: usize,
) -> Result<Page, StoreError> {
    // Rows without offsets (`None`) are walked from the first one.
    let (first, mut offset) = locate(r, inode, count, from)?.unwrap_or_default();
    let mut page = Page::default();
    let after = first.checked_sub(1).map(|i| keys::file_chunk(inode, i));
    let mut failure = None;
    r.scan_raw(
        Cf::Chunks,
        &keys::file_chunk_prefix(inode),
        after.as_ref().map(|k| &k[..]),
        &mut |key, value| {
            use crate::store::values::Value;
            let row = match StoredChunkRow::decode(value) {
                Ok(row) => row,
                Err(e) => {
                    failure = Some(StoreError::Corrupt(format!(
                        "chunk map row {key:02x?}: {e}"
                    )));
                    return Ok(false);
                }
            };
            let start = row.offset.unwrap_or(offset);
            offset = start.saturating_add(row.slice.len);
            if offset <= from {
                return Ok(true);
            }
            if start >= until || page.rows.len() >= max {
                page.next = Some(start);
                return Ok(false);
            }
            page.rows.push((start, row.slice));
            Ok(true)
        },
    )?;
    match failure {
        Some(e) => Err(e),
        None => Ok(page),
    }
}

/// The index of the row holding byte `from` and where it starts, by binary search over rows
/// that record their offset: the last row starting at or before `from`. `None` when the rows
/// carry no offsets (written before schema version 8).
fn locate(
    r: &impl Reader,
    inode: InodeId,
    count: u64,
    from: u64,
) -> Result<Option<(u64, u64)>, StoreError> {
    if count == 0 {
        return Ok(Some((0, 0)));
    }
    let start_of = |index: u64| -> Result<Option<u64>, StoreError> {
        match r.get::<StoredChunkRow>(Cf::Chunks, &keys::file_chunk(inode, index))? {
            Some(row) => Ok(row.offset),
            None => Err(StoreError::Corrupt(format!(
                "file {inode} has {count} chunk rows but no row {index}"
            ))),
        }
    };
    let Some(mut low_start) = start_of(0)? else {
        return Ok(None);
    };
    // Invariant: row `low` starts at or before `from`; every row from `high` on starts after.
    let (mut low, mut high) = (0, count);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        let Some(start) = start_of(mid)? else {
            return Ok(None);
        };
        if start <= from {
            (low, low_start) = (mid, start);
        } else {
            high = mid;
        }
    }
    Ok(Some((low, low_start)))
}

/// Stages `slices` as the chunk rows of `inode` from row `index` on, the first starting at
/// byte `offset` of the file. Returns the index and offset after the last one.
pub fn put_rows(
    txn: &mut Txn<'_>,
    inode: InodeId,
    mut index: u64,
    mut offset: u64,
    slices: &[FileChunk],
) -> Result<(u64, u64), StoreError> {
    for slice in slices {
        let row = ChunkRow {
            offset,
            slice: slice.clone(),
        };
        txn.put(Cf::Chunks, &keys::file_chunk(inode, index), &row)?;
        index += 1;
        offset = offset.saturating_add(slice.len);
    }
    Ok((index, offset))
}

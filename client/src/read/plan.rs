//! Which bytes of which chunk slices a range read needs: pure arithmetic over a chunk list,
//! kept apart from the I/O so that it is tested on its own.

use dfs_common::wire::ChunkInfo;

/// The part of one chunk slice (an entry of a chunk list) that a range read needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Index of the slice in the chunk list planned over.
    pub chunk: usize,
    /// First byte wanted, relative to the slice's start.
    pub from: u64,
    /// One past the last byte wanted, relative to the slice's start.
    pub to: u64,
}

/// The chunk pieces covering bytes `[start, end)` of a file of `size` bytes, in order. `end`
/// is clamped to the size; an empty range needs no piece. Fails when the chunk list does not
/// cover the range without gaps (inconsistent metadata).
pub fn plan_range(
    chunks: &[ChunkInfo],
    size: u64,
    start: u64,
    end: u64,
) -> Result<Vec<Piece>, String> {
    let end = end.min(size);
    let mut pieces = Vec::new();
    if start >= end {
        return Ok(pieces);
    }
    let mut pos = start;
    for (index, chunk) in chunks.iter().enumerate() {
        let chunk_end = chunk.offset.saturating_add(chunk.len);
        if chunk_end <= pos {
            continue;
        }
        if chunk.offset >= end {
            break;
        }
        if chunk.offset > pos {
            return Err(format!(
                "no chunk holds bytes {pos}..{} (chunk {index} starts at {})",
                chunk.offset, chunk.offset
            ));
        }
        let piece_end = chunk_end.min(end);
        pieces.push(Piece {
            chunk: index,
            from: pos - chunk.offset,
            to: piece_end - chunk.offset,
        });
        pos = piece_end;
        if pos == end {
            return Ok(pieces);
        }
    }
    Err(format!(
        "the chunk list ends at byte {pos}, before the end of the range ({end})"
    ))
}

/// The bytes of a stored chunk that a piece needs: `[start, end)` in the stored chunk (a
/// file's chunk may be a slice of the stored one), and whether that is the whole chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredRange {
    /// First byte, in the stored chunk.
    pub start: u64,
    /// One past the last byte, in the stored chunk.
    pub end: u64,
    /// Whether the range is the whole stored chunk (then its CRC32C can be checked).
    pub whole: bool,
}

/// Where `piece` (relative to the slice `chunk`) lies in the stored chunk. Fails when the
/// slice does not fit in the stored chunk (inconsistent metadata).
pub fn stored_range(chunk: &ChunkInfo, piece: Piece) -> Result<StoredRange, String> {
    let stored = chunk.stored_len();
    let start = chunk.chunk_offset.checked_add(piece.from);
    let end = chunk.chunk_offset.checked_add(piece.to);
    match (start, end) {
        (Some(start), Some(end)) if start <= end && end <= stored && piece.to <= chunk.len => {
            Ok(StoredRange {
                start,
                end,
                whole: start == 0 && end == stored,
            })
        }
        _ => Err(format!(
            "bytes {}..{} of a slice of {} bytes at offset {} do not fit in chunk {} of {stored} bytes",
            piece.from, piece.to, chunk.len, chunk.chunk_offset, chunk.id
        )),
    }
}

/// Whole chunks of these lengths, one after the other (for tests).
#[cfg(test)]
pub(super) fn whole_chunks(lens: &[u64]) -> Vec<ChunkInfo> {
    let mut offset = 0;
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            let chunk = ChunkInfo {
                id: dfs_common::ChunkId(i as u64 + 1),
                offset,
                len,
                crc32c: 0,
                replicas: Vec::new(),
                chunk_offset: 0,
                chunk_len: 0,
            };
            offset += len;
            chunk
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(chunk: usize, from: u64, to: u64) -> Piece {
        Piece { chunk, from, to }
    }

    #[test]
    fn whole_file() {
        let c = whole_chunks(&[4, 4, 2]);
        assert_eq!(
            plan_range(&c, 10, 0, 10).unwrap(),
            [piece(0, 0, 4), piece(1, 0, 4), piece(2, 0, 2)]
        );
        // An end past the size is clamped.
        assert_eq!(
            plan_range(&c, 10, 0, u64::MAX).unwrap(),
            plan_range(&c, 10, 0, 10).unwrap()
        );
    }

    #[test]
    fn partial_ranges() {
        let c = whole_chunks(&[4, 4, 2]);
        assert_eq!(plan_range(&c, 10, 0, 1).unwrap(), [piece(0, 0, 1)]);
        assert_eq!(
            plan_range(&c, 10, 3, 5).unwrap(),
            [piece(0, 3, 4), piece(1, 0, 1)]
        );
        assert_eq!(plan_range(&c, 10, 4, 8).unwrap(), [piece(1, 0, 4)]);
        assert_eq!(plan_range(&c, 10, 9, 10).unwrap(), [piece(2, 1, 2)]);
        assert_eq!(
            plan_range(&c, 10, 1, 9).unwrap(),
            [piece(0, 1, 4), piece(1, 0, 4), piece(2, 0, 1)]
        );
    }

    #[test]
    fn empty_ranges_need_nothing() {
        let c = whole_chunks(&[4, 4, 2]);
        assert!(plan_range(&c, 10, 5, 5).unwrap().is_empty());
        assert!(plan_range(&c, 10, 7, 3).unwrap().is_empty());
        assert!(plan_range(&c, 10, 10, 20).unwrap().is_empty());
        assert!(plan_range(&[], 0, 0, 100).unwrap().is_empty());
    }

    #[test]
    fn gaps_and_short_lists_are_errors() {
        let mut c = whole_chunks(&[4, 4]);
        c[1].offset = 5;
        assert!(plan_range(&c, 9, 0, 9).is_err());
        assert!(plan_range(&whole_chunks(&[4]), 8, 0, 8).is_err());
        assert!(plan_range(&[], 3, 0, 3).is_err());
    }

    #[test]
    fn slices_read_their_part_of_the_stored_chunk() {
        // A file of three slices: bytes 4..8 of a 10-byte chunk, a whole 4-byte chunk, and
        // the first 2 bytes of a 6-byte chunk.
        let mut c = whole_chunks(&[4, 4, 2]);
        c[0].chunk_offset = 4;
        c[0].chunk_len = 10;
        c[2].chunk_len = 6;
        // Planning is about the file's bytes: slices are entries like any other.
        assert_eq!(
            plan_range(&c, 10, 2, 9).unwrap(),
            [piece(0, 2, 4), piece(1, 0, 4), piece(2, 0, 1)]
        );
        let at = |chunk: usize, from, to| stored_range(&c[chunk], piece(chunk, from, to)).unwrap();
        let range = |start, end, whole| StoredRange { start, end, whole };
        assert_eq!(at(0, 2, 4), range(6, 8, false));
        assert_eq!(at(0, 0, 4), range(4, 8, false));
        assert_eq!(at(1, 0, 4), range(0, 4, true));
        assert_eq!(at(1, 1, 4), range(1, 4, false));
        // Whole slice, but not the whole stored chunk: no CRC check possible.
        assert_eq!(at(2, 0, 2), range(0, 2, false));
        // Metadata that does not fit is refused, not read.
        assert!(stored_range(&c[0], piece(0, 0, 7)).is_err());
        c[0].chunk_offset = u64::MAX;
        assert!(stored_range(&c[0], piece(0, 0, 1)).is_err());
    }
}

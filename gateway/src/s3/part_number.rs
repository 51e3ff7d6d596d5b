//! GetObject and HeadObject with `partNumber=N`: the byte range of one part of an object made
//! by a multipart upload (from the part sizes metad keeps with it). An object written in one
//! piece has one part, the whole object.

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::Query;
use crate::xml::MAX_PART_NUMBER;
use dfs_common::wire::Entry;

/// The bytes of one part of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end_exclusive: u64,
    /// How many parts the object has, when it was made by a multipart upload (sent as
    /// `x-amz-mp-parts-count`; S3 sends nothing for other objects).
    pub parts_count: Option<u32>,
}

/// The `partNumber` of a GET or HEAD, if any: 1 to 10000, else `InvalidArgument`.
pub(crate) fn requested_part(query: &Query) -> S3Result<Option<u32>> {
    let Some(text) = query.get("partNumber") else {
        return Ok(None);
    };
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(Some(n)),
        _ => Err(S3Error::invalid_argument(format!(
            "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive (got \
             {text:?})."
        ))),
    }
}

/// The range of part `number` of `entry`; a part the object does not have is 416
/// `InvalidPartNumber`, as S3 answers.
pub(crate) fn part_range(entry: &Entry, number: u32) -> S3Result<PartRange> {
    let not_satisfiable = |count: usize| {
        S3Error::from_code(S3ErrorCode::InvalidPartNumber).with_source(format!(
            "part {number} asked of an object of {count} part(s)"
        ))
    };
    if entry.part_sizes.is_empty() {
        if number != 1 {
            return Err(not_satisfiable(1));
        }
        return Ok(PartRange {
            start: 0,
            end_exclusive: entry.size,
            parts_count: None,
        });
    }
    let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
    let Some(&size) = entry.part_sizes.get(index) else {
        return Err(not_satisfiable(entry.part_sizes.len()));
    };
    let start = entry.part_sizes[..index]
        .iter()
        .fold(0u64, |acc, s| acc.saturating_add(*s));
    Ok(PartRange {
        start,
        end_exclusive: start.saturating_add(size).min(entry.size),
        parts_count: Some(u32::try_from(entry.part_sizes.len()).unwrap_or(u32::MAX)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::wire::EntryKind;
    use dfs_common::InodeId;

    fn entry(size: u64, part_sizes: &[u64]) -> Entry {
        Entry {
            checksum: None,
            name: "k".into(),
            kind: EntryKind::File,
            inode: InodeId(7),
            size,
            mtime_ms: 0,
            etag: "\"e\"".into(),
            content_type: None,
            meta: Vec::new(),
            explicit: false,
            chunk_count: 1,
            part_sizes: part_sizes.to_vec(),
        }
    }

    #[test]
    fn parts_of_a_multipart_object() {
        let e = entry(12, &[5, 5, 2]);
        let range = |n| part_range(&e, n).map(|r| (r.start, r.end_exclusive, r.parts_count));
        assert_eq!(range(1).unwrap(), (0, 5, Some(3)));
        assert_eq!(range(2).unwrap(), (5, 10, Some(3)));
        assert_eq!(range(3).unwrap(), (10, 12, Some(3)));
        let err = range(4).unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::InvalidPartNumber);
        assert_eq!(err.http_status().as_u16(), 416);
        assert!(part_range(&e, 10_000).is_err());
    }

    #[test]
    fn a_single_part_object_has_one_part() {
        let e = entry(9, &[]);
        assert_eq!(
            part_range(&e, 1).unwrap(),
            PartRange {
                start: 0,
                end_exclusive: 9,
                parts_count: None
            }
        );
        assert_eq!(
            part_range(&e, 2).unwrap_err().code(),
            S3ErrorCode::InvalidPartNumber
        );
    }

    #[test]
    fn part_numbers_are_checked() {
        let q = |raw: &str| requested_part(&Query::parse(raw).unwrap());
        assert_eq!(q("").unwrap(), None);
        assert_eq!(q("partNumber=1").unwrap(), Some(1));
        assert_eq!(q("partNumber=10000").unwrap(), Some(10_000));
        for bad in [
            "partNumber=0",
            "partNumber=10001",
            "partNumber=x",
            "partNumber=",
        ] {
            assert_eq!(
                q(bad).unwrap_err().code(),
                S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }
}

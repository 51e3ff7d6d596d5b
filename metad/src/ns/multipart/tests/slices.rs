//! The caps on slices: a part copy holds at most `MAX_PART_COPY_SLICES`, a completed object at
//! most `MAX_OBJECT_SLICES`; over them the request is refused with `InvalidRequest` and nothing
//! changes.

use super::{complete, copy, create, etag, put_part, refcount, MIB};
use crate::ns::tests::{chunk_ids, put, s3_fixture, stat};
use crate::ns::SliceCaps;
use dfs_common::wire::*;
use dfs_common::{ErrorCode, ErrorDetail};

fn parts(f: &crate::ns::tests::Fixture, id: &str) -> Vec<u32> {
    f.ns.list_parts(&ListPartsReq {
        upload_id: id.into(),
        path: None,
        part_number_marker: 0,
        max_parts: 100,
    })
    .unwrap()
    .parts
    .iter()
    .map(|p| p.part_number)
    .collect()
}

#[test]
fn the_daemon_uses_the_documented_caps() {
    // (The figures of their documentation are checked where they are defined, at build time.)
    assert_eq!(
        SliceCaps::default(),
        SliceCaps {
            part_copy: MAX_PART_COPY_SLICES,
            object: MAX_OBJECT_SLICES,
            session: MAX_SESSION_CHUNKS,
            step: crate::ns::detached::BATCH_ROWS,
        }
    );
}

#[test]
fn a_part_copy_over_the_cap_is_refused_and_changes_nothing() {
    let mut f = s3_fixture();
    // 10,001 chunks of 10 bytes: one slice more than a part copy may hold (and one chunk more
    // than a write session may hold: such a source is a multipart object in real life).
    f.ns.settings.slice_caps.session = MAX_PART_COPY_SLICES + 1;
    put(&f.ns, "/bkt/src", MAX_PART_COPY_SLICES + 1).unwrap();
    let chunks = chunk_ids(&f.ns, "/bkt/src");
    let id = create(&f, "/bkt/dst");
    let err = copy(&f, &id, 1, "/bkt/src", None, Some(etag(1))).unwrap_err();
    assert_eq!(
        (err.code, err.detail),
        (ErrorCode::InvalidArgument, ErrorDetail::InvalidRequest)
    );
    assert!(err.message.contains("at most 10000"), "{err}");
    assert!(parts(&f, &id).is_empty());
    assert_eq!(refcount(&f, chunks[0]), 1);
    // The first 10,000 chunks fit.
    let last = 10 * MAX_PART_COPY_SLICES as u64 - 1;
    let part = copy(&f, &id, 1, "/bkt/src", Some((0, last)), Some(etag(1))).unwrap();
    assert_eq!(part.part.size, last + 1);
    assert_eq!(refcount(&f, chunks[0]), 2);
    assert_eq!(refcount(&f, chunks[MAX_PART_COPY_SLICES]), 1);
}

#[test]
fn slices_are_counted_where_the_range_cuts_the_source() {
    let mut f = s3_fixture();
    f.ns.settings.slice_caps.part_copy = 3;
    put(&f.ns, "/bkt/src", 5).unwrap(); // chunks of 10 bytes
    let id = create(&f, "/bkt/dst");
    let refused = |range| {
        copy(&f, &id, 1, "/bkt/src", Some(range), Some(etag(1)))
            .unwrap_err()
            .detail
    };
    // Three whole chunks fit; a range as long but across four chunks does not.
    copy(&f, &id, 1, "/bkt/src", Some((10, 39)), Some(etag(1))).unwrap();
    assert_eq!(refused((5, 34)), ErrorDetail::InvalidRequest);
    assert_eq!(refused((0, 49)), ErrorDetail::InvalidRequest);
    copy(&f, &id, 2, "/bkt/src", Some((5, 24)), Some(etag(2))).unwrap();
    assert_eq!(parts(&f, &id), [1, 2]);
}

#[test]
fn a_completion_over_the_object_cap_is_refused_and_the_upload_stays_open() {
    let mut f = s3_fixture();
    // The source: an object of 5 slices (parts of 3 and 2 chunks).
    let src = create(&f, "/bkt/src");
    put_part(&f, &src, 1, &[2 * MIB, 2 * MIB, 2 * MIB], 1).unwrap();
    put_part(&f, &src, 2, &[MIB, MIB], 2).unwrap();
    complete(&f, &src, &[(1, etag(1)), (2, etag(2))]).unwrap();
    f.ns.settings.slice_caps.object = 4;
    // A new object from its two parts: 3 + 2 slices, one more than the cap.
    let id = create(&f, "/bkt/dst");
    copy(
        &f,
        &id,
        1,
        "/bkt/src",
        Some((0, 6 * MIB - 1)),
        Some(etag(3)),
    )
    .unwrap();
    copy(
        &f,
        &id,
        2,
        "/bkt/src",
        Some((6 * MIB, 8 * MIB - 1)),
        Some(etag(4)),
    )
    .unwrap();
    let whole = chunk_ids(&f.ns, "/bkt/src");
    let both = [(1, etag(3)), (2, etag(4))];
    let err = complete(&f, &id, &both).unwrap_err();
    assert_eq!(err.detail, ErrorDetail::InvalidRequest);
    assert!(
        err.message.contains("5 slices") && err.message.contains("at most 4"),
        "{err}"
    );
    assert_eq!(parts(&f, &id), [1, 2]);
    assert_eq!(
        stat(&f.ns, "/bkt/dst").unwrap_err().code,
        ErrorCode::NotFound
    );
    assert!(whole.iter().all(|c| refcount(&f, *c) == 2));
    // Part 1 alone fits (the part left out is collected).
    let done = complete(&f, &id, &[(1, etag(3))]).unwrap();
    assert_eq!(done.entry.chunk_count, 3);
    assert_eq!(refcount(&f, whole[4]), 1);
}

//! The chunk map read by byte range: pages start at the slice holding their first byte, found
//! by binary search over rows that record their offset, and by summing lengths over rows
//! written before they did.

use super::{fixture, put, stat};
use crate::ns::chunk_map::{page, Page};
use crate::store::values::{Dentry, FileChunk, StoredChunkRow};
use crate::store::{keys, Cf, Reader, Store};
use dfs_common::wire::{StatReq, MAX_CHUNK_PAGE, MAX_WHOLE_CHUNK_MAP};
use dfs_common::{ErrorCode, InodeId};

/// The offsets of a page's rows.
fn starts(page: &Page) -> Vec<u64> {
    page.rows.iter().map(|(offset, _)| *offset).collect()
}

/// Asks for rows from `from` to `until`, at most `max` (the file has 25 rows of 10 bytes).
fn rows(store: &Store, inode: InodeId, from: u64, until: u64, max: usize) -> Page {
    page(&store.view(), inode, 25, from, until, max).unwrap()
}

/// The same questions, whatever the rows' version.
fn check_pages(store: &Store, inode: InodeId) {
    let p = rows(store, inode, 57, u64::MAX, 5);
    assert_eq!(starts(&p), [50, 60, 70, 80, 90]);
    assert_eq!(p.next, Some(100));
    // A slice boundary belongs to the slice that starts there.
    let p = rows(store, inode, 60, u64::MAX, 2);
    assert_eq!((starts(&p), p.next), (vec![60, 70], Some(80)));
    // `until` ends the page before the first slice starting at or after it.
    let p = rows(store, inode, 0, 25, 100);
    assert_eq!((starts(&p), p.next), (vec![0, 10, 20], Some(30)));
    let p = rows(store, inode, 0, 30, 100);
    assert_eq!((starts(&p), p.next), (vec![0, 10, 20], Some(30)));
    // The last slice, and past the end.
    let p = rows(store, inode, 245, u64::MAX, 100);
    assert_eq!((starts(&p), p.next), (vec![240], None));
    assert_eq!(rows(store, inode, 250, u64::MAX, 100), Page::default());
    assert_eq!(rows(store, inode, u64::MAX, u64::MAX, 100), Page::default());
    // The whole map.
    let p = rows(store, inode, 0, u64::MAX, usize::MAX);
    assert_eq!(starts(&p), (0..25).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(p.next, None);
    assert!(p.rows.iter().all(|(_, slice)| slice.len == 10));
}

#[test]
fn a_page_starts_at_the_slice_holding_its_first_byte() {
    let f = fixture();
    let inode = put(&f.ns, "/b/f", 25).unwrap().inode;
    let view = f.store.view();
    let first = view
        .get::<StoredChunkRow>(Cf::Chunks, &keys::file_chunk(inode, 3))
        .unwrap()
        .unwrap();
    assert_eq!(first.offset, Some(30), "rows record their offset");
    drop(view);
    check_pages(&f.store, inode);
}

#[test]
fn rows_written_before_offsets_are_found_by_their_lengths() {
    let f = fixture();
    let inode = put(&f.ns, "/b/f", 25).unwrap().inode;
    // Rewrite every row as a metad before schema version 8 wrote it: a bare slice.
    let mut txn = f.store.begin();
    for index in 0..25 {
        let key = keys::file_chunk(inode, index);
        let row = txn
            .get::<StoredChunkRow>(Cf::Chunks, &key)
            .unwrap()
            .unwrap();
        let old: FileChunk = row.slice;
        txn.put(Cf::Chunks, &key, &old).unwrap();
    }
    txn.commit(true).unwrap();
    let view = f.store.view();
    let row = view
        .get::<StoredChunkRow>(Cf::Chunks, &keys::file_chunk(inode, 3))
        .unwrap()
        .unwrap();
    assert_eq!(row.offset, None);
    drop(view);
    check_pages(&f.store, inode);
}

#[test]
fn stat_serves_a_large_map_in_pages_that_join_without_gaps() {
    let f = fixture();
    let count = MAX_CHUNK_PAGE + 150;
    put(&f.ns, "/b/big", count).unwrap();
    let mut from = 0;
    let mut offsets = Vec::new();
    let mut pages = 0;
    loop {
        let resp =
            f.ns.stat(&StatReq::chunk_page(
                "/b/big".parse().unwrap(),
                from,
                u64::MAX,
            ))
            .unwrap();
        assert!(resp.chunks.len() <= MAX_CHUNK_PAGE);
        offsets.extend(resp.chunks.iter().map(|c| c.offset));
        assert!(resp.chunks.iter().all(|c| !c.replicas.is_empty()));
        pages += 1;
        match resp.chunks_next {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(
        offsets,
        (0..count as u64).map(|i| i * 10).collect::<Vec<_>>()
    );
    // A range in the middle costs only its slices.
    let resp =
        f.ns.stat(&StatReq::chunk_page(
            "/b/big".parse().unwrap(),
            10_005,
            10_025,
        ))
        .unwrap();
    let got: Vec<u64> = resp.chunks.iter().map(|c| c.offset).collect();
    assert_eq!(
        (got, resp.chunks_next),
        (vec![10_000, 10_010, 10_020], Some(10_030))
    );
}

#[test]
fn a_whole_map_is_refused_above_its_cap_and_served_below_it() {
    let f = fixture();
    put(&f.ns, "/b/f", 3).unwrap();
    let whole = |path: &str| {
        let mut req = StatReq::entry(path.parse().unwrap());
        req.with_chunks = true;
        f.ns.stat(&req)
    };
    let resp = whole("/b/f").unwrap();
    assert_eq!(resp.chunks.len(), 3);
    assert_eq!(resp.chunks_next, None);
    // Claim more slices than one answer may carry, as a huge object has: a client asking
    // for the whole map gets a clear refusal, not an answer of gigabytes.
    let bucket = stat(&f.ns, "/b").unwrap().entry.inode;
    let mut txn = f.store.begin();
    let key = keys::dentry(bucket, "f");
    let Some(Dentry::File(mut file)) = txn.get::<Dentry>(Cf::Dentry, &key).unwrap() else {
        panic!("no file");
    };
    file.chunk_count = MAX_WHOLE_CHUNK_MAP + 1;
    txn.put(Cf::Dentry, &key, &Dentry::File(file)).unwrap();
    txn.commit(true).unwrap();
    let err = whole("/b/f").unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.message.contains("in pages"), "{}", err.message);
}

//! Recursive deletes: the tree leaves the namespace at once, its rows go in bounded batches,
//! the deletion resumes after a restart, and chunks end exactly as a one-shot delete left them.

use super::pending;
use crate::ns::tests::{
    chunk_ids, code, drain_all, fixture, loc, mkdir, names, put, queued, stat, Fixture,
};
use crate::ns::Namespace;
use crate::store::queue::Queue;
use crate::store::values::{Counter, Dentry, Dir};
use crate::store::{keys, Cf, Reader, Store};
use dfs_common::wire::*;
use dfs_common::{ChunkId, ErrorCode, InodeId};

fn rm_r(ns: &Namespace, path: &str) {
    ns.delete(&DeleteReq {
        path: path.parse().unwrap(),
        recursive: true,
        object: false,
    })
    .unwrap();
}

fn inode(ns: &Namespace, path: &str) -> InodeId {
    stat(ns, path).unwrap().entry.inode
}

/// The tree `/b/d`: files at three depths (one of 5 chunks), a directory object with data, an
/// empty directory. Returns every chunk of it, sorted, and every inode in it.
fn tree(ns: &Namespace) -> (Vec<ChunkId>, Vec<InodeId>) {
    put(ns, "/b/d/big", 5).unwrap();
    put(ns, "/b/d/s/f", 1).unwrap();
    put(ns, "/b/d/s/t/u/g", 2).unwrap();
    put(ns, "/b/d/s/", 1).unwrap(); // the payload of the directory object `s/`
    mkdir(ns, "/b/d/empty", false).unwrap();
    let files = ["/b/d/big", "/b/d/s/f", "/b/d/s/t/u/g", "/b/d/s/"];
    let mut chunks: Vec<ChunkId> = files.iter().flat_map(|p| chunk_ids(ns, p)).collect();
    chunks.sort();
    let all = [
        "/b/d/",
        "/b/d/big",
        "/b/d/s/",
        "/b/d/s/f",
        "/b/d/s/t/",
        "/b/d/s/t/u/",
        "/b/d/s/t/u/g",
        "/b/d/empty/",
    ];
    (chunks, all.iter().map(|p| inode(ns, p)).collect())
}

/// Rows still keyed by any of `inodes` (entries below them, their chunk rows).
fn rows_left(store: &Store, inodes: &[InodeId]) -> usize {
    let view = store.view();
    let mut count = 0;
    for inode in inodes {
        for (cf, prefix) in [
            (Cf::Dentry, keys::dentry_prefix(*inode)),
            (Cf::Chunks, keys::file_chunk_prefix(*inode)),
        ] {
            view.scan_raw(cf, &prefix, None, &mut |_, _| {
                count += 1;
                Ok(true)
            })
            .unwrap();
        }
    }
    count
}

fn refcount(f: &Fixture, chunk: ChunkId) -> u64 {
    loc(&f.store, chunk).unwrap().refcount
}

#[test]
fn the_tree_leaves_the_namespace_at_once() {
    let f = fixture();
    let (chunks, inodes) = tree(&f.ns);
    put(&f.ns, "/b/other", 1).unwrap();
    rm_r(&f.ns, "/b/d");
    // Gone for every path at once, though nothing is released yet.
    assert_eq!(code(stat(&f.ns, "/b/d/")), ErrorCode::NotFound);
    assert_eq!(code(stat(&f.ns, "/b/d/s/t/u/g")), ErrorCode::NotFound);
    assert_eq!(names(&f.ns, "/b"), ["other"]);
    assert_eq!(pending(&f.store.view()).unwrap(), 1);
    assert_eq!(f.nodes.status(&f.store, 2).unwrap().detached_trees, 1);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    assert!(chunks.iter().all(|c| refcount(&f, *c) == 1));
    // Nothing can enter it: its paths lead nowhere, or to a new directory.
    let mv = f.ns.rename(&RenameReq {
        src: "/b/d/s".parse().unwrap(),
        dst: "/b/s".parse().unwrap(),
    });
    assert_eq!(code(mv), ErrorCode::NotFound);
    assert_eq!(code(mkdir(&f.ns, "/b/d/s/x", false)), ErrorCode::NotFound);
    put(&f.ns, "/b/d/s/new", 1).unwrap();
    assert!(!inodes.contains(&inode(&f.ns, "/b/d/")));
    assert!(!inodes.contains(&inode(&f.ns, "/b/d/s/")));
    let new = chunk_ids(&f.ns, "/b/d/s/new");
    // The background deleter removes every row of the old tree and nothing else.
    let steps = drain_all(&f.ns, super::BATCH_ROWS);
    assert_eq!(steps.len(), 1);
    assert!(steps[0].finished);
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert_eq!(rows_left(&f.store, &inodes), 0);
    assert_eq!(pending(&f.store.view()).unwrap(), 0);
    assert_eq!(chunk_ids(&f.ns, "/b/d/s/new"), new);
    assert_eq!(refcount(&f, new[0]), 1);
    assert_eq!(names(&f.ns, "/b"), ["d/", "other"]);
}

#[test]
fn batches_are_bounded_and_release_exactly_the_tree_s_chunks() {
    let f = fixture();
    let (chunks, inodes) = tree(&f.ns);
    rm_r(&f.ns, "/b/d");
    let steps = drain_all(&f.ns, 4);
    // 9 chunks and 8 entries cannot go in one batch of 4 rows.
    assert!(steps.len() > 5, "{steps:?}");
    assert!(steps.iter().all(|s| s.rows <= 4), "{steps:?}");
    let finished: Vec<bool> = steps.iter().map(|s| s.finished).collect();
    assert_eq!(finished.iter().filter(|f| **f).count(), 1, "{steps:?}");
    assert_eq!(finished.last(), Some(&true));
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert!(chunks.iter().all(|c| refcount(&f, *c) == 0));
    assert_eq!(rows_left(&f.store, &inodes), 0);
    assert!(names(&f.ns, "/b").is_empty());
    assert_eq!(f.ns.drain_detached(4).unwrap(), None);
}

#[test]
fn a_restart_resumes_the_deletion() {
    let f = fixture();
    let (chunks, inodes) = tree(&f.ns);
    rm_r(&f.ns, "/b/d");
    for _ in 0..3 {
        let step = f.ns.drain_detached(4).unwrap().unwrap();
        assert!(!step.finished);
    }
    let released = queued(&f.store, Queue::Gc);
    assert!(!released.is_empty() && released.len() < chunks.len());
    let f = f.reopen();
    assert_eq!(pending(&f.store.view()).unwrap(), 1);
    assert_eq!(code(stat(&f.ns, "/b/d/")), ErrorCode::NotFound);
    drain_all(&f.ns, 4);
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert_eq!(rows_left(&f.store, &inodes), 0);
    assert_eq!(pending(&f.store.view()).unwrap(), 0);
}

#[test]
fn chunks_shared_outside_the_tree_are_kept() {
    let f = fixture();
    put(&f.ns, "/b/d/f", 2).unwrap();
    put(&f.ns, "/b/d/e/g", 1).unwrap();
    let shared = chunk_ids(&f.ns, "/b/d/f");
    let own = chunk_ids(&f.ns, "/b/d/e/g");
    let copy = |src: &str, dst: &str| crate::ns::tests::copy(&f.ns, src, dst).unwrap();
    copy("/b/d/f", "/b/keep");
    copy("/b/d/f", "/b/d/e/again"); // shared inside the tree too
    assert!(shared.iter().all(|c| refcount(&f, *c) == 3));
    rm_r(&f.ns, "/b/d");
    drain_all(&f.ns, 4);
    assert_eq!(queued(&f.store, Queue::Gc), own);
    assert!(shared.iter().all(|c| refcount(&f, *c) == 1));
    assert_eq!(chunk_ids(&f.ns, "/b/keep"), shared);
    f.ns.delete(&DeleteReq {
        path: "/b/keep".parse().unwrap(),
        recursive: false,
        object: false,
    })
    .unwrap();
    let mut all = [own, shared].concat();
    all.sort();
    assert_eq!(queued(&f.store, Queue::Gc), all);
}

#[test]
fn a_bucket_removed_recursively_frees_its_name_at_once() {
    let f = fixture();
    put(&f.ns, "/b/x/f", 1).unwrap();
    let old = chunk_ids(&f.ns, "/b/x/f");
    rm_r(&f.ns, "/b");
    assert!(names(&f.ns, "/").is_empty());
    mkdir(&f.ns, "/b", false).unwrap();
    put(&f.ns, "/b/x/f", 1).unwrap();
    let new = chunk_ids(&f.ns, "/b/x/f");
    drain_all(&f.ns, 4);
    assert_eq!(queued(&f.store, Queue::Gc), old);
    assert_eq!(chunk_ids(&f.ns, "/b/x/f"), new);
}

#[test]
fn corrupt_rows_in_a_detached_tree_do_not_stall_the_deleter() {
    let f = fixture();
    put(&f.ns, "/b/d/e/f", 1).unwrap();
    let (d, e) = (inode(&f.ns, "/b/d/"), inode(&f.ns, "/b/d/e/"));
    let chunks = chunk_ids(&f.ns, "/b/d/e/f");
    let mut txn = f.store.begin();
    // An entry that decodes as nothing, a chunk row likewise, and a loop back to the top.
    let garbage = Counter { next: 7 };
    txn.put(Cf::Dentry, &keys::dentry(e, "bad"), &garbage)
        .unwrap();
    txn.put(Cf::Chunks, &keys::file_chunk(e, 0), &garbage)
        .unwrap();
    let back = Dentry::Dir(Dir {
        inode: d,
        mtime_ms: 0,
        explicit: true,
        object: None,
        bucket: None,
    });
    txn.put(Cf::Dentry, &keys::dentry(e, "loop/"), &back)
        .unwrap();
    txn.commit(true).unwrap();
    rm_r(&f.ns, "/b/d");
    drain_all(&f.ns, 4);
    assert_eq!(rows_left(&f.store, &[d, e]), 0);
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert_eq!(pending(&f.store.view()).unwrap(), 0);
}

/// A file too big to release in the transaction that deletes or replaces it is released by
/// the background deleter instead, with the same end: every chunk reaches GC.
#[test]
fn a_big_file_s_data_is_released_in_the_background() {
    let f = fixture();
    let big = crate::ns::INLINE_RELEASE_ROWS + 1;
    put(&f.ns, "/b/big", big).unwrap();
    let mut chunks = chunk_ids(&f.ns, "/b/big");
    chunks.sort();
    f.ns.delete(&DeleteReq {
        path: "/b/big".parse().unwrap(),
        recursive: false,
        object: false,
    })
    .unwrap();
    assert_eq!(code(stat(&f.ns, "/b/big")), ErrorCode::NotFound);
    assert!(
        queued(&f.store, Queue::Gc).is_empty(),
        "nothing released inline"
    );
    assert_eq!(pending(&f.store.view()).unwrap(), 1);
    drain_all(&f.ns, 1000);
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert_eq!(pending(&f.store.view()).unwrap(), 0);

    // Overwritten by a small file: the same for the old data, and the new file is untouched.
    put(&f.ns, "/b/big", big).unwrap();
    let mut old = chunk_ids(&f.ns, "/b/big");
    put(&f.ns, "/b/big", 1).unwrap();
    let new = chunk_ids(&f.ns, "/b/big");
    drain_all(&f.ns, 1000);
    old.extend(chunks);
    old.sort();
    assert_eq!(queued(&f.store, Queue::Gc), old);
    assert_eq!(chunk_ids(&f.ns, "/b/big"), new);
    assert!(loc(&f.store, new[0]).is_some_and(|l| l.refcount == 1));
}

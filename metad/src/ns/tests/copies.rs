//! Copies: a copy shares its source's chunks; a copy of a file of many slices holds its
//! source's chunk map itself instead of copying its rows, and the rows and their chunk
//! references go only with the last file holding them, whether files go by delete, overwrite,
//! or a recursive delete in the background.

use super::{chunk_ids, code, drain_all, fixture, loc, names, put, queued, stat, Fixture};
use crate::store::queue::Queue;
use crate::store::values::MapShare;
use crate::store::{keys, Cf, Reader};
use dfs_common::wire::DeleteReq;
use dfs_common::{ErrorCode, InodeId};

fn copy(f: &Fixture, src: &str, dst: &str) {
    super::copy(&f.ns, src, dst).unwrap();
}

fn delete(f: &Fixture, path: &str, recursive: bool) {
    f.ns.delete(&DeleteReq {
        path: path.parse().unwrap(),
        recursive,
        object: false,
    })
    .unwrap();
}

fn holders(f: &Fixture, inode: InodeId) -> Option<u64> {
    f.store
        .view()
        .get::<MapShare>(Cf::MapShare, &keys::map_share(inode))
        .unwrap()
        .map(|s| s.holders)
}

#[test]
fn a_large_copy_shares_the_chunk_map_until_its_last_holder_goes() {
    let mut f = fixture();
    f.ns.settings.slice_caps.step = 4;
    let src = put(&f.ns, "/b/src", 6).unwrap().inode;
    let chunks = chunk_ids(&f.ns, "/b/src");
    copy(&f, "/b/src", "/b/a");
    copy(&f, "/b/src", "/b/d/c");
    // Same map, no new rows, no new references.
    for path in ["/b/a", "/b/d/c"] {
        assert_eq!(stat(&f.ns, path).unwrap().entry.inode, src);
        assert_eq!(chunk_ids(&f.ns, path), chunks);
    }
    assert_eq!(holders(&f, src), Some(3));
    assert!(chunks
        .iter()
        .all(|c| loc(&f.store, *c).unwrap().refcount == 1));
    // The source goes, then the directory holding one copy (in the background).
    delete(&f, "/b/src", false);
    delete(&f, "/b/d", true);
    drain_all(&f.ns, 100);
    assert_eq!(holders(&f, src), None);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    assert_eq!(chunk_ids(&f.ns, "/b/a"), chunks);
    // A copy onto a file holding the same map keeps the count right.
    copy(&f, "/b/a", "/b/e");
    copy(&f, "/b/e", "/b/a");
    assert_eq!(holders(&f, src), Some(2));
    // The last two holders are overwritten: the map and its chunks go.
    put(&f.ns, "/b/a", 1).unwrap();
    assert!(queued(&f.store, Queue::Gc).is_empty());
    put(&f.ns, "/b/e", 1).unwrap();
    drain_all(&f.ns, 100);
    assert_eq!(holders(&f, src), None);
    let mut collected = queued(&f.store, Queue::Gc);
    collected.sort_unstable();
    let mut expected = chunks.clone();
    expected.sort_unstable();
    assert_eq!(collected, expected);
}

#[test]
fn a_small_copy_has_rows_of_its_own() {
    let f = fixture();
    let src = put(&f.ns, "/b/src", 3).unwrap().inode;
    copy(&f, "/b/src", "/b/a");
    let copy_inode = stat(&f.ns, "/b/a").unwrap().entry.inode;
    assert_ne!(copy_inode, src);
    assert_eq!(holders(&f, src), None);
    let chunks = chunk_ids(&f.ns, "/b/a");
    assert!(chunks
        .iter()
        .all(|c| loc(&f.store, *c).unwrap().refcount == 2));
}

#[test]
fn copy_shares_chunks() {
    let f = fixture();
    put(&f.ns, "/b/f", 2).unwrap();
    let chunks = chunk_ids(&f.ns, "/b/f");
    let copy = |src: &str, dst: &str| super::copy(&f.ns, src, dst);
    let entry = copy("/b/f", "/b/g/h").unwrap();
    assert_eq!((entry.name.as_str(), entry.size), ("h", 20));
    assert_eq!(chunk_ids(&f.ns, "/b/g/h"), chunks);
    assert!(chunks
        .iter()
        .all(|c| loc(&f.store, *c).unwrap().refcount == 2));
    // Copying onto itself keeps the chunks alive.
    copy("/b/f", "/b/f").unwrap();
    assert!(queued(&f.store, Queue::Gc).is_empty());
    assert_eq!(code(copy("/b/g", "/b/z")), ErrorCode::IsADirectory);
    assert_eq!(code(copy("/b/nope", "/b/z")), ErrorCode::NotFound);
    let del = |p: &str| {
        f.ns.delete(&DeleteReq {
            path: p.parse().unwrap(),
            recursive: false,
            object: false,
        })
    };
    del("/b/f").unwrap();
    assert!(chunks
        .iter()
        .all(|c| loc(&f.store, *c).unwrap().refcount == 1));
    assert!(queued(&f.store, Queue::Gc).is_empty());
    del("/b/g/h").unwrap();
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert!(names(&f.ns, "/b").is_empty());
}

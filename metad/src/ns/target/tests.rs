//! Tests of data stored on keys ending in `/`: the payload of a directory object, written,
//! replaced, read, listed, copied, renamed and deleted like a file's data.

use crate::ns::multipart::tests::{complete, create, etag, put_part, MIB};
use crate::ns::tests::{
    chunk_ids, code, drain_all, loc, mkdir, names, queued, s3_fixture, stat, Fixture,
};
use crate::store::queue::Queue;
use dfs_common::wire::*;
use dfs_common::{ChunkId, ErrorCode, RpcError};

/// Writes `chunks` chunks of 10 bytes at `path` with ETag `etag`, under the given
/// preconditions; a refused commit's session is aborted.
fn write(
    f: &Fixture,
    path: &str,
    chunks: usize,
    etag: &str,
    if_match: Option<&str>,
    if_none_match: bool,
) -> Result<Entry, RpcError> {
    let open = f.ns.begin_write(&BeginWriteReq {
        path: path.parse().unwrap(),
    })?;
    let mut written = Vec::new();
    for _ in 0..chunks {
        let alloc = f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })?;
        written.push(WrittenChunk {
            id: alloc.chunk_id,
            len: 10,
            crc32c: 3,
            replicas: alloc.replicas.iter().map(|r| r.node).collect(),
        });
    }
    let result = f.ns.commit(&CommitReq {
        checksum: None,
        session: open.session,
        size: 10 * chunks as u64,
        etag: etag.into(),
        content_type: Some("text/plain".into()),
        meta: vec![("x-amz-meta-k".into(), etag.into())],
        chunks: written,
        if_none_match,
        if_match: if_match.map(str::to_owned),
    });
    if result.is_err() {
        f.ns.abort(&AbortReq {
            session: open.session,
        })
        .unwrap();
    }
    result
}

fn put(f: &Fixture, path: &str, chunks: usize, etag: &str) -> Entry {
    write(f, path, chunks, etag, None, false).unwrap()
}

fn del(f: &Fixture, path: &str, recursive: bool, object: bool) -> Result<(), RpcError> {
    f.ns.delete(&DeleteReq {
        path: path.parse().unwrap(),
        recursive,
        object,
    })
}

fn copy(f: &Fixture, src: &str, dst: &str, content_type: Option<&str>) -> Result<Entry, RpcError> {
    f.ns.copy(&CopyReq {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        replace_meta: content_type.map(|ct| ReplaceMeta {
            checksum: None,
            content_type: Some(ct.into()),
            meta: vec![],
        }),
        if_match: None,
        if_none_match: false,
        src_if_match: None,
    })
}

fn mkdir_object(f: &Fixture, path: &str, etag: &str) -> Result<Entry, RpcError> {
    f.ns.mkdir(&MkdirReq {
        path: path.parse().unwrap(),
        parents: false,
        object: Some(DirObject {
            checksum: None,
            etag: etag.into(),
            content_type: None,
            meta: vec![],
        }),
    })
}

fn refcount(f: &Fixture, chunk: ChunkId) -> u64 {
    loc(&f.store, chunk).map_or(0, |l| l.refcount)
}

fn refcounts(f: &Fixture, chunks: &[ChunkId]) -> Vec<u64> {
    chunks.iter().map(|c| refcount(f, *c)).collect()
}

/// `(key, size)` of every object of bucket `b`.
fn listed(f: &Fixture) -> Vec<(String, u64)> {
    let resp =
        f.ns.list_objects(&ListObjectsReq {
            bucket: "bkt".parse().unwrap(),
            prefix: String::new(),
            delimiter: None,
            start_after: None,
            max_keys: 1000,
        })
        .unwrap();
    resp.objects.into_iter().map(|o| (o.key, o.size)).collect()
}

#[test]
fn data_on_a_key_ending_in_slash_is_the_directory_payload() {
    let f = s3_fixture();
    let x = put(&f, "/bkt/x/", 2, "\"x\"");
    assert_eq!((x.kind, x.name.as_str()), (EntryKind::Dir, "x/"));
    assert_eq!((x.size, x.chunk_count, x.etag.as_str()), (20, 2, "\"x\""));
    assert!(x.explicit);
    assert_eq!(x.content_type.as_deref(), Some("text/plain"));
    let payload = chunk_ids(&f.ns, "/bkt/x/");
    assert_eq!(payload.len(), 2);
    assert_eq!(refcounts(&f, &payload), [1, 1]);
    // Children go below it; the payload stays.
    put(&f, "/bkt/x/child", 1, "\"c\"");
    assert_eq!(names(&f.ns, "/bkt/x/"), ["child"]);
    let seen = stat(&f.ns, "/bkt/x/").unwrap();
    assert_eq!((seen.entry.inode, seen.entry.size), (x.inode, 20));
    let offsets: Vec<u64> = seen.chunks.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, [0, 10]);
    assert!(seen.chunks.iter().all(|c| c.replicas.len() == 2));
    let without =
        f.ns.stat(&StatReq::entry("/bkt/x/".parse().unwrap()))
            .unwrap();
    assert!(without.chunks.is_empty());
    // Missing parents are implicit; an implicit directory becomes the object.
    put(&f, "/bkt/p/q/", 1, "\"q\"");
    assert!(!stat(&f.ns, "/bkt/p/").unwrap().entry.explicit);
    put(&f, "/bkt/i/f", 1, "\"f\"");
    put(&f, "/bkt/i/", 1, "\"i\"");
    assert!(stat(&f.ns, "/bkt/i/").unwrap().entry.explicit);
    assert_eq!(names(&f.ns, "/bkt/i/"), ["f"]);
    // Listings show the payload's size.
    assert_eq!(
        listed(&f),
        [
            ("i/".to_owned(), 10),
            ("i/f".to_owned(), 10),
            ("p/q/".to_owned(), 10),
            ("x/".to_owned(), 20),
            ("x/child".to_owned(), 10),
        ]
    );
    let dfs_list =
        f.ns.list(&ListReq {
            path: "/bkt/".parse().unwrap(),
            start_after: None,
            limit: 0,
        })
        .unwrap();
    let x_entry = dfs_list.entries.iter().find(|e| e.name == "x/").unwrap();
    assert_eq!((x_entry.size, x_entry.chunk_count), (20, 2));
    // An empty payload is an object too.
    let empty = put(&f, "/bkt/e/", 0, EMPTY_ETAG);
    assert_eq!((empty.size, empty.chunk_count), (0, 0));
    assert!(stat(&f.ns, "/bkt/e/").unwrap().chunks.is_empty());
    assert!(queued(&f.store, Queue::Gc).is_empty());
}

#[test]
fn a_new_payload_releases_the_old_one_and_preconditions_see_it() {
    let f = s3_fixture();
    let first = put(&f, "/bkt/x/", 2, "\"v1\"");
    let old = chunk_ids(&f.ns, "/bkt/x/");
    put(&f, "/bkt/x/child", 1, "\"c\"");
    let second = put(&f, "/bkt/x/", 1, "\"v2\"");
    assert_eq!(second.inode, first.inode, "the directory keeps its inode");
    let new = chunk_ids(&f.ns, "/bkt/x/");
    assert_eq!(new.len(), 1);
    assert!(!old.contains(&new[0]));
    assert_eq!(queued(&f.store, Queue::Gc), old);
    assert_eq!(refcounts(&f, &old), [0, 0]);
    assert_eq!(refcounts(&f, &new), [1]);
    assert_eq!(names(&f.ns, "/bkt/x/"), ["child"]);
    // An empty PUT of `x/` by an older gateway (mkdir with a payload) releases the data too.
    let marker = mkdir_object(&f, "/bkt/x/", EMPTY_ETAG).unwrap();
    assert_eq!((marker.size, marker.chunk_count), (0, 0));
    assert!(chunk_ids(&f.ns, "/bkt/x/").is_empty());
    assert_eq!(refcounts(&f, &new), [0]);
    assert!(queued(&f.store, Queue::Gc).contains(&new[0]));

    // Preconditions apply to the payload.
    let failed = |r: Result<Entry, RpcError>| code(r) == ErrorCode::PreconditionFailed;
    put(&f, "/bkt/y/", 1, "\"y1\"");
    assert!(failed(write(&f, "/bkt/y/", 1, "\"y2\"", None, true)));
    assert!(failed(write(
        &f,
        "/bkt/y/",
        1,
        "\"y2\"",
        Some("\"no\""),
        false
    )));
    write(&f, "/bkt/y/", 1, "\"y2\"", Some("\"y1\""), false).unwrap();
    assert_eq!(stat(&f.ns, "/bkt/y/").unwrap().entry.etag, "\"y2\"");
    // A plain mkdir is the empty object; an implicit directory is no object.
    mkdir(&f.ns, "/bkt/m", false).unwrap();
    assert!(failed(write(&f, "/bkt/m/", 0, "\"m\"", None, true)));
    write(&f, "/bkt/m/", 0, "\"m\"", Some(EMPTY_ETAG), false).unwrap();
    put(&f, "/bkt/imp/f", 1, "\"f\"");
    assert!(failed(write(&f, "/bkt/imp/", 1, "\"i\"", Some("*"), false)));
    write(&f, "/bkt/imp/", 1, "\"i\"", None, true).unwrap();
    // The file `y` and the object `y/` are distinct keys.
    write(&f, "/bkt/y", 1, "\"file\"", None, true).unwrap();
    assert_eq!(stat(&f.ns, "/bkt/y/").unwrap().entry.etag, "\"y2\"");
}

#[test]
fn deleting_a_directory_object_releases_its_data() {
    let f = s3_fixture();
    put(&f, "/bkt/x/", 2, "\"x\"");
    let payload = chunk_ids(&f.ns, "/bkt/x/");
    put(&f, "/bkt/x/f", 1, "\"f\"");
    let child = chunk_ids(&f.ns, "/bkt/x/f");
    // With a child: the payload goes, the directory stays (implicit).
    del(&f, "/bkt/x/", false, true).unwrap();
    assert_eq!(queued(&f.store, Queue::Gc), payload);
    assert_eq!(refcounts(&f, &payload), [0, 0]);
    let x = stat(&f.ns, "/bkt/x/").unwrap();
    assert!(!x.entry.explicit && x.entry.etag.is_empty());
    assert_eq!((x.entry.size, x.entry.chunk_count), (0, 0));
    assert!(x.chunks.is_empty());
    assert_eq!(names(&f.ns, "/bkt/x/"), ["f"]);
    assert_eq!(refcounts(&f, &child), [1]);
    assert_eq!(code(del(&f, "/bkt/x/", false, true)), ErrorCode::NotFound);
    // The last child takes the implicit directory with it.
    del(&f, "/bkt/x/f", false, true).unwrap();
    assert!(names(&f.ns, "/bkt").is_empty());
    // Without children the directory goes too.
    put(&f, "/bkt/y/", 1, "\"y\"");
    let y = chunk_ids(&f.ns, "/bkt/y/");
    del(&f, "/bkt/y/", false, true).unwrap();
    assert!(names(&f.ns, "/bkt").is_empty());
    assert_eq!(refcounts(&f, &y), [0]);
    // A plain (DFS) delete of a childless directory object releases its data as well.
    put(&f, "/bkt/z/", 1, "\"z\"");
    let z = chunk_ids(&f.ns, "/bkt/z/");
    del(&f, "/bkt/z/", false, false).unwrap();
    assert_eq!(refcounts(&f, &z), [0]);
    assert!(queued(&f.store, Queue::Gc).contains(&z[0]));
}

#[test]
fn a_recursive_delete_releases_every_payload_below() {
    let f = s3_fixture();
    put(&f, "/bkt/t/", 1, "\"t\"");
    put(&f, "/bkt/t/u/", 1, "\"u\"");
    put(&f, "/bkt/t/u/v/w", 1, "\"w\"");
    put(&f, "/bkt/t/u/f", 1, "\"f\"");
    let mut all: Vec<ChunkId> = ["/bkt/t/", "/bkt/t/u/", "/bkt/t/u/v/w", "/bkt/t/u/f"]
        .iter()
        .flat_map(|p| chunk_ids(&f.ns, p))
        .collect();
    all.sort();
    assert_eq!(code(del(&f, "/bkt/t", false, false)), ErrorCode::NotEmpty);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    del(&f, "/bkt/t", true, false).unwrap();
    assert!(names(&f.ns, "/bkt").is_empty());
    drain_all(&f.ns, 4);
    assert_eq!(queued(&f.store, Queue::Gc), all);
    assert!(refcounts(&f, &all).iter().all(|r| *r == 0));
    assert!(names(&f.ns, "/bkt").is_empty());
}

#[test]
fn copies_to_and_from_directory_objects_share_chunks() {
    let f = s3_fixture();
    put(&f, "/bkt/f", 2, "\"f\"");
    let chunks = chunk_ids(&f.ns, "/bkt/f");
    // File to directory object.
    let d = copy(&f, "/bkt/f", "/bkt/d/", None).unwrap();
    assert_eq!(
        (d.kind, d.name.as_str(), d.size),
        (EntryKind::Dir, "d/", 20)
    );
    assert_eq!((d.etag.as_str(), d.chunk_count), ("\"f\"", 2));
    assert_eq!(chunk_ids(&f.ns, "/bkt/d/"), chunks);
    // Directory object to file, and to another directory object with new metadata.
    let g = copy(&f, "/bkt/d/", "/bkt/g", None).unwrap();
    assert_eq!(
        (g.kind, g.size, g.etag.as_str()),
        (EntryKind::File, 20, "\"f\"")
    );
    let e = copy(&f, "/bkt/d/", "/bkt/e/", Some("image/png")).unwrap();
    assert_eq!(e.content_type.as_deref(), Some("image/png"));
    assert_eq!(chunk_ids(&f.ns, "/bkt/e/"), chunks);
    assert_eq!(refcounts(&f, &chunks), [4, 4]);
    // Onto itself: new metadata, same inode and chunks, no reference change.
    let again = copy(&f, "/bkt/d/", "/bkt/d/", Some("text/new")).unwrap();
    assert_eq!((again.inode, again.size), (d.inode, 20));
    assert_eq!(again.content_type.as_deref(), Some("text/new"));
    assert_eq!(chunk_ids(&f.ns, "/bkt/d/"), chunks);
    assert_eq!(refcounts(&f, &chunks), [4, 4]);
    // Replacing a payload by the same chunks never queues them.
    copy(&f, "/bkt/g", "/bkt/e/", None).unwrap();
    assert_eq!(refcounts(&f, &chunks), [4, 4]);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    // Only a path ending in `/` names the object, and only an explicit directory is one.
    assert_eq!(
        code(copy(&f, "/bkt/d", "/bkt/z", None)),
        ErrorCode::IsADirectory
    );
    put(&f, "/bkt/imp/f", 0, "\"i\"");
    assert_eq!(
        code(copy(&f, "/bkt/imp/", "/bkt/z", None)),
        ErrorCode::IsADirectory
    );
    assert_eq!(
        code(copy(&f, "/bkt/f", "/bkt/", None)),
        ErrorCode::InvalidArgument
    );
    for (path, object) in [
        ("/bkt/d/", true),
        ("/bkt/e/", true),
        ("/bkt/f", true),
        ("/bkt/g", true),
    ] {
        del(&f, path, false, object).unwrap();
    }
    assert_eq!(refcounts(&f, &chunks), [0, 0]);
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
}

#[test]
fn multipart_uploads_complete_onto_directory_objects() {
    let f = s3_fixture();
    put(&f, "/bkt/m/", 1, "\"old\"");
    let old = chunk_ids(&f.ns, "/bkt/m/");
    let id = create(&f, "/bkt/m/");
    let (_, first) = put_part(&f, &id, 1, &[5 * MIB], 1).unwrap();
    let (_, second) = put_part(&f, &id, 2, &[10], 2).unwrap();
    let parts = [(1, etag(1)), (2, etag(2))];
    let done = complete(&f, &id, &parts).unwrap();
    assert_eq!(
        (done.entry.kind, done.entry.name.as_str()),
        (EntryKind::Dir, "m/")
    );
    assert_eq!(done.entry.size, 5 * MIB + 10);
    assert_eq!(done.entry.part_sizes, [5 * MIB, 10]);
    assert_eq!(done.entry.etag, done.etag);
    let seen = stat(&f.ns, "/bkt/m/").unwrap();
    assert_eq!(seen.entry.part_sizes, [5 * MIB, 10]);
    let ids: Vec<ChunkId> = seen.chunks.iter().map(|c| c.id).collect();
    assert_eq!(ids, [first[0], second[0]]);
    assert_eq!(refcounts(&f, &old), [0]);
    assert_eq!(queued(&f.store, Queue::Gc), old);
    // A repeated completion answers the same directory object.
    let repeated = complete(&f, &id, &parts).unwrap();
    assert_eq!(
        (repeated.entry.kind, repeated.entry.name.as_str()),
        (EntryKind::Dir, "m/")
    );
    assert_eq!(repeated.entry.size, 5 * MIB + 10);
    // A part copied from a range of the payload shares its chunks.
    let dst = create(&f, "/bkt/dst");
    let part =
        f.ns.copy_part(&CopyPartReq {
            upload_id: dst,
            part_number: 1,
            path: None,
            src: "/bkt/m/".parse().unwrap(),
            range: Some((5 * MIB, 5 * MIB + 9)),
            src_if_match: None,
            src_if_none_match: None,
            src_if_modified_since_ms: None,
            src_if_unmodified_since_ms: None,
            etag: Some(etag(9)),
            checksum: None,
            src_inode: None,
        })
        .unwrap();
    assert_eq!(part.part.size, 10);
    assert_eq!(refcount(&f, second[0]), 2);
}

#[test]
fn renames_keep_payloads_and_buckets_drop_them() {
    let f = s3_fixture();
    put(&f, "/bkt/r/", 1, "\"r\"");
    put(&f, "/bkt/r/f", 1, "\"f\"");
    let payload = chunk_ids(&f.ns, "/bkt/r/");
    f.ns.rename(&RenameReq {
        src: "/bkt/r/".parse().unwrap(),
        dst: "/bkt/s/".parse().unwrap(),
    })
    .unwrap();
    let s = stat(&f.ns, "/bkt/s/").unwrap();
    assert_eq!((s.entry.size, s.entry.etag.as_str()), (10, "\"r\""));
    assert_eq!(s.chunks.iter().map(|c| c.id).collect::<Vec<_>>(), payload);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    // A directory that becomes a bucket is no object: its data goes.
    f.ns.rename(&RenameReq {
        src: "/bkt/s/".parse().unwrap(),
        dst: "/top".parse().unwrap(),
    })
    .unwrap();
    let top = stat(&f.ns, "/top/").unwrap();
    assert!(top.entry.etag.is_empty() && top.entry.size == 0 && top.chunks.is_empty());
    assert_eq!(refcounts(&f, &payload), [0]);
    assert_eq!(names(&f.ns, "/top/"), ["f"]);
}

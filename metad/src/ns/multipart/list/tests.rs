//! Tests of ListMultipartUploads paging and of part copies sharing slices of chunks.

use crate::ns::multipart::tests::{complete, copy, create, etag, put_part, MIB};
use crate::ns::tests::{chunk_ids, code, loc, put, queued, s3_fixture, stat, Fixture};
use crate::store::queue::Queue;
use dfs_common::wire::*;
use dfs_common::{ErrorCode, ErrorDetail};

pub(in crate::ns::multipart) fn list(
    f: &Fixture,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    id_marker: Option<&str>,
    max: u32,
) -> ListUploadsResp {
    f.ns.list_uploads(&ListUploadsReq {
        bucket: "bkt".parse().unwrap(),
        prefix: prefix.into(),
        delimiter: delimiter.map(str::to_owned),
        key_marker: key_marker.map(str::to_owned),
        upload_id_marker: id_marker.map(str::to_owned),
        max_uploads: max,
    })
    .unwrap()
}

/// Keys of a page, prefixes in brackets, in listing order.
fn shape(page: &ListUploadsResp) -> Vec<String> {
    let mut items: Vec<String> = page.uploads.iter().map(|u| u.key.clone()).collect();
    items.extend(page.common_prefixes.iter().map(|p| format!("[{p}]")));
    items.sort_by(|a, b| a.trim_matches(['[', ']']).cmp(b.trim_matches(['[', ']'])));
    items
}

/// Every item, paging `max` at a time through the markers.
fn all_pages(f: &Fixture, prefix: &str, delimiter: Option<&str>, max: u32) -> Vec<String> {
    let (mut key, mut id) = (None::<String>, None::<String>);
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = list(f, prefix, delimiter, key.as_deref(), id.as_deref(), max);
        out.extend(shape(&page));
        if !page.truncated {
            return out;
        }
        key = page.next_key_marker;
        id = page.next_upload_id_marker;
    }
    panic!("listing does not end");
}

#[test]
fn uploads_list_in_s3_order_with_markers_prefix_and_delimiter() {
    let f = s3_fixture();
    let a1 = create(&f, "/bkt/a");
    let a2 = create(&f, "/bkt/a");
    assert!(a1 < a2, "ids of one key sort by creation");
    for key in ["c", "b/2", "b/1", "a-b", "b/x/3"] {
        create(&f, &format!("/bkt/{key}"));
    }
    // A completed upload is not listed.
    let done = create(&f, "/bkt/zz");
    put_part(&f, &done, 1, &[1], 1).unwrap();
    complete(&f, &done, &[(1, etag(1))]).unwrap();
    let everything = ["a", "a", "a-b", "b/1", "b/2", "b/x/3", "c"];
    assert_eq!(shape(&list(&f, "", None, None, None, 1000)), everything);
    for max in [1, 2, 3] {
        assert_eq!(all_pages(&f, "", None, max), everything, "max {max}");
    }
    let page = list(&f, "", None, None, None, 1);
    assert_eq!(page.uploads[0].upload_id, a1);
    assert_eq!(page.next_upload_id_marker.as_deref(), Some(a1.as_str()));
    assert_eq!(
        page.uploads[0].checksum_algorithm,
        Some(dfs_common::checksum::ChecksumAlgorithm::Crc32)
    );
    // Resuming inside a key's uploads, and after all of them.
    let page = list(&f, "", None, Some("a"), Some(&a1), 1000);
    assert_eq!(page.uploads[0].upload_id, a2);
    assert_eq!(shape(&list(&f, "", None, Some("a"), None, 1000))[0], "a-b");
    // Delimiter: `b/` is one common prefix, reported once across pages.
    let rolled = ["a", "a", "a-b", "[b/]", "c"];
    assert_eq!(shape(&list(&f, "", Some("/"), None, None, 1000)), rolled);
    for max in [1, 2, 4] {
        assert_eq!(all_pages(&f, "", Some("/"), max), rolled, "max {max}");
    }
    let page = list(&f, "", Some("/"), None, None, 4);
    assert_eq!(
        (page.truncated, page.next_key_marker.as_deref()),
        (true, Some("b/"))
    );
    assert!(page.next_upload_id_marker.is_none());
    // A marker inside a common prefix skips all of it.
    assert_eq!(
        shape(&list(&f, "", Some("/"), Some("b/1"), None, 1000)),
        ["c"]
    );
    // Prefixes.
    assert_eq!(
        shape(&list(&f, "b/", None, None, None, 1000)),
        ["b/1", "b/2", "b/x/3"]
    );
    assert_eq!(
        shape(&list(&f, "b/", Some("/"), None, None, 1000)),
        ["b/1", "b/2", "[b/x/]"]
    );
    assert_eq!(
        shape(&list(&f, "a", Some("-"), None, None, 1000)),
        ["a", "a", "[a-]"]
    );
    assert!(list(&f, "nothing", None, None, None, 1000)
        .uploads
        .is_empty());
    let empty = list(&f, "", None, None, None, 0);
    assert!(empty.uploads.is_empty() && !empty.truncated);
    let missing = f.ns.list_uploads(&ListUploadsReq {
        bucket: "nob".parse().unwrap(),
        prefix: String::new(),
        delimiter: None,
        key_marker: None,
        upload_id_marker: None,
        max_uploads: 10,
    });
    assert_eq!(code(missing), ErrorCode::NotFound);
}

#[test]
fn part_copies_share_slices_of_the_source_chunks() {
    let f = s3_fixture();
    // Three chunks of 10 bytes, ETag "e" (not an MD5).
    put(&f.ns, "/bkt/src", 3).unwrap();
    let src = chunk_ids(&f.ns, "/bkt/src");
    let id = create(&f, "/bkt/dst");
    // Bytes 5..=24 span all three chunks: the part needs its MD5 from the caller.
    let no_etag = copy(&f, &id, 2, "/bkt/src", Some((5, 24)), None);
    assert_eq!(code(no_etag), ErrorCode::InvalidArgument);
    let whole_but_not_md5 = copy(&f, &id, 2, "/bkt/src", None, None);
    assert_eq!(code(whole_but_not_md5), ErrorCode::InvalidArgument);
    let out = copy(&f, &id, 2, "/bkt/src", Some((5, 24)), Some(etag(2))).unwrap();
    assert_eq!(
        (out.part.size, out.part.etag.as_str()),
        (20, etag(2).as_str())
    );
    assert_eq!(out.src_etag, "\"e\"");
    for chunk in &src {
        assert_eq!(loc(&f.store, *chunk).unwrap().refcount, 2);
    }
    for bad in [(0, 30), (30, 31), (7, 6)] {
        let err = copy(&f, &id, 3, "/bkt/src", Some(bad), Some(etag(3))).unwrap_err();
        assert_eq!(err.detail, ErrorDetail::InvalidRange, "{bad:?}: {err}");
    }
    assert_eq!(
        code(copy(&f, &id, 3, "/bkt/nothing", None, None)),
        ErrorCode::NotFound
    );
    // Part 1: a written part of 5 MiB, then the copy as the last part.
    put_part(&f, &id, 1, &[5 * MIB], 1).unwrap();
    let done = complete(&f, &id, &[(1, etag(1)), (2, etag(2))]).unwrap();
    assert_eq!(done.entry.size, 5 * MIB + 20);
    let chunks = stat(&f.ns, "/bkt/dst").unwrap().chunks;
    let slices: Vec<_> = chunks[1..]
        .iter()
        .map(|c| (c.id, c.chunk_offset, c.len, c.chunk_len, c.offset))
        .collect();
    assert_eq!(
        slices,
        [
            (src[0], 5, 5, 10, 5 * MIB),
            (src[1], 0, 10, 10, 5 * MIB + 5),
            (src[2], 0, 5, 10, 5 * MIB + 15),
        ]
    );
    assert!(!chunks[1].is_whole_chunk() && chunks[2].is_whole_chunk());
    // The source can go: the copy keeps the chunks alive.
    f.ns.delete(&DeleteReq {
        path: "/bkt/src".parse().unwrap(),
        recursive: false,
        object: false,
    })
    .unwrap();
    assert!(queued(&f.store, Queue::Gc).is_empty());
    for chunk in &src {
        assert_eq!(loc(&f.store, *chunk).unwrap().refcount, 1);
    }
}

#[test]
fn whole_copies_of_plain_objects_take_the_source_etag() {
    let f = s3_fixture();
    let md5_src = create(&f, "/bkt/src");
    put_part(&f, &md5_src, 1, &[4], 7).unwrap();
    let multipart = complete(&f, &md5_src, &[(1, etag(7))]).unwrap();
    // A multipart source's ETag is no MD5 of its bytes.
    let id = create(&f, "/bkt/dst");
    assert_eq!(
        code(copy(&f, &id, 1, "/bkt/src", None, None)),
        ErrorCode::InvalidArgument
    );
    // A plain object with an MD5 ETag.
    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/bkt/plain".parse().unwrap(),
        })
        .unwrap();
    let alloc =
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
        .unwrap();
    f.ns.commit(&CommitReq {
        checksum: None,
        session: open.session,
        size: 4,
        etag: etag(42),
        content_type: None,
        meta: vec![],
        chunks: vec![WrittenChunk {
            id: alloc.chunk_id,
            len: 4,
            crc32c: 0,
            replicas: alloc.replicas.iter().map(|r| r.node).collect(),
        }],
        if_none_match: false,
        if_match: None,
    })
    .unwrap();
    let whole = copy(&f, &id, 1, "/bkt/plain", None, None).unwrap();
    assert_eq!(whole.part.etag, etag(42));
    let same = copy(&f, &id, 1, "/bkt/plain", Some((0, 3)), None).unwrap();
    assert_eq!(same.part.etag, etag(42));
    // Re-copying onto the same part replaced it without freeing the shared chunk.
    assert!(queued(&f.store, Queue::Gc).is_empty());
    assert_eq!(loc(&f.store, alloc.chunk_id).unwrap().refcount, 2);
    // Preconditions and the source version.
    let mut req = CopyPartReq {
        upload_id: id.clone(),
        part_number: 2,
        path: Some("/bkt/dst".parse().unwrap()),
        src: "/bkt/plain".parse().unwrap(),
        range: None,
        src_if_match: Some(multipart.etag.clone()),
        src_if_none_match: None,
        src_if_modified_since_ms: None,
        src_if_unmodified_since_ms: None,
        etag: None,
        checksum: None,
        src_inode: None,
    };
    assert_eq!(code(f.ns.copy_part(&req)), ErrorCode::PreconditionFailed);
    req.src_if_match = None;
    req.src_inode = Some(multipart.entry.inode);
    assert_eq!(code(f.ns.copy_part(&req)), ErrorCode::Conflict);
    req.src_inode = Some(stat(&f.ns, "/bkt/plain").unwrap().entry.inode);
    assert!(f.ns.copy_part(&req).is_ok());
}

#[test]
fn directory_objects_can_be_copied_as_empty_parts() {
    let f = s3_fixture();
    f.ns.mkdir(&MkdirReq {
        path: "/bkt/d/".parse().unwrap(),
        parents: false,
        object: Some(DirObject {
            checksum: None,
            etag: EMPTY_ETAG.into(),
            content_type: None,
            meta: vec![],
        }),
    })
    .unwrap();
    let id = create(&f, "/bkt/dst");
    let out = copy(&f, &id, 1, "/bkt/d/", None, None).unwrap();
    assert_eq!((out.part.size, out.part.etag.as_str()), (0, EMPTY_ETAG));
    // Without the slash, `d` names a file, and there is none.
    assert_eq!(
        code(copy(&f, &id, 1, "/bkt/d", None, None)),
        ErrorCode::NotFound
    );
}

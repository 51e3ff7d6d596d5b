//! Tests of multipart uploads: parts, completion and its S3 validation, abort, expiry, and
//! what uploads must not disturb (listings, bucket deletion). The caps on slices are in
//! `slices`.

mod slices;
mod steps;

use crate::ns::tests::{chunk_ids, code, loc, put, queued, s3_fixture, stat, Fixture};
use crate::store::queue::Queue;
use base64::Engine;
use dfs_common::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use dfs_common::wire::*;
use dfs_common::{ChunkId, ErrorCode, ErrorDetail, RpcError};
use md5::{Digest, Md5};

pub(crate) const MIB: u64 = 1 << 20;

/// A distinct valid CRC32 part checksum.
pub(crate) fn part_checksum(n: u32) -> Checksum {
    let value = base64::engine::general_purpose::STANDARD.encode(n.to_be_bytes());
    Checksum::new(ChecksumAlgorithm::Crc32, ChecksumType::FullObject, &value).unwrap()
}

/// A distinct valid part ETag (quoted 32 hex digits).
pub(crate) fn etag(n: u32) -> String {
    format!("\"{n:032x}\"")
}

pub(crate) fn create(f: &Fixture, path: &str) -> String {
    f.ns.create_upload(&CreateUploadReq {
        path: path.parse().unwrap(),
        content_type: Some("text/plain".into()),
        meta: vec![("x-amz-meta-a".into(), "1".into())],
        checksum_algorithm: Some(ChecksumAlgorithm::Crc32),
        checksum_type: Some(ChecksumType::Composite),
        owner_key: None,
    })
    .unwrap()
    .upload_id
}

/// Writes part `number` made of chunks of the given lengths, with ETag `etag(tag)`; returns
/// the part and its chunks.
pub(crate) fn put_part(
    f: &Fixture,
    id: &str,
    number: u32,
    lens: &[u64],
    tag: u32,
) -> Result<(PartInfo, Vec<ChunkId>), RpcError> {
    let open = f.ns.begin_part_write(&BeginPartWriteReq {
        upload_id: id.into(),
        part_number: number,
        path: None,
    })?;
    let mut chunks = Vec::new();
    for &len in lens {
        let alloc = f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })?;
        chunks.push(WrittenChunk {
            id: alloc.chunk_id,
            len,
            crc32c: 7,
            replicas: alloc.replicas.iter().map(|r| r.node).collect(),
        });
    }
    let ids = chunks.iter().map(|c| c.id).collect();
    let req = CommitPartReq {
        session: open.session,
        size: lens.iter().sum(),
        etag: etag(tag),
        checksum: Some(part_checksum(tag)),
        chunks,
    };
    match f.ns.commit_part(&req) {
        Ok(info) => Ok((info, ids)),
        Err(e) => {
            f.ns.abort(&AbortReq {
                session: open.session,
            })
            .unwrap();
            Err(e)
        }
    }
}

pub(crate) fn complete(
    f: &Fixture,
    id: &str,
    parts: &[(u32, String)],
) -> Result<CompleteUploadResp, RpcError> {
    f.ns.complete_upload(&CompleteUploadReq {
        upload_id: id.into(),
        path: None,
        parts: parts.to_vec(),
        if_none_match: false,
        if_match: None,
        checksum: None,
    })
}

/// Makes part `number` of upload `id` from `range` of `src` (S3 UploadPartCopy).
pub(crate) fn copy(
    f: &Fixture,
    id: &str,
    number: u32,
    src: &str,
    range: Option<(u64, u64)>,
    etag: Option<String>,
) -> Result<CopyPartResp, RpcError> {
    f.ns.copy_part(&CopyPartReq {
        upload_id: id.into(),
        part_number: number,
        path: None,
        src: src.parse().unwrap(),
        range,
        src_if_match: None,
        src_if_none_match: None,
        src_if_modified_since_ms: None,
        src_if_unmodified_since_ms: None,
        etag,
        checksum: None,
        src_inode: None,
    })
}

fn list_parts(f: &Fixture, id: &str, marker: u32, max: u32) -> Result<ListPartsResp, RpcError> {
    f.ns.list_parts(&ListPartsReq {
        upload_id: id.into(),
        path: None,
        part_number_marker: marker,
        max_parts: max,
    })
}

fn abort(f: &Fixture, id: &str) -> Result<(), RpcError> {
    f.ns.abort_upload(&AbortUploadReq {
        upload_id: id.into(),
        path: None,
    })
}

fn detail(result: Result<impl std::fmt::Debug, RpcError>) -> ErrorDetail {
    result.unwrap_err().detail
}

fn refcount(f: &Fixture, chunk: ChunkId) -> u64 {
    loc(&f.store, chunk).map_or(0, |l| l.refcount)
}

#[test]
fn a_completed_upload_is_its_parts_chunks_with_the_s3_etag() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/dir/obj");
    assert_eq!(id.len(), 32);
    let (p1, c1) = put_part(&f, &id, 1, &[3 * MIB, 2 * MIB], 1).unwrap();
    let (_, c2) = put_part(&f, &id, 2, &[4], 2).unwrap();
    assert_eq!((p1.size, p1.etag.as_str()), (5 * MIB, etag(1).as_str()));
    assert_eq!(p1.checksum, Some(part_checksum(1)));
    // Quotes are optional in the request.
    let parts = [(1, etag(1)), (2, etag(2).trim_matches('"').to_owned())];
    let done = complete(&f, &id, &parts).unwrap();
    let mut md5 = Md5::new();
    md5.update(hex::decode(format!("{:032x}", 1)).unwrap());
    md5.update(hex::decode(format!("{:032x}", 2)).unwrap());
    let expected = format!("\"{}-2\"", hex::encode(md5.finalize()));
    assert_eq!(done.etag, expected);
    assert_eq!(done.entry.etag, expected);
    assert_eq!(done.entry.size, 5 * MIB + 4);
    assert_eq!(done.entry.part_sizes, [5 * MIB, 4]);
    assert_eq!(done.entry.content_type.as_deref(), Some("text/plain"));
    let resp = stat(&f.ns, "/bkt/dir/obj").unwrap();
    assert_eq!(resp.entry, done.entry);
    let all: Vec<ChunkId> = c1.iter().chain(&c2).copied().collect();
    assert_eq!(chunk_ids(&f.ns, "/bkt/dir/obj"), all);
    let offsets: Vec<u64> = resp.chunks.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, [0, 3 * MIB, 5 * MIB]);
    assert!(resp.chunks.iter().all(|c| c.is_whole_chunk()));
    // References moved from the parts to the object: one each, nothing to collect.
    assert!(all.iter().all(|c| refcount(&f, *c) == 1));
    assert!(queued(&f.store, Queue::Gc).is_empty());
    // The upload is over: its parts are gone and only a repeated completion is answered.
    assert_eq!(code(list_parts(&f, &id, 0, 10)), ErrorCode::NotFound);
    assert_eq!(code(abort(&f, &id)), ErrorCode::NotFound);
    assert_eq!(code(put_part(&f, &id, 3, &[1], 3)), ErrorCode::NotFound);
}

#[test]
fn completing_twice_answers_the_same_object_only_for_the_same_parts() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/k");
    put_part(&f, &id, 1, &[5 * MIB], 1).unwrap();
    put_part(&f, &id, 2, &[1], 2).unwrap();
    let parts = [(1, etag(1)), (2, etag(2))];
    let first = complete(&f, &id, &parts).unwrap();
    let again = complete(&f, &id, &parts).unwrap();
    assert_eq!(again, first);
    assert_eq!(code(complete(&f, &id, &parts[..1])), ErrorCode::NotFound);
    assert_eq!(
        code(complete(&f, &id, &[(1, etag(1)), (2, etag(9))])),
        ErrorCode::NotFound
    );
    // Still answered after the object is overwritten: the answer is the upload's.
    put(&f.ns, "/bkt/k", 1).unwrap();
    assert_eq!(complete(&f, &id, &parts).unwrap().etag, first.etag);
}

#[test]
fn completion_validates_like_s3_and_leaves_the_upload_open_on_error() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/k");
    put_part(&f, &id, 1, &[5 * MIB], 1).unwrap();
    put_part(&f, &id, 2, &[MIB], 2).unwrap();
    put_part(&f, &id, 3, &[10], 3).unwrap();
    let (e1, e2, e3) = (etag(1), etag(2), etag(3));
    assert_eq!(detail(complete(&f, &id, &[])), ErrorDetail::NoPartsListed);
    let order = complete(&f, &id, &[(2, e2.clone()), (1, e1.clone())]);
    assert_eq!(detail(order), ErrorDetail::InvalidPartOrder);
    let twice = complete(&f, &id, &[(1, e1.clone()), (1, e1.clone())]);
    assert_eq!(detail(twice), ErrorDetail::InvalidPartOrder);
    assert_eq!(
        detail(complete(&f, &id, &[(1, e1.clone()), (4, e3.clone())])),
        ErrorDetail::InvalidPart
    );
    assert_eq!(
        detail(complete(&f, &id, &[(1, e2.clone())])),
        ErrorDetail::InvalidPart
    );
    assert_eq!(
        detail(complete(&f, &id, &[(1, "\"zz\"".into())])),
        ErrorDetail::InvalidPart
    );
    // Part 2 (1 MiB) may only be last.
    let small = complete(
        &f,
        &id,
        &[(1, e1.clone()), (2, e2.clone()), (3, e3.clone())],
    );
    assert_eq!(detail(small), ErrorDetail::EntityTooSmall);
    assert_eq!(list_parts(&f, &id, 0, 10).unwrap().parts.len(), 3);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    let done = complete(&f, &id, &[(1, e1), (2, e2)]).unwrap();
    assert_eq!(done.entry.part_sizes, [5 * MIB, MIB]);
}

#[test]
fn parts_left_out_and_replaced_parts_are_collected() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/k");
    let (_, old) = put_part(&f, &id, 1, &[MIB, MIB], 1).unwrap();
    let (_, kept) = put_part(&f, &id, 1, &[5 * MIB], 11).unwrap();
    // The replaced part's chunks wait for GC; the new ones are referenced.
    assert_eq!(queued(&f.store, Queue::Gc), old);
    assert!(old.iter().all(|c| refcount(&f, *c) == 0));
    let listed = list_parts(&f, &id, 0, 10).unwrap().parts;
    assert_eq!((listed.len(), listed[0].etag.clone()), (1, etag(11)));
    let (_, unlisted) = put_part(&f, &id, 2, &[7], 2).unwrap();
    let (_, last) = put_part(&f, &id, 3, &[8], 3).unwrap();
    complete(&f, &id, &[(1, etag(11)), (3, etag(3))]).unwrap();
    let mut gc = old.clone();
    gc.extend(&unlisted);
    gc.sort();
    assert_eq!(queued(&f.store, Queue::Gc), gc);
    let object: Vec<ChunkId> = kept.iter().chain(&last).copied().collect();
    assert_eq!(chunk_ids(&f.ns, "/bkt/k"), object);
}

#[test]
fn an_aborted_upload_is_gone_and_its_chunks_collected() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/k");
    let (_, chunks) = put_part(&f, &id, 1, &[5 * MIB], 1).unwrap();
    // A part being written when the upload goes cannot be committed into nothing.
    let late =
        f.ns.begin_part_write(&BeginPartWriteReq {
            upload_id: id.clone(),
            part_number: 2,
            path: None,
        })
        .unwrap();
    abort(&f, &id).unwrap();
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert_eq!(
        code(complete(&f, &id, &[(1, etag(1))])),
        ErrorCode::NotFound
    );
    assert_eq!(code(abort(&f, &id)), ErrorCode::NotFound);
    assert_eq!(code(list_parts(&f, &id, 0, 10)), ErrorCode::NotFound);
    let commit = f.ns.commit_part(&CommitPartReq {
        session: late.session,
        size: 0,
        etag: etag(2),
        checksum: None,
        chunks: vec![],
    });
    assert_eq!(code(commit), ErrorCode::NotFound);
    f.ns.abort(&AbortReq {
        session: late.session,
    })
    .unwrap();
    assert_eq!(code(stat(&f.ns, "/bkt/k")), ErrorCode::NotFound);
    // Ids that are not even shaped like one are simply unknown.
    assert_eq!(code(abort(&f, "../../x")), ErrorCode::NotFound);
}

#[test]
fn list_parts_pages_by_part_number() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/k");
    for n in [5, 1, 3, 2, 4] {
        put_part(&f, &id, n, &[n as u64], n).unwrap();
    }
    let numbers =
        |page: &ListPartsResp| -> Vec<u32> { page.parts.iter().map(|p| p.part_number).collect() };
    let page = list_parts(&f, &id, 0, 2).unwrap();
    assert_eq!(
        (numbers(&page), page.truncated, page.next_part_number_marker),
        (vec![1, 2], true, 2)
    );
    assert_eq!(page.path, "/bkt/k");
    assert_eq!(
        page.upload.checksum_algorithm,
        Some(ChecksumAlgorithm::Crc32)
    );
    let page = list_parts(&f, &id, 2, 2).unwrap();
    assert_eq!((numbers(&page), page.truncated), (vec![3, 4], true));
    let page = list_parts(&f, &id, 4, 2).unwrap();
    assert_eq!(
        (numbers(&page), page.truncated, page.next_part_number_marker),
        (vec![5], false, 5)
    );
    let page = list_parts(&f, &id, 0, 0).unwrap();
    assert!(page.parts.is_empty() && !page.truncated);
    assert_eq!(
        numbers(&list_parts(&f, &id, 0, 5000).unwrap()),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn uploads_and_parts_are_invisible_to_the_namespace() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/dir/k");
    put_part(&f, &id, 1, &[10], 1).unwrap();
    assert_eq!(code(stat(&f.ns, "/bkt/dir/k")), ErrorCode::NotFound);
    assert_eq!(code(stat(&f.ns, "/bkt/dir/")), ErrorCode::NotFound);
    assert!(crate::ns::tests::names(&f.ns, "/bkt").is_empty());
    let page =
        f.ns.list_objects(&ListObjectsReq {
            bucket: "bkt".parse().unwrap(),
            prefix: String::new(),
            delimiter: None,
            start_after: None,
            max_keys: 1000,
        })
        .unwrap();
    assert!(page.objects.is_empty() && page.common_prefixes.is_empty());
}

#[test]
fn buckets_with_uploads_in_progress_are_not_empty() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/k");
    let delete_bucket = || {
        f.ns.delete_bucket(&DeleteBucketReq {
            name: "bkt".parse().unwrap(),
        })
    };
    assert_eq!(code(delete_bucket()), ErrorCode::NotEmpty);
    let rm = |recursive| {
        f.ns.delete(&DeleteReq {
            path: "/bkt".parse().unwrap(),
            recursive,
            object: false,
        })
    };
    assert_eq!(code(rm(false)), ErrorCode::NotEmpty);
    assert_eq!(code(rm(true)), ErrorCode::NotEmpty);
    // Nor can it stop being a bucket (a rename keeps it one, with its uploads).
    crate::ns::tests::mkdir(&f.ns, "/c", false).unwrap();
    let mv = |src: &str, dst: &str| {
        f.ns.rename(&RenameReq {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
        })
    };
    assert_eq!(code(mv("/bkt", "/c/b")), ErrorCode::NotEmpty);
    mv("/bkt", "/b2").unwrap();
    assert_eq!(list_parts(&f, &id, 0, 10).unwrap().path, "/bkt/k");
    mv("/b2", "/bkt").unwrap();
    // A completed upload does not hold the bucket, and goes with it.
    put_part(&f, &id, 1, &[3], 1).unwrap();
    complete(&f, &id, &[(1, etag(1))]).unwrap();
    put(&f.ns, "/bkt/other", 1).unwrap();
    rm(true).unwrap();
    assert_eq!(
        code(complete(&f, &id, &[(1, etag(1))])),
        ErrorCode::NotFound
    );
    crate::ns::tests::mkdir(&f.ns, "/bkt", false).unwrap();
    let id = create(&f, "/bkt/k");
    abort(&f, &id).unwrap();
    delete_bucket().unwrap();
    let err =
        f.ns.create_upload(&CreateUploadReq {
            path: "/bkt/k".parse().unwrap(),
            content_type: None,
            meta: vec![],
            checksum_algorithm: None,
            checksum_type: None,
            owner_key: None,
        })
        .unwrap_err();
    assert_eq!(err.detail, dfs_common::ErrorDetail::NoSuchBucket, "{err}");
}

#[test]
fn expired_uploads_are_aborted_and_completed_markers_dropped() {
    let f = s3_fixture();
    let old = create(&f, "/bkt/old");
    let (_, chunks) = put_part(&f, &old, 1, &[10], 1).unwrap();
    let done = create(&f, "/bkt/done");
    put_part(&f, &done, 1, &[10], 2).unwrap();
    complete(&f, &done, &[(1, etag(2))]).unwrap();
    let now = dfs_common::auth::unix_now_ms();
    let (day, week) = (86_400_000, 7 * 86_400_000);
    // Nothing is due yet.
    assert_eq!(f.ns.expire_uploads(now, week, day, 64).unwrap(), 0);
    // Two days on: the completed marker goes, the open upload stays.
    assert_eq!(
        f.ns.expire_uploads(now + 2 * day, week, day, 64).unwrap(),
        1
    );
    assert_eq!(
        code(complete(&f, &done, &[(1, etag(2))])),
        ErrorCode::NotFound
    );
    assert_eq!(list_parts(&f, &old, 0, 10).unwrap().parts.len(), 1);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    // Eight days on: the open upload is aborted and its chunks collected.
    assert_eq!(
        f.ns.expire_uploads(now + 8 * day, week, day, 64).unwrap(),
        1
    );
    assert_eq!(code(list_parts(&f, &old, 0, 10)), ErrorCode::NotFound);
    assert_eq!(queued(&f.store, Queue::Gc), chunks);
    assert_eq!(
        f.ns.expire_uploads(now + 8 * day, week, day, 64).unwrap(),
        0
    );
    // The object made by the completed upload stays.
    assert_eq!(stat(&f.ns, "/bkt/done").unwrap().entry.part_sizes, [10]);
}

#[test]
fn completion_honours_conditions_and_stores_the_checksum() {
    let f = s3_fixture();
    put(&f.ns, "/bkt/k", 1).unwrap();
    let id = create(&f, "/bkt/k");
    put_part(&f, &id, 1, &[3], 1).unwrap();
    let composite = Checksum::new(
        ChecksumAlgorithm::Crc32,
        ChecksumType::Composite,
        "AAAAAA==-1",
    );
    let req = |if_none_match, checksum: Option<Checksum>| CompleteUploadReq {
        upload_id: id.clone(),
        path: Some("/bkt/k".parse().unwrap()),
        parts: vec![(1, etag(1))],
        if_none_match,
        if_match: None,
        checksum,
    };
    let refused = f.ns.complete_upload(&req(true, None));
    assert_eq!(code(refused), ErrorCode::PreconditionFailed);
    // A checksum of another algorithm than the upload's is refused.
    let sha = Checksum::new(
        ChecksumAlgorithm::Sha1,
        ChecksumType::Composite,
        &format!("{}-1", "A".repeat(27) + "="),
    );
    assert!(sha.is_some());
    assert_eq!(
        detail(f.ns.complete_upload(&req(false, sha))),
        ErrorDetail::InvalidRequest
    );
    let done =
        f.ns.complete_upload(&req(false, composite.clone()))
            .unwrap();
    assert_eq!(done.entry.checksum, composite);
    assert_eq!(
        done.entry.meta,
        [("x-amz-meta-a".to_owned(), "1".to_owned())]
    );
    assert_eq!(stat(&f.ns, "/bkt/k").unwrap().entry.checksum, composite);
    // An upload without a checksum algorithm takes no checksum.
    let plain =
        f.ns.create_upload(&CreateUploadReq {
            path: "/bkt/p".parse().unwrap(),
            content_type: None,
            meta: vec![],
            checksum_algorithm: None,
            checksum_type: None,
            owner_key: None,
        })
        .unwrap()
        .upload_id;
    put_part(&f, &plain, 1, &[3], 1).unwrap();
    let mut with_sum = req(false, Some(part_checksum(1)));
    with_sum.upload_id = plain;
    with_sum.path = None;
    assert_eq!(
        detail(f.ns.complete_upload(&with_sum)),
        ErrorDetail::InvalidRequest
    );
}

#[test]
fn calls_naming_another_path_do_not_find_the_upload() {
    let f = s3_fixture();
    crate::ns::tests::mkdir(&f.ns, "/ccc", false).unwrap();
    let id = create(&f, "/bkt/k");
    let open = |path: &str, number| {
        f.ns.begin_part_write(&BeginPartWriteReq {
            upload_id: id.clone(),
            part_number: number,
            path: Some(path.parse().unwrap()),
        })
    };
    // Paths that are no object path ("/bkt", "nonsense") cannot even be decoded.
    for wrong in ["/ccc/k", "/bkt/k2", "/bkt/k/"] {
        assert_eq!(code(open(wrong, 1)), ErrorCode::NotFound, "{wrong}");
    }
    assert_eq!(detail(open("/bkt/k", 0)), ErrorDetail::InvalidPartNumber);
    assert_eq!(
        detail(open("/bkt/k", 10_001)),
        ErrorDetail::InvalidPartNumber
    );
    let session = open("/bkt/k", 1).unwrap().session;
    // A part session is committed as a part, a file session as a file.
    let as_file = f.ns.commit(&CommitReq {
        checksum: None,
        session,
        size: 0,
        etag: etag(1),
        content_type: None,
        meta: vec![],
        chunks: vec![],
        if_none_match: false,
        if_match: None,
    });
    assert_eq!(code(as_file), ErrorCode::InvalidArgument);
    let bad_etag = f.ns.commit_part(&CommitPartReq {
        session,
        size: 0,
        etag: "\"not-md5\"".into(),
        checksum: None,
        chunks: vec![],
    });
    assert_eq!(code(bad_etag), ErrorCode::InvalidArgument);
    let file =
        f.ns.begin_write(&BeginWriteReq {
            path: "/bkt/f".parse().unwrap(),
        })
        .unwrap();
    let as_part = f.ns.commit_part(&CommitPartReq {
        session: file.session,
        size: 0,
        etag: etag(1),
        checksum: None,
        chunks: vec![],
    });
    assert_eq!(code(as_part), ErrorCode::InvalidArgument);
}

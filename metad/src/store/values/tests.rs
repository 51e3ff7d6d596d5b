//! Encoding tests of the stored values, old versions included.

use super::*;
use dfs_common::{ChunkId, InodeId, NodeId};

#[test]
fn round_trip_with_version_byte() {
    let value = Dentry::File(File {
        checksum: Some(Checksum {
            algorithm: v5::ChecksumAlgorithm::Sha1,
            kind: v5::ChecksumType::Composite,
            value: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=-2".into(),
        }),
        inode: InodeId(7),
        size: 3,
        etag: "\"abc\"".into(),
        mtime_ms: 9,
        content_type: Some("text/plain".into()),
        meta: vec![("k".into(), "v".into())],
        chunk_count: 1,
        part_sizes: vec![5, 7],
    });
    let bytes = value.encode().unwrap();
    assert_eq!(bytes[0], 5);
    assert_eq!(Dentry::decode(&bytes).unwrap(), value);
    let dir = Dentry::Dir(Dir {
        inode: InodeId(8),
        mtime_ms: 1,
        explicit: true,
        object: Some(DirObject {
            checksum: None,
            etag: "\"e\"".into(),
            content_type: Some("x/y".into()),
            meta: vec![("a".into(), "b".into())],
            size: 30,
            chunk_count: 2,
            part_sizes: vec![20, 10],
        }),
        bucket: Some(BucketRecord {
            created_ms: 4,
            owner: Some("DFSKEY".into()),
        }),
    });
    assert_eq!(Dentry::decode(&dir.encode().unwrap()).unwrap(), dir);
    let key = AccessKey {
        name: "n".into(),
        created_ms: 3,
        sealed_secret: vec![1, 2],
        tag: vec![3],
        grants: vec![Grant {
            bucket: "b".into(),
            read: true,
            write: false,
            owner: true,
        }],
    };
    assert_eq!(AccessKey::decode(&key.encode().unwrap()).unwrap(), key);
    let loc = ChunkLoc {
        replicas: vec![NodeId(1), NodeId(2)],
        len: 5,
        crc32c: 6,
        refcount: 1,
    };
    assert_eq!(ChunkLoc::decode(&loc.encode().unwrap()).unwrap(), loc);
    let row = FileChunk {
        chunk: ChunkId(3),
        chunk_offset: 4,
        len: 1,
        crc32c: 2,
        chunk_len: 9,
    };
    assert_eq!(FileChunk::decode(&row.encode().unwrap()).unwrap(), row);
}

#[test]
fn multipart_values_round_trip() {
    let file = File {
        checksum: None,
        inode: InodeId(4),
        size: 10,
        etag: "\"e-2\"".into(),
        mtime_ms: 3,
        content_type: None,
        meta: vec![],
        chunk_count: 2,
        part_sizes: vec![6, 4],
    };
    let upload = Upload {
        bucket: "b".into(),
        key: "k/x".into(),
        initiated_ms: 1,
        content_type: Some("a/b".into()),
        meta: vec![("x-amz-meta-a".into(), "1".into())],
        checksum_algorithm: Some(v5::ChecksumAlgorithm::Crc32),
        checksum_type: Some(v5::ChecksumType::Composite),
        owner_key: None,
        state: UploadState::Completed(Completion {
            completed_ms: 2,
            part_numbers: vec![1, 3],
            file,
        }),
    };
    assert_eq!(Upload::decode(&upload.encode().unwrap()).unwrap(), upload);
    let part = Part {
        size: 3,
        etag: "\"p\"".into(),
        checksum: Some(Checksum {
            algorithm: v5::ChecksumAlgorithm::Crc32,
            kind: v5::ChecksumType::FullObject,
            value: "AAAAAA==".into(),
        }),
        mtime_ms: 5,
        slices: vec![FileChunk {
            chunk: ChunkId(1),
            chunk_offset: 0,
            len: 3,
            crc32c: 8,
            chunk_len: 3,
        }],
    };
    assert_eq!(Part::decode(&part.encode().unwrap()).unwrap(), part);
    let index = UploadRef {
        bucket: InodeId(2),
        key: "k".into(),
    };
    assert_eq!(UploadRef::decode(&index.encode().unwrap()).unwrap(), index);
    let session = Session {
        path: "/b/k".into(),
        created_ms: 1,
        chunks: vec![],
        part: Some(PartTarget {
            upload_id: "u".into(),
            part_number: 2,
        }),
    };
    assert_eq!(
        Session::decode(&session.encode().unwrap()).unwrap(),
        session
    );
}

#[test]
fn older_rows_decode_forward() {
    // A version 1 chunk row is a whole chunk.
    let old = v1::FileChunk {
        chunk: ChunkId(5),
        len: 10,
        crc32c: 7,
    };
    let bytes = encode_as(1, &old, "test").unwrap();
    assert_eq!(
        FileChunk::decode(&bytes).unwrap(),
        FileChunk {
            chunk: ChunkId(5),
            chunk_offset: 0,
            len: 10,
            crc32c: 7,
            chunk_len: 10,
        }
    );
    // A version 1 session writes a file.
    let old = v1::Session {
        path: "/b/x".into(),
        created_ms: 3,
        chunks: vec![SessionChunk {
            id: ChunkId(1),
            nodes: vec![NodeId(2)],
        }],
    };
    let session = Session::decode(&encode_as(1, &old, "test").unwrap()).unwrap();
    assert_eq!((session.path.as_str(), session.part), ("/b/x", None));
    assert_eq!(session.chunks, old.chunks);
    // A version 2 file entry has no part sizes.
    let old_file = v1::File {
        inode: InodeId(10),
        size: 1,
        etag: "\"x\"".into(),
        mtime_ms: 2,
        content_type: None,
        meta: vec![],
        chunk_count: 1,
    };
    let bytes = encode_as(2, &v2::Dentry::File(old_file.clone()), "test").unwrap();
    assert_eq!(
        Dentry::decode(&bytes).unwrap(),
        Dentry::File(File::from(v3::File::from(old_file.clone())))
    );
    // Version 2 and 3 directories hold no data; a version 3 file is unchanged.
    let old_dir = v2::Dir {
        inode: InodeId(11),
        mtime_ms: 4,
        explicit: true,
        object: Some(v2::DirObject {
            etag: "\"d\"".into(),
            content_type: Some("application/x-directory".into()),
            meta: vec![("m".into(), "v".into())],
        }),
        bucket: None,
    };
    let want = Dentry::Dir(Dir {
        inode: InodeId(11),
        mtime_ms: 4,
        explicit: true,
        object: Some(DirObject {
            checksum: None,
            etag: "\"d\"".into(),
            content_type: Some("application/x-directory".into()),
            meta: vec![("m".into(), "v".into())],
            size: 0,
            chunk_count: 0,
            part_sizes: vec![],
        }),
        bucket: None,
    });
    let bytes = encode_as(2, &v2::Dentry::Dir(old_dir.clone()), "test").unwrap();
    assert_eq!(Dentry::decode(&bytes).unwrap(), want);
    let bytes = encode_as(3, &v3::Dentry::Dir(old_dir), "test").unwrap();
    assert_eq!(Dentry::decode(&bytes).unwrap(), want);
    let file = v3::File::from(old_file);
    let bytes = encode_as(3, &v3::Dentry::File(file.clone()), "test").unwrap();
    assert_eq!(Dentry::decode(&bytes).unwrap(), Dentry::File(file.into()));
    // Version 2 of a type born in version 3 does not exist.
    assert!(Upload::decode(&[2, 0]).is_err());
    assert!(FileChunk::decode(&[2, 0]).is_err());
}

#[test]
fn version_1_directory_entries_still_decode() {
    let old_dir = v1::Dentry::Dir(v1::Dir {
        inode: InodeId(9),
        mtime_ms: 5,
        explicit: true,
    });
    let bytes = encode_as(1, &old_dir, "test").unwrap();
    assert_eq!(
        Dentry::decode(&bytes).unwrap(),
        Dentry::Dir(Dir {
            inode: InodeId(9),
            mtime_ms: 5,
            explicit: true,
            object: None,
            bucket: None,
        })
    );
    let file = v1::File {
        inode: InodeId(10),
        size: 1,
        etag: "\"x\"".into(),
        mtime_ms: 2,
        content_type: None,
        meta: vec![],
        chunk_count: 1,
    };
    let bytes = encode_as(1, &v1::Dentry::File(file.clone()), "test").unwrap();
    assert_eq!(
        Dentry::decode(&bytes).unwrap(),
        Dentry::File(v3::File::from(file).into())
    );
    // Version 1 of a type born in version 2 does not exist.
    assert!(AccessKey::decode(&[1, 0]).is_err());
}

#[test]
fn unknown_version_and_garbage_are_clear_errors() {
    let err = Counter::decode(&[9, 1, 2]).unwrap_err().to_string();
    assert!(err.contains("unknown version 9"), "{err}");
    assert!(Counter::decode(&[]).is_err());
    assert!(Dentry::decode(&[1, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(Dentry::decode(&[2, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(Dentry::decode(&[3, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(Dentry::decode(&[4, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(Dentry::decode(&[5, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(Dentry::decode(&[6, 0]).is_err());
    // A huge length prefix must fail cleanly, not allocate.
    assert!(
        Session::decode(&[1, 1, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err()
    );
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn typed(algorithm: v5::ChecksumAlgorithm, kind: v5::ChecksumType, value: &str) -> Checksum {
    Checksum {
        algorithm,
        kind,
        value: value.into(),
    }
}

#[test]
fn version_4_checksum_pairs_become_typed_fields() {
    use v5::{ChecksumAlgorithm::*, ChecksumType::*};
    let file = |meta: &[(&str, &str)]| v3::File {
        inode: InodeId(3),
        size: 1,
        etag: "\"x\"".into(),
        mtime_ms: 2,
        content_type: None,
        meta: pairs(meta),
        chunk_count: 1,
        part_sizes: vec![],
    };
    let decode = |meta: &[(&str, &str)]| {
        let bytes = encode_as(4, &v4::Dentry::File(file(meta)), "test").unwrap();
        match Dentry::decode(&bytes).unwrap() {
            Dentry::File(f) => (f.meta, f.checksum),
            Dentry::Dir(_) => unreachable!(),
        }
    };
    let (meta, checksum) = decode(&[("x-amz-checksum-crc32c", "yZRlqg=="), ("x-amz-meta-k", "v")]);
    assert_eq!(meta, pairs(&[("x-amz-meta-k", "v")]));
    assert_eq!(checksum, Some(typed(Crc32c, FullObject, "yZRlqg==")));
    let (_, checksum) = decode(&[("x-amz-checksum-crc32", "ZH8r7A==-2")]);
    assert_eq!(checksum, Some(typed(Crc32, Composite, "ZH8r7A==-2")));
    // Unreadable values leave the metadata and never become a checksum.
    let (meta, checksum) = decode(&[("x-amz-checksum-sha1", "not base64!"), ("a", "b")]);
    assert_eq!((meta, checksum), (pairs(&[("a", "b")]), None));
    let (meta, checksum) = decode(&[("x-amz-checksum-sha256", "yZRlqg==")]);
    assert_eq!((meta.len(), checksum), (0, None));
    // A directory object converts the same way.
    let dir = v4::Dentry::Dir(v4::Dir {
        inode: InodeId(4),
        mtime_ms: 1,
        explicit: true,
        object: Some(v4::DirObject {
            meta: pairs(&[("x-amz-checksum-crc64nvme", "AAAAAAAAAAA=")]),
            ..v4::DirObject::default()
        }),
        bucket: None,
    });
    let Dentry::Dir(dir) = Dentry::decode(&encode_as(4, &dir, "test").unwrap()).unwrap() else {
        panic!("not a directory");
    };
    let object = dir.object.unwrap();
    assert!(object.meta.is_empty());
    assert_eq!(
        object.checksum,
        Some(typed(Crc64Nvme, FullObject, "AAAAAAAAAAA="))
    );
}

#[test]
fn version_3_uploads_and_parts_become_typed() {
    use v5::{ChecksumAlgorithm::*, ChecksumType::*};
    let upload = |algorithm: Option<&str>, kind: Option<&str>| v3::Upload {
        bucket: "b".into(),
        key: "k".into(),
        initiated_ms: 1,
        content_type: None,
        meta: vec![],
        checksum_algorithm: algorithm.map(str::to_owned),
        checksum_type: kind.map(str::to_owned),
        owner_key: None,
        state: v3::UploadState::Open,
    };
    let decode = |old: &v3::Upload| {
        let new = Upload::decode(&encode_as(3, old, "test").unwrap()).unwrap();
        (new.checksum_algorithm, new.checksum_type)
    };
    assert_eq!(
        decode(&upload(Some("CRC32C"), Some("FULL_OBJECT"))),
        (Some(Crc32c), Some(FullObject))
    );
    assert_eq!(decode(&upload(Some("SHA256"), None)), (Some(Sha256), None));
    assert_eq!(
        decode(&upload(Some("MD5X"), Some("COMPOSITE"))),
        (None, None)
    );
    assert_eq!(
        decode(&upload(Some("CRC32"), Some("SIDEWAYS"))),
        (Some(Crc32), None)
    );
    let part = |checksum: Option<&str>| v3::Part {
        size: 4,
        etag: "\"p\"".into(),
        checksum: checksum.map(str::to_owned),
        mtime_ms: 1,
        slices: vec![],
    };
    assert_eq!(
        Part::from_v3(part(Some("yZRlqg==")), Some(Crc32c)).checksum,
        Some(typed(Crc32c, FullObject, "yZRlqg=="))
    );
    assert_eq!(
        Part::from_v3(part(Some("yZRlqg==")), Some(Sha1)).checksum,
        None
    );
    assert_eq!(Part::from_v3(part(Some("???")), Some(Crc32)).checksum, None);
    // Without its upload a version 3 part decodes, without its checksum.
    let bytes = encode_as(3, &part(Some("yZRlqg==")), "test").unwrap();
    let decoded = Part::decode(&bytes).unwrap();
    assert_eq!((decoded.size, decoded.checksum.clone()), (4, None));
    assert_eq!(
        decode_v3_part(&bytes).unwrap(),
        Some(part(Some("yZRlqg==")))
    );
    assert_eq!(decode_v3_part(&decoded.encode().unwrap()).unwrap(), None);
}

#[test]
fn version_6_work_items_are_frozen() {
    let tree = DetachedTree {
        path: "/b/d".into(),
        detached_ms: 5,
        rows_done: 300,
    };
    let bytes = tree.encode().unwrap();
    // Version byte, then bincode's varints: a change of the type or the codec shows here.
    assert_eq!(bytes, [6, 4, b'/', b'b', b'/', b'd', 5, 251, 44, 1]);
    assert_eq!(DetachedTree::decode(&bytes).unwrap(), tree);
    assert!(DetachedTree::decode(&[5, 0]).is_err());
    let sweep = NodeSweep {
        after: Some(ChunkId(9)),
        queued: 2,
        started_ms: 3,
    };
    let bytes = sweep.encode().unwrap();
    assert_eq!(bytes, [6, 1, 9, 2, 3]);
    assert_eq!(NodeSweep::decode(&bytes).unwrap(), sweep);
    let fresh = NodeSweep {
        after: None,
        queued: 0,
        started_ms: 3,
    };
    assert_eq!(fresh.encode().unwrap(), [6, 0, 0, 3]);
}

#[test]
fn version_8_uploads_and_chunk_rows_round_trip_and_older_ones_decode_forward() {
    let slice = FileChunk {
        chunk: ChunkId(4),
        chunk_offset: 2,
        len: 6,
        crc32c: 9,
        chunk_len: 8,
    };
    // A chunk row with its offset; read as a bare slice too (every older reader).
    let row = ChunkRow {
        offset: 60,
        slice: slice.clone(),
    };
    let bytes = row.encode().unwrap();
    assert_eq!(bytes[0], 8);
    assert_eq!(ChunkRow::decode(&bytes).unwrap(), row);
    assert_eq!(FileChunk::decode(&bytes).unwrap(), slice);
    let stored = StoredChunkRow::decode(&bytes).unwrap();
    assert_eq!(stored.offset, Some(60));
    // A version 3 row has no offset.
    let old = StoredChunkRow::decode(&slice.encode().unwrap()).unwrap();
    assert_eq!((old.offset, old.slice), (None, slice));
    // A version 5 upload decodes as the same upload, open.
    let v5_upload = v5::Upload {
        bucket: "b".into(),
        key: "k".into(),
        initiated_ms: 1,
        content_type: None,
        meta: vec![],
        checksum_algorithm: None,
        checksum_type: None,
        owner_key: Some("AK".into()),
        state: v5::UploadState::Open,
    };
    let upload = Upload::decode(&encode_as(5, &v5_upload, "test").unwrap()).unwrap();
    assert_eq!(upload.state, UploadState::Open);
    assert_eq!(upload.owner_key.as_deref(), Some("AK"));
    // The new states round-trip.
    let completing = Upload {
        state: UploadState::Completing(Assembly {
            inode: InodeId(77),
            part_numbers: vec![1, 2],
            parts_done: 1,
            rows_done: 3,
            bytes_done: 30,
            payload: DirObject {
                etag: "\"e-2\"".into(),
                content_type: None,
                meta: vec![],
                checksum: None,
                size: 50,
                chunk_count: 5,
                part_sizes: vec![30, 20],
            },
            started_ms: 9,
        }),
        ..upload.clone()
    };
    for value in [
        completing,
        Upload {
            state: UploadState::Aborting,
            ..upload
        },
    ] {
        assert_eq!(Upload::decode(&value.encode().unwrap()).unwrap(), value);
    }
}

#[test]
fn version_9_closed_sessions_are_frozen() {
    let part = ClosedSession {
        closed_ms: 5,
        size: 2,
        etag: "e".into(),
        checksum: None,
        answer: ClosedAnswer::Part {
            part_number: 3,
            mtime_ms: 4,
        },
    };
    let bytes = part.encode().unwrap();
    // Version byte, then bincode's varints: a change of the type or the codec shows here.
    assert_eq!(bytes, [9, 5, 2, 1, b'e', 0, 1, 3, 4]);
    assert_eq!(ClosedSession::decode(&bytes).unwrap(), part);
    let object = ClosedSession {
        closed_ms: 1,
        size: 10,
        etag: "\"x\"".into(),
        checksum: Some(typed(
            v5::ChecksumAlgorithm::Crc32,
            v5::ChecksumType::FullObject,
            "AAAAAA==",
        )),
        answer: ClosedAnswer::Object {
            name: "d/".into(),
            directory: true,
            inode: InodeId(7),
            mtime_ms: 8,
            chunk_count: 1,
        },
    };
    assert_eq!(
        ClosedSession::decode(&object.encode().unwrap()).unwrap(),
        object
    );
    assert!(ClosedSession::decode(&[8, 5, 2, 1, b'e', 0, 1, 3, 4]).is_err());
}

//! Tests of the S3 additions to the namespace: buckets with owners, conditional commits,
//! directory objects, S3 deletes and copies with new metadata.

use super::{chunk_ids, code, fixture, loc, mkdir, names, put, queued, stat, Fixture};
use crate::access::AccessKeys;
use crate::store::queue::Queue;
use dfs_common::auth::ClusterSecret;
use dfs_common::names::BucketName;
use dfs_common::wire::*;
use dfs_common::{ErrorCode, RpcError};

fn access(f: &Fixture) -> AccessKeys {
    AccessKeys::new(
        f.store.clone(),
        ClusterSecret::new("0123456789abcdef0123").unwrap(),
    )
}

fn new_key(keys: &AccessKeys) -> String {
    keys.create(&KeyCreateReq { name: "t".into() })
        .unwrap()
        .key_id
}

fn create(f: &Fixture, name: &str, owner: Option<&str>) -> Result<CreateBucketResp, RpcError> {
    f.ns.create_bucket(&CreateBucketReq {
        name: BucketName::new(name).unwrap(),
        owner_key: owner.map(str::to_owned),
    })
}

fn grants(keys: &AccessKeys, key_id: &str) -> Vec<BucketGrant> {
    keys.get(&KeyGetReq {
        key_id: key_id.into(),
    })
    .unwrap()
    .grants
}

fn bucket_names(f: &Fixture, key_id: Option<&str>) -> Vec<String> {
    f.ns.list_buckets(&ListBucketsReq {
        key_id: key_id.map(str::to_owned),
    })
    .unwrap()
    .buckets
    .into_iter()
    .map(|b| b.name)
    .collect()
}

/// Commits an empty file with `etag` under the given preconditions.
fn put_if(
    f: &Fixture,
    path: &str,
    etag: &str,
    if_match: Option<&str>,
    if_none_match: bool,
) -> Result<Entry, RpcError> {
    let open = f.ns.begin_write(&BeginWriteReq {
        path: path.parse().unwrap(),
    })?;
    let result = f.ns.commit(&CommitReq {
        checksum: None,
        session: open.session,
        size: 0,
        etag: etag.into(),
        content_type: None,
        meta: vec![],
        chunks: vec![],
        if_none_match,
        if_match: if_match.map(str::to_owned),
    });
    if result.is_err() {
        // A refused commit leaves its session open for the caller to abort.
        f.ns.abort(&AbortReq {
            session: open.session,
        })
        .unwrap();
    }
    result
}

fn mkdir_object(f: &Fixture, path: &str, etag: &str) -> Result<Entry, RpcError> {
    f.ns.mkdir(&MkdirReq {
        path: path.parse().unwrap(),
        parents: false,
        object: Some(DirObject {
            checksum: None,
            etag: etag.into(),
            content_type: Some("application/x-directory".into()),
            meta: vec![("k".into(), etag.into())],
        }),
    })
}

fn delete_object(f: &Fixture, path: &str) -> Result<(), RpcError> {
    f.ns.delete(&DeleteReq {
        path: path.parse().unwrap(),
        recursive: false,
        object: true,
    })
}

#[test]
fn buckets_have_owners_and_grants() {
    let f = fixture();
    let keys = access(&f);
    let (k1, k2) = (new_key(&keys), new_key(&keys));
    let made = create(&f, "one", Some(&k1)).unwrap();
    assert!(made.created && made.owned_by_caller);
    assert_eq!(made.entry.name, "one/");
    assert_eq!(
        grants(&keys, &k1),
        [BucketGrant {
            bucket: "one".into(),
            read: true,
            write: true,
            owner: true,
        }]
    );
    let again = create(&f, "one", Some(&k1)).unwrap();
    assert!(!again.created && again.owned_by_caller);
    let other = create(&f, "one", Some(&k2)).unwrap();
    assert!(!other.created && !other.owned_by_caller);
    assert!(!create(&f, "one", None).unwrap().owned_by_caller);
    // A bucket made by mkdir: nobody owns it.
    mkdir(&f.ns, "/mkd", false).unwrap();
    assert!(create(&f, "mkd", None).unwrap().owned_by_caller);
    assert_eq!(
        code(create(&f, "two", Some("DFSNOSUCHKEY"))),
        ErrorCode::NotFound
    );
    assert_eq!(bucket_names(&f, None), ["b", "mkd", "one"]);
    // A name that is not a valid S3 bucket name cannot even be decoded.
    for bad in ["", "a/b", "x/", "/", "a\0", "Bad_Name"] {
        let body = serde_json::json!({ "name": bad, "owner_key": null });
        assert!(
            serde_json::from_value::<CreateBucketReq>(body).is_err(),
            "{bad:?}"
        );
    }

    create(&f, "two", Some(&k2)).unwrap();
    assert_eq!(bucket_names(&f, Some(&k1)), ["one"]);
    assert_eq!(bucket_names(&f, Some(&k2)), ["two"]);
    let listed =
        f.ns.list_buckets(&ListBucketsReq::default())
            .unwrap()
            .buckets;
    let one = listed.iter().find(|b| b.name == "one").unwrap();
    assert_eq!(one.owner_key.as_deref(), Some(k1.as_str()));
    assert!(listed.iter().all(|b| b.created_ms > 0));
    let unknown = f.ns.list_buckets(&ListBucketsReq {
        key_id: Some("DFSNOSUCHKEY".into()),
    });
    assert_eq!(code(unknown), ErrorCode::NotFound);
}

#[test]
fn delete_bucket_needs_an_empty_bucket_and_drops_grants() {
    let f = fixture();
    let keys = access(&f);
    let (k1, k2) = (new_key(&keys), new_key(&keys));
    create(&f, "one", Some(&k1)).unwrap();
    let del = |name: &str| {
        f.ns.delete_bucket(&DeleteBucketReq {
            name: name.parse().unwrap(),
        })
    };
    mkdir(&f.ns, "/one/d", false).unwrap();
    assert_eq!(code(del("one")), ErrorCode::NotEmpty);
    delete_object(&f, "/one/d/").unwrap();
    put(&f.ns, "/one/x/y", 0).unwrap();
    let err = del("one").unwrap_err();
    assert_eq!(err.code, ErrorCode::NotEmpty);
    assert!(err.message.contains("one"), "{err}");
    delete_object(&f, "/one/x/y").unwrap();
    del("one").unwrap();
    assert!(grants(&keys, &k1).is_empty());
    assert_eq!(code(del("one")), ErrorCode::NotFound);
    // The name is free again, and its former owner has no right on the new bucket.
    create(&f, "one", Some(&k2)).unwrap();
    assert!(grants(&keys, &k1).is_empty());
    assert_eq!(bucket_names(&f, Some(&k1)), Vec::<String>::new());
    // A bucket removed as a directory loses its grants too.
    f.ns.delete(&DeleteReq {
        path: "/one".parse().unwrap(),
        recursive: true,
        object: false,
    })
    .unwrap();
    assert!(grants(&keys, &k2).is_empty());
}

#[test]
fn renamed_buckets_keep_record_and_grants() {
    let f = fixture();
    let keys = access(&f);
    let k = new_key(&keys);
    create(&f, "old", Some(&k)).unwrap();
    let mv = |src: &str, dst: &str| {
        f.ns.rename(&RenameReq {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
        })
    };
    mv("/old", "/new").unwrap();
    assert_eq!(bucket_names(&f, Some(&k)), ["new"]);
    let info =
        f.ns.list_buckets(&ListBucketsReq::default())
            .unwrap()
            .buckets;
    assert_eq!(info[1].owner_key.as_deref(), Some(k.as_str()));
    // Moved below another bucket it is a plain (explicit) directory: the object `new/`.
    mv("/new", "/b/new").unwrap();
    assert!(grants(&keys, &k).is_empty());
    assert_eq!(stat(&f.ns, "/b/new/").unwrap().entry.etag, EMPTY_ETAG);
    mkdir_object(&f, "/b/d/", "\"p\"").unwrap();
    mv("/b/d/", "/top").unwrap();
    let top = stat(&f.ns, "/top/").unwrap().entry;
    assert!(
        top.explicit && top.etag.is_empty(),
        "buckets are not objects"
    );
}

#[test]
fn commits_check_preconditions_atomically() {
    let f = fixture();
    put_if(&f, "/b/f", "\"v1\"", None, true).unwrap();
    let failed = |r: Result<Entry, RpcError>| code(r) == ErrorCode::PreconditionFailed;
    assert!(failed(put_if(&f, "/b/f", "\"v2\"", None, true)));
    assert!(failed(put_if(&f, "/b/f", "\"v2\"", Some("\"v0\""), false)));
    assert!(failed(put_if(&f, "/b/missing", "\"v2\"", Some("*"), false)));
    assert!(failed(put_if(
        &f,
        "/b/missing",
        "\"v2\"",
        Some("\"v1\""),
        false
    )));
    assert_eq!(stat(&f.ns, "/b/f").unwrap().entry.etag, "\"v1\"");
    assert_eq!(code(stat(&f.ns, "/b/missing")), ErrorCode::NotFound);
    put_if(&f, "/b/f", "\"v2\"", Some("v1"), false).unwrap();
    put_if(&f, "/b/f", "\"v3\"", Some("\"x\", \"v2\""), false).unwrap();
    put_if(&f, "/b/f", "\"v4\"", Some("*"), false).unwrap();
    assert_eq!(stat(&f.ns, "/b/f").unwrap().entry.etag, "\"v4\"");
    // A directory of the same name is another key: it does not block If-None-Match.
    mkdir(&f.ns, "/b/d", false).unwrap();
    put_if(&f, "/b/d", "\"d\"", None, true).unwrap();
}

#[test]
fn directory_objects_carry_a_payload() {
    let f = fixture();
    let entry = mkdir_object(&f, "/b/p/q/x/", "\"one\"").unwrap();
    assert_eq!(
        (entry.name.as_str(), entry.etag.as_str()),
        ("x/", "\"one\"")
    );
    assert!(entry.explicit);
    assert_eq!(
        entry.content_type.as_deref(),
        Some("application/x-directory")
    );
    assert!(
        !stat(&f.ns, "/b/p/").unwrap().entry.explicit,
        "parents are implicit"
    );
    assert!(stat(&f.ns, "/b/p/").unwrap().entry.etag.is_empty());
    // Putting it again replaces the payload.
    let again = mkdir_object(&f, "/b/p/q/x/", "\"two\"").unwrap();
    assert_eq!(again.inode, entry.inode);
    let seen = stat(&f.ns, "/b/p/q/x/").unwrap().entry;
    assert_eq!(seen.etag, "\"two\"");
    assert_eq!(seen.meta, [("k".to_owned(), "\"two\"".to_owned())]);
    // An implicit directory becomes the object.
    put(&f.ns, "/b/i/f", 0).unwrap();
    mkdir_object(&f, "/b/i/", "\"i\"").unwrap();
    assert!(stat(&f.ns, "/b/i/").unwrap().entry.explicit);
    // mkdir makes the object `x/` with the ETag of nothing; buckets are not objects.
    assert_eq!(mkdir(&f.ns, "/b/m", false).unwrap().etag, EMPTY_ETAG);
    assert!(stat(&f.ns, "/b").unwrap().entry.etag.is_empty());
    assert_eq!(
        code(mkdir_object(&f, "/b/", "\"x\"")),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(mkdir_object(&f, "/nob/x/", "\"x\"")),
        ErrorCode::NotFound
    );
}

#[test]
fn deleting_directory_objects_keeps_children() {
    let f = fixture();
    mkdir_object(&f, "/b/p/q/x/", "\"one\"").unwrap();
    put(&f.ns, "/b/p/q/x/f", 0).unwrap();
    put(&f.ns, "/b/p/q/x", 0).unwrap();
    // `x` is only the file: the directory `x/` stays.
    delete_object(&f, "/b/p/q/x").unwrap();
    assert_eq!(code(delete_object(&f, "/b/p/q/x")), ErrorCode::NotFound);
    assert_eq!(names(&f.ns, "/b/p/q/"), ["x/"]);
    // `x/` with a child: only the payload goes.
    delete_object(&f, "/b/p/q/x/").unwrap();
    let x = stat(&f.ns, "/b/p/q/x/").unwrap().entry;
    assert!(!x.explicit && x.etag.is_empty());
    assert_eq!(names(&f.ns, "/b/p/q/x/"), ["f"]);
    // No object any more: NotFound (the gateway answers 204).
    assert_eq!(code(delete_object(&f, "/b/p/q/x/")), ErrorCode::NotFound);
    assert_eq!(code(delete_object(&f, "/b/p/")), ErrorCode::NotFound);
    assert_eq!(code(delete_object(&f, "/b/zz/")), ErrorCode::NotFound);
    // The last child goes with every implicit parent it leaves empty.
    delete_object(&f, "/b/p/q/x/f").unwrap();
    assert!(names(&f.ns, "/b").is_empty());
    // A childless explicit directory object goes, with its empty implicit parents.
    mkdir_object(&f, "/b/u/v/", "\"v\"").unwrap();
    mkdir(&f.ns, "/b/keep", false).unwrap();
    mkdir_object(&f, "/b/keep/w/", "\"w\"").unwrap();
    delete_object(&f, "/b/u/v/").unwrap();
    delete_object(&f, "/b/keep/w/").unwrap();
    assert_eq!(names(&f.ns, "/b"), ["keep/"]);
    assert_eq!(code(delete_object(&f, "/b/")), ErrorCode::InvalidArgument);
    assert_eq!(code(delete_object(&f, "/b")), ErrorCode::InvalidArgument);
}

#[test]
fn copies_replace_metadata_and_check_preconditions() {
    let f = fixture();
    put(&f.ns, "/b/src", 2).unwrap();
    let chunks = chunk_ids(&f.ns, "/b/src");
    let copy = |dst: &str, replace: Option<&str>, if_match: Option<&str>, none: bool| {
        f.ns.copy(&CopyReq {
            src: "/b/src".parse().unwrap(),
            dst: dst.parse().unwrap(),
            replace_meta: replace.map(|ct| ReplaceMeta {
                checksum: None,
                content_type: Some(ct.into()),
                meta: vec![("m".into(), ct.into())],
            }),
            if_match: if_match.map(str::to_owned),
            if_none_match: none,
            src_if_match: None,
        })
    };
    let entry = copy("/b/dst", Some("text/new"), None, true).unwrap();
    assert_eq!(entry.content_type.as_deref(), Some("text/new"));
    assert_eq!(chunk_ids(&f.ns, "/b/dst"), chunks);
    let failed = |r: Result<Entry, RpcError>| code(r) == ErrorCode::PreconditionFailed;
    assert!(failed(copy("/b/dst", None, None, true)));
    assert!(failed(copy("/b/dst", None, Some("\"other\""), false)));
    assert!(failed(copy("/b/none", None, Some("*"), false)));
    copy("/b/dst", None, Some("\"e\""), false).unwrap();
    assert_eq!(stat(&f.ns, "/b/dst").unwrap().entry.content_type, None);
    let src_check = f.ns.copy(&CopyReq {
        src: "/b/src".parse().unwrap(),
        dst: "/b/z".parse().unwrap(),
        replace_meta: None,
        if_match: None,
        if_none_match: false,
        src_if_match: Some("\"nope\"".into()),
    });
    assert!(failed(src_check));
    assert!(chunks
        .iter()
        .all(|c| loc(&f.store, *c).unwrap().refcount == 2));

    // Onto itself: same inode and chunks, new metadata and mtime, no reference change.
    let before = stat(&f.ns, "/b/src").unwrap().entry;
    let after = copy("/b/src", Some("image/png"), None, false).unwrap();
    assert_eq!(after.inode, before.inode);
    assert!(after.mtime_ms >= before.mtime_ms);
    assert_eq!(after.content_type.as_deref(), Some("image/png"));
    assert_eq!(after.meta, [("m".to_owned(), "image/png".to_owned())]);
    assert_eq!(chunk_ids(&f.ns, "/b/src"), chunks);
    assert!(chunks
        .iter()
        .all(|c| loc(&f.store, *c).unwrap().refcount == 2));
    assert!(queued(&f.store, Queue::Gc).is_empty());
}

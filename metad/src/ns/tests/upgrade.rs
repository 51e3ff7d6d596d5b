//! The upgrade of a database written before typed checksums (schema 4): the committed fixture
//! `metad/tests/fixtures/checksums-v4` was written by that code (see its README).

use super::{open_at, stat};
use crate::store::{keys, Cf, Reader};
use dfs_common::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use dfs_common::wire::*;
use std::path::Path;

/// Copies the fixture into a fresh folder (opening a RocksDB writes to it).
fn fixture_copy() -> tempfile::TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checksums-v4/db");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    for file in std::fs::read_dir(&from).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), dir.path().join("db").join(file.file_name())).unwrap();
    }
    dir
}

fn typed(algorithm: ChecksumAlgorithm, kind: ChecksumType, value: &str) -> Option<Checksum> {
    Some(Checksum::new(algorithm, kind, value).expect("a well-formed checksum"))
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The open uploads of the fixture's bucket `b`. S3 requests take only valid bucket names, so
/// the bucket is renamed `bkt` for the listing (uploads follow their bucket), then back.
fn uploads(ns: &crate::ns::Namespace) -> Vec<UploadEntry> {
    let rename = |src: &str, dst: &str| {
        ns.rename(&RenameReq {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
        })
        .unwrap()
    };
    rename("/b", "/bkt");
    let listed = ns.list_uploads(&ListUploadsReq {
        bucket: "bkt".parse().unwrap(),
        prefix: String::new(),
        delimiter: None,
        key_marker: None,
        upload_id_marker: None,
        max_uploads: 100,
    });
    rename("/bkt", "/b");
    listed.unwrap().uploads
}

fn parts(ns: &crate::ns::Namespace, upload_id: &str) -> Vec<PartInfo> {
    ns.list_parts(&ListPartsReq {
        upload_id: upload_id.into(),
        path: None,
        part_number_marker: 0,
        max_parts: 100,
    })
    .unwrap()
    .parts
}

#[test]
fn a_schema_4_database_reads_back_typed_checksums() {
    use ChecksumAlgorithm::*;
    use ChecksumType::*;
    let dir = fixture_copy();
    // Twice: the upgrade happens at the first open, the second finds it done.
    for _ in 0..2 {
        let (store, _nodes, ns) = open_at(dir.path());
        // Objects: the fake metadata pair became the typed field and left the metadata.
        let put = stat(&ns, "/b/put").unwrap().entry;
        assert_eq!(put.checksum, typed(Crc32c, FullObject, "yZRlqg=="));
        assert_eq!(
            put.meta,
            pairs(&[("cache-control", "no-cache"), ("x-amz-meta-k", "v")])
        );
        assert_eq!(stat(&ns, "/b/plain").unwrap().entry.checksum, None);
        let bad = stat(&ns, "/b/bad").unwrap().entry;
        assert_eq!(
            (bad.checksum, bad.meta),
            (None, pairs(&[("x-amz-meta-k", "v")]))
        );
        let dir_object = stat(&ns, "/b/dir/").unwrap().entry;
        assert_eq!(
            dir_object.checksum,
            typed(
                Sha256,
                FullObject,
                "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
            )
        );
        assert!(dir_object.meta.is_empty());
        let mp = stat(&ns, "/b/mp").unwrap().entry;
        assert_eq!(mp.checksum, typed(Crc32, Composite, "ZH8r7A==-2"));
        assert_eq!(mp.part_sizes, [5 << 20, 4]);
        // Uploads: typed algorithm and type; unreadable settings dropped.
        let open = uploads(&ns);
        let by_key = |key: &str| open.iter().find(|u| u.key == key).unwrap();
        let crc32c = by_key("open");
        assert_eq!(
            (crc32c.checksum_algorithm, crc32c.checksum_type),
            (Some(Crc32c), Some(FullObject))
        );
        let none = by_key("none");
        assert_eq!((none.checksum_algorithm, none.checksum_type), (None, None));
        let weird = by_key("weird");
        assert_eq!(
            (weird.checksum_algorithm, weird.checksum_type),
            (None, None)
        );
        assert!(
            open.iter().all(|u| u.key != "mp"),
            "completed uploads are not listed"
        );
        // Parts: typed with their upload's algorithm.
        let sums: Vec<Option<Checksum>> = parts(&ns, &crc32c.upload_id)
            .into_iter()
            .map(|p| p.checksum)
            .collect();
        assert_eq!(
            sums,
            [
                typed(Crc32c, FullObject, "yZRlqg=="),
                typed(Crc32c, FullObject, "AAAAAw==")
            ]
        );
        assert_eq!(parts(&ns, &none.upload_id)[0].checksum, None);
        let unreadable = &parts(&ns, &weird.upload_id)[0];
        assert_eq!((unreadable.size, unreadable.checksum.clone()), (4, None));
        // Every part and upload was rewritten in the current version (5 for parts; 8 for
        // uploads, which gained states since).
        let view = store.view();
        for (cf, version) in [(Cf::Part, 5), (Cf::Upload, 8)] {
            view.scan_raw(cf, &[], None, &mut |_, value| {
                assert_eq!(value[0], version, "{cf:?}");
                Ok(true)
            })
            .unwrap();
        }
        let schema: crate::store::values::Schema =
            view.get(Cf::Meta, keys::meta::SCHEMA).unwrap().unwrap();
        assert_eq!(schema.version, crate::store::SCHEMA_VERSION);
    }
    // A dentry is written back in the new version when touched, checksum kept.
    let (store, _nodes, ns) = open_at(dir.path());
    let copy = ns
        .copy(&CopyReq {
            src: "/b/put".parse().unwrap(),
            dst: "/b/put".parse().unwrap(),
            replace_meta: Some(ReplaceMeta {
                content_type: Some("a/b".into()),
                meta: vec![],
                checksum: stat(&ns, "/b/put").unwrap().entry.checksum,
            }),
            if_match: None,
            if_none_match: false,
            src_if_match: None,
        })
        .unwrap();
    assert_eq!(copy.checksum, typed(Crc32c, FullObject, "yZRlqg=="));
    let root = stat(&ns, "/b").unwrap().entry.inode;
    let raw = store
        .view()
        .get_raw(Cf::Dentry, &keys::dentry(root, "put"))
        .unwrap()
        .unwrap();
    assert_eq!(raw[0], 5);
}

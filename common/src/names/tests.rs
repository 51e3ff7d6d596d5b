//! The naming rules, as tables, and the serde round trip that refuses invalid names.

use super::*;

#[test]
fn bucket_names() {
    for good in [
        "abc",
        "my-bucket",
        "my.bucket.1",
        "1bucket",
        // Four numeric labels that are not all bytes are not an IP address.
        "1.2.3.456",
        &"a".repeat(63),
    ] {
        assert_eq!(BucketName::new(good).unwrap().as_str(), good);
    }
    for bad in [
        "",
        "ab",
        &"a".repeat(64),
        "My-Bucket",
        "my_bucket",
        "-bucket",
        "bucket-",
        ".bucket",
        "bucket.",
        "my..bucket",
        "192.168.5.4",
        "...",
        "a b",
        "bücket",
        "a/b",
        "xn--bucket",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
        "bucket--table-s3",
    ] {
        match BucketName::new(bad) {
            Err(NameError::BucketName { name, .. }) => assert_eq!(name, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let err = BucketName::new("My").unwrap_err();
    assert_eq!(
        err.to_string(),
        "The specified bucket is not valid: \"My\" must be 3 to 63 characters long."
    );
}

#[test]
fn keys_are_kept_verbatim() {
    for key in [
        "k", "a//b", "./x", "../x", "x/", "/", "//x", "日本", "a\nb", " ",
    ] {
        assert_eq!(ObjectKey::new(key).unwrap().as_str(), key);
    }
    assert_eq!(ObjectKey::new(""), Err(NameError::EmptyKey));
    let max = "é".repeat(MAX_KEY_BYTES / 2);
    assert!(ObjectKey::new(max).is_ok());
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    assert_eq!(
        ObjectKey::new(long),
        Err(NameError::KeyTooLong {
            len: MAX_KEY_BYTES + 1
        })
    );
    // The limit is in bytes, not characters.
    assert!(ObjectKey::new("é".repeat(MAX_KEY_BYTES / 2 + 1)).is_err());
    assert!(ObjectKey::new("x/").unwrap().names_dir());
    assert!(!ObjectKey::new("x").unwrap().names_dir());
}

#[test]
fn object_paths() {
    let cases = [
        ("/bkt/x/y.txt", "bkt", "x/y.txt"),
        ("/bkt/a//b/../c", "bkt", "a//b/../c"),
        ("/bkt//lead", "bkt", "/lead"),
        ("/bkt/dir/", "bkt", "dir/"),
    ];
    for (text, bucket, key) in cases {
        let path = ObjectPath::parse(text).unwrap();
        assert_eq!((path.bucket.as_str(), path.key.as_str()), (bucket, key));
        assert_eq!(path.to_string(), text);
        let built = ObjectPath::new(
            BucketName::new(bucket).unwrap(),
            ObjectKey::new(key).unwrap(),
        );
        assert_eq!(built, path);
    }
    for bad in ["", "/", "bkt/k", "/bkt", "/bkt/", "/BKT/k", "//k"] {
        assert!(ObjectPath::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn serde_keeps_the_string_form_and_refuses_invalid_names() {
    let path = ObjectPath::parse("/bkt/a//b").unwrap();
    let json = serde_json::to_string(&path).unwrap();
    assert_eq!(json, r#""/bkt/a//b""#);
    assert_eq!(serde_json::from_str::<ObjectPath>(&json).unwrap(), path);
    let bucket: BucketName = serde_json::from_str(r#""bkt""#).unwrap();
    assert_eq!(serde_json::to_string(&bucket).unwrap(), r#""bkt""#);
    let key: ObjectKey = serde_json::from_str(r#""./x""#).unwrap();
    assert_eq!(key.as_str(), "./x");
    assert!(serde_json::from_str::<BucketName>(r#""Bad_Name""#).is_err());
    assert!(serde_json::from_str::<ObjectKey>(r#""""#).is_err());
    let long = format!("\"{}\"", "k".repeat(MAX_KEY_BYTES + 1));
    assert!(serde_json::from_str::<ObjectKey>(&long).is_err());
    assert!(serde_json::from_str::<ObjectPath>(r#""/bkt""#).is_err());
}

/// Every short name over a small alphabet: the rules agree with a plain restatement of them.
#[test]
fn bucket_rules_exhaustively_over_a_small_alphabet() {
    let alphabet = ['a', '1', '.', '-', 'A'];
    let mut names = vec![String::new()];
    for _ in 0..4 {
        let longer: Vec<String> = names
            .iter()
            .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
            .collect();
        names.extend(longer);
    }
    names.sort();
    names.dedup();
    for name in names {
        let b = name.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let expected = (3..=63).contains(&b.len())
            && !name.contains('A')
            && edge(b[0])
            && edge(b[b.len() - 1])
            && !name.contains("..");
        assert_eq!(BucketName::new(name.as_str()).is_ok(), expected, "{name:?}");
    }
}

/// [`crate::wire::Entry::is_object`]: what a lookup found is the object only when its kind
/// fits the key's form.
#[test]
fn entries_are_objects_by_the_form_of_the_key() {
    use crate::wire::{Entry, EntryKind, EMPTY_ETAG};
    let entry = |kind, etag: &str, explicit| Entry {
        name: "x".into(),
        kind,
        inode: crate::InodeId(5),
        size: 0,
        mtime_ms: 0,
        etag: etag.into(),
        content_type: None,
        meta: vec![],
        checksum: None,
        explicit,
        chunk_count: 0,
        part_sizes: vec![],
    };
    let file = entry(EntryKind::File, "\"e\"", false);
    let dir_object = entry(EntryKind::Dir, EMPTY_ETAG, true);
    // Buckets and the root are explicit but have no ETag; implicit directories neither.
    let bucket = entry(EntryKind::Dir, "", true);
    let implicit = entry(EntryKind::Dir, "", false);
    let key = |k: &str| ObjectKey::new(k).unwrap().names_dir();
    assert!(file.is_object(key("x")));
    assert!(!file.is_object(key("x/")));
    assert!(dir_object.is_object(key("x/")));
    // Without the slash the key names a file: metad's fallback to `x/` is not this object.
    assert!(!dir_object.is_object(key("x")));
    assert!(!bucket.is_object(key("x/")));
    assert!(!implicit.is_object(key("x/")));
    assert!(!implicit.is_object(key("x")));
}

/// A wire request with a typed name keeps its JSON shape (a string) and refuses a bad name.
#[test]
fn typed_wire_names_keep_their_json_shape() {
    use crate::wire::CreateBucketReq;
    let req = CreateBucketReq {
        name: BucketName::new("photos").unwrap(),
        owner_key: None,
    };
    let json = serde_json::to_string(&req).unwrap();
    assert_eq!(json, r#"{"name":"photos","owner_key":null}"#);
    let back: CreateBucketReq = serde_json::from_str(&json).unwrap();
    assert_eq!(back.name, req.name);
    let bad = r#"{"name":"No_Such","owner_key":null}"#;
    assert!(serde_json::from_str::<CreateBucketReq>(bad).is_err());
}

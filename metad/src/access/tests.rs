//! Access-key tests on a real RocksDB in a temporary folder.

use super::*;
use crate::store::test_util::temp_store;
use crate::store::values::Dir;
use dfs_common::ErrorCode;

fn service(store: &Arc<Store>, secret: &str) -> AccessKeys {
    AccessKeys::new(store.clone(), ClusterSecret::new(secret).unwrap())
}

const CLUSTER: &str = "0123456789abcdef0123";

fn setup() -> (tempfile::TempDir, Arc<Store>, AccessKeys) {
    let (dir, store) = temp_store();
    let store = Arc::new(store);
    let keys = service(&store, CLUSTER);
    (dir, store, keys)
}

/// Makes a bare top-level directory (bucket) so that grants can name it.
fn make_bucket(store: &Store, name: &str) {
    let mut txn = store.begin();
    let dir = Dentry::Dir(Dir {
        inode: InodeId(1000 + name.len() as u64),
        mtime_ms: 1,
        explicit: true,
        object: None,
        bucket: None,
    });
    txn.put(
        Cf::Dentry,
        &keys::dentry(InodeId::ROOT, &keys::entry_name(name, true)),
        &dir,
    )
    .unwrap();
    txn.commit(true).unwrap();
}

fn get(keys: &AccessKeys, key_id: &str) -> Result<KeyGetResp, RpcError> {
    keys.get(&KeyGetReq {
        key_id: key_id.into(),
    })
}

#[test]
fn created_keys_look_like_aws_keys_and_round_trip() {
    let (_dir, _store, keys) = setup();
    let made = keys.create(&KeyCreateReq { name: "ci".into() }).unwrap();
    assert_eq!(made.key_id.len(), 20);
    assert!(made.key_id.starts_with("DFS"));
    assert!(made
        .key_id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    assert_eq!(made.secret.expose().len(), 40);
    assert!(made
        .secret
        .expose()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric()));
    let other = keys.create(&KeyCreateReq { name: "b".into() }).unwrap();
    assert_ne!(other.key_id, made.key_id);
    assert_ne!(other.secret, made.secret);

    let got = get(&keys, &made.key_id).unwrap();
    assert_eq!(
        (got.secret.expose(), got.name.as_str()),
        (made.secret.expose(), "ci")
    );
    assert!(got.grants.is_empty());
    let listed = keys.list(&KeyListReq {}).unwrap().keys;
    let mut ids: Vec<&str> = listed.iter().map(|k| k.key_id.as_str()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by id");
    ids.sort();
    let mut expected = vec![made.key_id.as_str(), other.key_id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);

    assert_eq!(code(get(&keys, "DFSNOSUCHKEY")), ErrorCode::NotFound);
    keys.delete(&KeyDeleteReq {
        key_id: made.key_id.clone(),
    })
    .unwrap();
    assert_eq!(code(get(&keys, &made.key_id)), ErrorCode::NotFound);
    let again = keys.delete(&KeyDeleteReq {
        key_id: made.key_id.clone(),
    });
    assert_eq!(code(again), ErrorCode::NotFound);
    let long = keys.create(&KeyCreateReq {
        name: "x".repeat(300),
    });
    assert_eq!(code(long), ErrorCode::InvalidArgument);
}

#[test]
fn the_secret_is_stored_sealed_and_checked() {
    let (_dir, store, keys) = setup();
    let made = keys.create(&KeyCreateReq { name: "n".into() }).unwrap();
    let raw = store
        .view()
        .get_raw(Cf::AccessKey, &keys::access_key(&made.key_id))
        .unwrap()
        .unwrap();
    assert!(
        !raw.windows(8)
            .any(|w| made.secret.expose().as_bytes().windows(8).any(|s| s == w)),
        "no piece of the secret is stored in clear"
    );
    // Another cluster secret cannot read it, and says why.
    let err = get(&service(&store, "some-other-cluster-secret"), &made.key_id).unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(err.message.contains("integrity"), "{err}");
    // A flipped bit in the stored secret is detected.
    let mut record = load(&store.view(), &made.key_id).unwrap().unwrap();
    record.sealed_secret[0] ^= 0x20;
    let mut txn = store.begin();
    txn.put(Cf::AccessKey, &keys::access_key(&made.key_id), &record)
        .unwrap();
    txn.commit(true).unwrap();
    assert_eq!(code(get(&keys, &made.key_id)), ErrorCode::Internal);
}

#[test]
fn allow_and_deny_set_and_clear_flags() {
    let (_dir, store, keys) = setup();
    let key = keys
        .create(&KeyCreateReq { name: "n".into() })
        .unwrap()
        .key_id;
    make_bucket(&store, "bbb");
    make_bucket(&store, "aaa");
    let allow = |bucket: &str, read, write, owner| {
        keys.allow(&BucketAllowReq {
            bucket: bucket.parse().unwrap(),
            key_id: key.clone(),
            read,
            write,
            owner,
        })
    };
    let deny = |bucket: &str, read, write, owner| {
        keys.deny(&BucketDenyReq {
            bucket: bucket.parse().unwrap(),
            key_id: key.clone(),
            read,
            write,
            owner,
        })
    };
    allow("bbb", true, false, false).unwrap();
    let info = allow("bbb", false, true, false).unwrap();
    assert_eq!(
        info.grants,
        [BucketGrant {
            bucket: "bbb".into(),
            read: true,
            write: true,
            owner: false,
        }]
    );
    let info = allow("aaa", false, false, true).unwrap();
    let buckets: Vec<&str> = info.grants.iter().map(|g| g.bucket.as_str()).collect();
    assert_eq!(buckets, ["aaa", "bbb"]);
    assert_eq!(code(allow("nob", true, true, true)), ErrorCode::NotFound);
    let err = keys
        .allow(&BucketAllowReq {
            bucket: "bbb".parse().unwrap(),
            key_id: "DFSNOSUCH".into(),
            read: true,
            write: false,
            owner: false,
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);

    let info = deny("bbb", true, false, false).unwrap();
    assert!(info
        .grants
        .iter()
        .any(|g| g.bucket == "bbb" && g.write && !g.read));
    let info = deny("bbb", false, true, true).unwrap();
    assert!(
        info.grants.iter().all(|g| g.bucket != "bbb"),
        "empty grants go"
    );
    // Denying on a bucket that is gone is fine (it cleans up).
    deny("nob", true, true, true).unwrap();
    assert_eq!(get(&keys, &key).unwrap().grants.len(), 1);
}

#[test]
fn bucket_grants_follow_renames_and_deletions() {
    let (_dir, store, keys) = setup();
    let k1 = keys
        .create(&KeyCreateReq { name: "1".into() })
        .unwrap()
        .key_id;
    let k2 = keys
        .create(&KeyCreateReq { name: "2".into() })
        .unwrap()
        .key_id;
    for bucket in ["bbb", "ccc"] {
        make_bucket(&store, bucket);
        for key in [&k1, &k2] {
            keys.allow(&BucketAllowReq {
                bucket: bucket.parse().unwrap(),
                key_id: key.clone(),
                read: true,
                write: false,
                owner: false,
            })
            .unwrap();
        }
    }
    let buckets = |key: &str| -> Vec<String> {
        get(&keys, key)
            .unwrap()
            .grants
            .into_iter()
            .map(|g| g.bucket)
            .collect()
    };
    let mut txn = store.begin();
    rename_bucket_grants(&mut txn, "bbb", Some("aaa")).unwrap();
    txn.commit(true).unwrap();
    assert_eq!(buckets(&k1), ["aaa", "ccc"]);
    let mut txn = store.begin();
    rename_bucket_grants(&mut txn, "aaa", Some("ccc")).unwrap();
    rename_bucket_grants(&mut txn, "ccc", Some("ccc")).unwrap();
    txn.commit(true).unwrap();
    assert_eq!(buckets(&k2), ["ccc"]);
    let mut txn = store.begin();
    drop_bucket_grants(&mut txn, "ccc").unwrap();
    txn.commit(true).unwrap();
    assert!(buckets(&k1).is_empty() && buckets(&k2).is_empty());
}

fn code<T: std::fmt::Debug>(result: Result<T, RpcError>) -> ErrorCode {
    result.unwrap_err().code
}

//! The S3-facing RPCs (access keys, buckets, directory objects, listings) through the daemon's
//! HTTP interface, and the sealed secrets across a restart.

use dfs_common::auth::ClusterSecret;
use dfs_common::http::InternalClient;
use dfs_common::names::BucketName;
use dfs_common::wire::*;
use dfs_common::ErrorCode;
use dfs_metad::{start, Config, Daemon};

const SECRET: &str = "test-secret-0123456789";

fn config(dir: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("metad"),
        secret: Some(SECRET.into()),
        ..Config::default()
    }
}

async fn call<R: Rpc>(daemon: &Daemon, req: &R) -> Result<R::Response, dfs_common::RpcError> {
    InternalClient::new(ClusterSecret::new(SECRET).unwrap())
        .call(&daemon.addr().to_string(), req)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_buckets_and_listings_over_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(config(dir.path())).await.unwrap();
    let key = call(&daemon, &KeyCreateReq { name: "ci".into() })
        .await
        .unwrap();
    let made = call(
        &daemon,
        &CreateBucketReq {
            name: BucketName::new("pics").unwrap(),
            owner_key: Some(key.key_id.clone()),
        },
    )
    .await
    .unwrap();
    assert!(made.created);
    let dir_object = MkdirReq {
        path: "/pics/2024/".parse().unwrap(),
        parents: false,
        object: Some(DirObject {
            checksum: None,
            etag: EMPTY_ETAG.into(),
            content_type: None,
            meta: vec![],
        }),
    };
    call(&daemon, &dir_object).await.unwrap();
    let page = call(
        &daemon,
        &ListObjectsReq {
            bucket: "pics".parse().unwrap(),
            prefix: String::new(),
            delimiter: Some("/".into()),
            start_after: None,
            max_keys: 1000,
        },
    )
    .await
    .unwrap();
    assert_eq!(page.common_prefixes, ["2024/"]);
    let mine = call(
        &daemon,
        &ListBucketsReq {
            key_id: Some(key.key_id.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(mine.buckets[0].name, "pics");
    let busy = call(
        &daemon,
        &DeleteBucketReq {
            name: "pics".parse().unwrap(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(busy.code, ErrorCode::NotEmpty);
    let other = call(&daemon, &KeyCreateReq { name: "ro".into() })
        .await
        .unwrap();
    let info = call(
        &daemon,
        &BucketAllowReq {
            bucket: "pics".parse().unwrap(),
            key_id: other.key_id.clone(),
            read: true,
            write: false,
            owner: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(info.grants.len(), 1);
    let info = call(
        &daemon,
        &BucketDenyReq {
            bucket: "pics".parse().unwrap(),
            key_id: other.key_id.clone(),
            read: true,
            write: false,
            owner: false,
        },
    )
    .await
    .unwrap();
    assert!(info.grants.is_empty());
    call(
        &daemon,
        &KeyDeleteReq {
            key_id: other.key_id.clone(),
        },
    )
    .await
    .unwrap();
    let listed = call(&daemon, &KeyListReq {}).await.unwrap();
    assert_eq!(listed.keys.len(), 1);
    daemon.stop().await;

    // The secret is still readable after a restart with the same cluster secret.
    let daemon = start(config(dir.path())).await.unwrap();
    let got = call(
        &daemon,
        &KeyGetReq {
            key_id: key.key_id.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(got.secret, key.secret);
    assert_eq!(got.grants[0].bucket, "pics");
    call(
        &daemon,
        &DeleteReq {
            path: "/pics/2024/".parse().unwrap(),
            recursive: false,
            object: true,
        },
    )
    .await
    .unwrap();
    call(
        &daemon,
        &DeleteBucketReq {
            name: "pics".parse().unwrap(),
        },
    )
    .await
    .unwrap();
    let gone = call(
        &daemon,
        &KeyGetReq {
            key_id: "DFSNOSUCHKEY".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(gone.code, ErrorCode::NotFound);
    daemon.stop().await;
}

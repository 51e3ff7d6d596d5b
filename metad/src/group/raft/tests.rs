//! The fail-stop of a member whose log append failed (issue 9, item 6), on a real metad of one
//! with its RPC server, the failure injected where the log's fsync is.

use super::log_store::faults;
use crate::{start, Config};
use dfs_common::auth::ClusterSecret;
use dfs_common::http::{empty, read_body, InternalClient};
use dfs_common::wire::{DeleteReq, MkdirReq, StatReq};
use dfs_common::{ErrorCode, RpcError};
use http::{Method, StatusCode};
use std::time::Duration;

const SECRET: &str = "test-secret-0123456789";

fn client() -> InternalClient {
    InternalClient::new(ClusterSecret::new(SECRET).unwrap())
}

async fn mkdir(addr: &str, path: &str) -> Result<(), RpcError> {
    let req = MkdirReq {
        path: path.parse().unwrap(),
        parents: false,
        object: None,
    };
    client().call(addr, &req).await.map(|_| ())
}

async fn stat(addr: &str, path: &str) -> Result<(), RpcError> {
    let req = StatReq::entry(path.parse().unwrap());
    client().call(addr, &req).await.map(|_| ())
}

/// `/health/ready`: its status and body.
async fn ready(addr: &str) -> (StatusCode, String) {
    let resp = client()
        .send(Method::GET, addr, "/health/ready", "-", empty())
        .await
        .unwrap();
    let status = resp.status();
    let body = read_body(resp.into_body(), 64 * 1024).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A log append fails as a failed fsync does: the write fails, and the member then
/// acknowledges nothing and reports not ready even once appends work again (it cannot know
/// what the failed write left on disk), until a restart recovers from what is durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_log_append_stops_the_member_until_it_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("metad"),
        secret: Some(SECRET.into()),
        ..Config::default()
    };
    let daemon = start(config()).await.unwrap();
    let addr = daemon.addr().to_string();
    mkdir(&addr, "/b").await.unwrap();

    faults::fail_appends_under(&config().data_dir, true);
    assert!(mkdir(&addr, "/b/x").await.is_err());
    faults::fail_appends_under(&config().data_dir, false);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        let (status, body) = ready(&addr).await;
        if status != StatusCode::OK || tokio::time::Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("stopped after a storage failure"), "{body}");
    let err = mkdir(&addr, "/b/y").await.unwrap_err();
    assert!(
        err.message.contains("stopped after a storage failure"),
        "{err}"
    );

    daemon.stop().await;
    let daemon = start(config()).await.unwrap();
    let addr = daemon.addr().to_string();
    assert_eq!(ready(&addr).await.0, StatusCode::OK);
    mkdir(&addr, "/b/y").await.unwrap();
    assert!(stat(&addr, "/b/y").await.is_ok());
    assert_eq!(
        stat(&addr, "/b/x").await.unwrap_err().code,
        ErrorCode::NotFound
    );
    daemon.stop().await;
}

async fn delete(addr: &str, path: &str) -> Result<(), RpcError> {
    let req = DeleteReq {
        path: path.parse().unwrap(),
        recursive: false,
        object: false,
    };
    client().call(addr, &req).await.map(|_| ())
}

/// An answer that rests on a write not yet durable waits for it (issue 9, item 9): while the
/// log append of a delete stalls, a second delete of the same path, which finds nothing to
/// delete in the pending state, is not answered (a crash now would bring the path back, so
/// "not found" would be a lie); once the append is durable both are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_resting_on_a_pending_write_waits_until_it_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("metad");
    let daemon = start(Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.clone(),
        secret: Some(SECRET.into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let addr = daemon.addr().to_string();
    mkdir(&addr, "/b").await.unwrap();
    mkdir(&addr, "/b/d").await.unwrap();

    faults::stall_appends_under(&data_dir, true);
    // Released on every way out, a failed assertion included: a stalled log never ends.
    struct Release<'a>(&'a std::path::Path);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            faults::stall_appends_under(self.0, false);
        }
    }
    let release = Release(&data_dir);
    let first = tokio::spawn({
        let addr = addr.clone();
        async move { delete(&addr, "/b/d").await }
    });
    // The first delete is evaluated (its batch pending) before the second is sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = tokio::spawn({
        let addr = addr.clone();
        async move { delete(&addr, "/b/d").await }
    });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut second).await;
    assert!(
        early.is_err(),
        "answered before the delete it rests on was durable: {early:?}"
    );
    assert!(!first.is_finished());

    drop(release);
    first.await.unwrap().unwrap();
    let err = second.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err}");
    daemon.stop().await;
}

/// An RPC whose body stops coming is answered 503 after the body timeout (1 s in tests) rather
/// than holding its connection and task forever (issue 9, item 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_whose_body_stalls_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("metad"),
        secret: Some(SECRET.into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let addr = daemon.addr().to_string();
    let path = "/rpc/stat";
    let time = dfs_common::auth::unix_now();
    let content = "0".repeat(64);
    let signature = ClusterSecret::new(SECRET)
        .unwrap()
        .sign("POST", path, time, &content);
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 100\r\n{}: {time}\r\n{}: {content}\r\n{}: {signature}\r\n\r\n{{\"path\":",
        dfs_common::auth::TIME_HEADER,
        dfs_common::auth::CONTENT_HEADER,
        dfs_common::auth::SIGNATURE_HEADER,
    );
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("did not arrive"), "{answer}");
    daemon.stop().await;
}

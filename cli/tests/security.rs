//! Daemons refuse requests that do not carry a valid cluster signature.

use dfs_common::auth::ClusterSecret;
use dfs_common::http::{empty, InternalClient};
use dfs_common::wire::StatusReq;
use dfs_common::ErrorCode;
use dfs_testkit::{Cluster, ClusterOptions};
use std::io::{Read, Write};

/// Sends a bare HTTP/1.1 request without signature headers and returns the status line.
fn unsigned_request(addr: &str, request_line: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = format!(
        "{request_line}\r\nHost: {addr}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_wrongly_signed_requests_are_refused() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 2,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let status = unsigned_request(cluster.metad_addr(), "POST /rpc/status HTTP/1.1");
    assert!(status.contains(" 401 "), "metad: {status}");
    let status = unsigned_request(cluster.metad_addr(), "POST /rpc/delete HTTP/1.1");
    assert!(status.contains(" 401 "), "metad: {status}");
    let status = unsigned_request(
        cluster.chunkd_addr(0),
        "GET /chunk/0000000000000001 HTTP/1.1",
    );
    assert!(status.contains(" 401 "), "chunkd: {status}");
    let status = unsigned_request(
        cluster.chunkd_addr(0),
        "DELETE /chunk/0000000000000001 HTTP/1.1",
    );
    assert!(status.contains(" 401 "), "chunkd: {status}");

    let impostor = InternalClient::new(ClusterSecret::new("not-the-cluster-secret").unwrap());
    let err = impostor
        .call(cluster.metad_addr(), &StatusReq {})
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    let err = impostor
        .send_ok(
            http::Method::GET,
            cluster.chunkd_addr(1),
            "/chunks",
            "-",
            empty(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);

    // The real secret works, so the refusals above are about the signature.
    assert!(cluster.client().status().await.is_ok());
}

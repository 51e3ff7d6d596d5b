//! Tests against a real chunkd on 127.0.0.1:0 with real files in temp folders. metad is an
//! address nothing listens on (registration just keeps retrying), or a small fake in
//! `cluster.rs`.

mod cluster;
mod faults;
mod store;

use crate::{start, Config, Daemon};
use bytes::Bytes;
use dfs_common::auth::{self, ClusterSecret};
use dfs_common::checksum::{crc32c, crc_to_hex, BLOCK_SIZE};
use dfs_common::wire::ChunkPutResp;
use dfs_common::{ChunkId, ErrorCode, RpcError};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

pub(crate) const SECRET: &str = "chunkd-test-secret-0123456789";
/// Nothing listens on port 1 of loopback: connections are refused at once.
pub(crate) const NO_METAD: &str = "127.0.0.1:1";

/// A config for a test node.
pub(crate) fn config(data: &Path, metad: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data.to_owned(),
        metad: metad.into(),
        secret: Some(SECRET.into()),
        capacity: Some(1 << 30),
        scrub_interval_secs: 0,
        ..Config::default()
    }
}

#[test]
fn debug_hides_the_secret() {
    let config = config(Path::new("/tmp/x"), NO_METAD);
    let text = format!("{config:?} {config:#?}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    // The TOML shape is a plain string.
    let parsed: Config = toml::from_str(&format!("secret = \"{SECRET}\"")).unwrap();
    assert_eq!(parsed.secret.unwrap().expose(), SECRET);
}

/// A started chunkd and its data folder.
pub(crate) struct TestNode {
    pub daemon: Daemon,
    pub dir: TempDir,
}

impl TestNode {
    pub async fn start() -> TestNode {
        let dir = TempDir::new().unwrap();
        let daemon = start(config(dir.path(), NO_METAD)).await.unwrap();
        TestNode { daemon, dir }
    }

    pub fn addr(&self) -> String {
        self.daemon.addr().to_string()
    }

    pub fn chunk_file(&self, id: ChunkId) -> PathBuf {
        let name = id.to_string();
        let folder = crate::layout::folder_of(&name);
        self.dir.path().join("chunks").join(folder).join(&name)
    }

    pub fn quarantined(&self) -> Vec<String> {
        names(&self.dir.path().join("quarantine"))
    }
}

/// File names in a folder, sorted.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An answer as the tests look at it.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, or the error that cut it.
    pub body: Result<Bytes, String>,
}

impl Answer {
    pub fn bytes(&self) -> &Bytes {
        self.body.as_ref().expect("body")
    }

    pub fn error(&self) -> RpcError {
        serde_json::from_slice(self.bytes()).expect("an RpcError body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request with exactly the given headers (no signature added).
pub(crate) async fn raw(
    method: Method,
    addr: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Bytes,
) -> Answer {
    raw_body(method, addr, path, headers, Full::new(body)).await
}

/// Like [`raw`] with any body type.
pub(crate) async fn raw_body<B>(
    method: Method,
    addr: &str,
    path: &str,
    headers: &[(&str, String)],
    body: B,
) -> Answer
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let client = Client::builder(TokioExecutor::new()).build_http::<B>();
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = client.request(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string());
    Answer {
        status,
        headers,
        body,
    }
}

/// The three signing headers for a request signed with `secret` at `time`.
pub(crate) fn signing_headers(
    secret: &str,
    method: &Method,
    path: &str,
    time: u64,
    content: &str,
) -> Vec<(&'static str, String)> {
    let secret = ClusterSecret::new(secret).unwrap();
    vec![
        (auth::TIME_HEADER, time.to_string()),
        (auth::CONTENT_HEADER, content.to_string()),
        (
            auth::SIGNATURE_HEADER,
            secret.sign(method.as_str(), path, time, content),
        ),
    ]
}

/// A request signed with the cluster secret, plus `extra` headers.
pub(crate) async fn signed(
    method: Method,
    addr: &str,
    path: &str,
    content: &str,
    extra: &[(&str, String)],
    body: Bytes,
) -> Answer {
    let mut headers = signing_headers(SECRET, &method, path, auth::unix_now(), content);
    headers.extend(extra.iter().map(|(n, v)| (*n, v.clone())));
    let headers: Vec<(&str, String)> = headers.into_iter().collect();
    raw(method, addr, path, &headers, body).await
}

pub(crate) async fn put(addr: &str, id: ChunkId, data: &[u8]) -> Answer {
    let content = format!("crc32c={}", crc_to_hex(crc32c(data)));
    let path = format!("/chunk/{id}");
    signed(
        Method::PUT,
        addr,
        &path,
        &content,
        &[],
        Bytes::copy_from_slice(data),
    )
    .await
}

pub(crate) async fn get(addr: &str, id: ChunkId, range: Option<&str>) -> Answer {
    let extra: Vec<(&str, String)> = range
        .map(|r| ("range", r.to_string()))
        .into_iter()
        .collect();
    signed(
        Method::GET,
        addr,
        &format!("/chunk/{id}"),
        "-",
        &extra,
        Bytes::new(),
    )
    .await
}

pub(crate) async fn list(addr: &str) -> Vec<ChunkId> {
    let answer = signed(Method::GET, addr, "/chunks", "-", &[], Bytes::new()).await;
    assert_eq!(answer.status, StatusCode::OK);
    serde_json::from_slice(answer.bytes()).unwrap()
}

/// Deterministic test data.
pub(crate) fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// Polls `cond` until it holds; panics after 20 s (a bound, not a timing assertion).
pub(crate) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Flips one bit of a file at `offset`.
pub(crate) fn flip_bit(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 0x04;
    file.write_all_at(&byte, offset).unwrap();
}

#[tokio::test]
async fn put_get_round_trip_of_many_sizes() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let sizes = [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 3 << 20];
    for (i, &len) in sizes.iter().enumerate() {
        let id = ChunkId(0x100 + i as u64);
        let bytes = data(len, i as u8);
        let answer = put(&addr, id, &bytes).await;
        assert_eq!(answer.status, StatusCode::CREATED, "len {len}");
        let ack: ChunkPutResp = serde_json::from_slice(answer.bytes()).unwrap();
        assert_eq!((ack.len, ack.crc32c), (len as u64, crc32c(&bytes)));
        let answer = get(&addr, id, None).await;
        assert_eq!(answer.status, StatusCode::OK, "len {len}");
        assert_eq!(answer.bytes().as_ref(), bytes.as_slice(), "len {len}");
        assert_eq!(
            answer.header("content-length"),
            Some(len.to_string().as_str())
        );
        let crc = format!("crc32c={}", crc_to_hex(crc32c(&bytes)));
        assert_eq!(answer.header(auth::CONTENT_HEADER), Some(crc.as_str()));
        // Replication may resend a chunk: same content is accepted again.
        assert_eq!(
            put(&addr, id, &bytes).await.status,
            StatusCode::OK,
            "len {len}"
        );
    }
    let expected: Vec<ChunkId> = (0..sizes.len() as u64)
        .map(|i| ChunkId(0x100 + i))
        .collect();
    assert_eq!(list(&addr).await, expected);
    assert!(names(&node.dir.path().join("tmp")).is_empty());
    let file_bytes: u64 = expected
        .iter()
        .map(|id| std::fs::metadata(node.chunk_file(*id)).unwrap().len())
        .sum();
    assert_eq!(node.daemon.node.store.used(), file_bytes);
    node.daemon.stop().await;
}

#[tokio::test]
async fn ranged_gets() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let len = 3 * BLOCK_SIZE + 17;
    let bytes = data(len, 7);
    let id = ChunkId(42);
    assert_eq!(put(&addr, id, &bytes).await.status, StatusCode::CREATED);
    let b = BLOCK_SIZE;
    let cases: Vec<(String, usize, usize)> = vec![
        ("bytes=0-0".into(), 0, 1),
        (format!("bytes={}-{}", len - 1, len - 1), len - 1, len),
        (format!("bytes={}-{}", b - 10, b + 10), b - 10, b + 11),
        (format!("bytes={}-{}", b - 1, 3 * b), b - 1, 3 * b + 1),
        ("bytes=-5".into(), len - 5, len),
        (format!("bytes={}-", 2 * b + 3), 2 * b + 3, len),
        ("bytes=100-".into(), 100, len),
        (format!("bytes=0-{}", len + 100), 0, len),
        (format!("bytes=-{}", len + 5), 0, len),
        (format!("bytes={b}-{}", 2 * b - 1), b, 2 * b),
    ];
    for (range, start, end) in cases {
        let answer = get(&addr, id, Some(&range)).await;
        assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(answer.bytes().as_ref(), &bytes[start..end], "{range}");
        let content_range = format!("bytes {start}-{}/{len}", end - 1);
        assert_eq!(
            answer.header("content-range"),
            Some(content_range.as_str()),
            "{range}"
        );
    }
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 1, len + 9),
        "bytes=-0".into(),
    ] {
        let answer = get(&addr, id, Some(&range)).await;
        assert_eq!(answer.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        let unsatisfied = format!("bytes */{len}");
        assert_eq!(answer.header("content-range"), Some(unsatisfied.as_str()));
    }
    let answer = get(&addr, id, Some("bytes=5-2")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    // Any range of an empty chunk is unsatisfiable.
    assert_eq!(
        put(&addr, ChunkId(43), b"").await.status,
        StatusCode::CREATED
    );
    let answer = get(&addr, ChunkId(43), Some("bytes=0-")).await;
    assert_eq!(answer.status, StatusCode::RANGE_NOT_SATISFIABLE);
    node.daemon.stop().await;
}

#[tokio::test]
async fn delete_and_missing_chunks() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let id = ChunkId(9);
    assert_eq!(put(&addr, id, b"hello").await.status, StatusCode::CREATED);
    let path = format!("/chunk/{id}");
    for _ in 0..2 {
        let answer = signed(Method::DELETE, &addr, &path, "-", &[], Bytes::new()).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    let answer = get(&addr, id, None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.error().code, ErrorCode::NotFound);
    assert!(list(&addr).await.is_empty());
    assert_eq!(node.daemon.node.store.used(), 0);
    node.daemon.stop().await;
}

#[tokio::test]
async fn same_id_with_other_content_is_a_conflict() {
    let node = TestNode::start().await;
    let addr = node.addr();
    assert_eq!(
        put(&addr, ChunkId(5), b"first").await.status,
        StatusCode::CREATED
    );
    let answer = put(&addr, ChunkId(5), b"second").await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        get(&addr, ChunkId(5), None).await.bytes().as_ref(),
        b"first"
    );
    assert!(names(&node.dir.path().join("tmp")).is_empty());
    node.daemon.stop().await;
}

//! Bad requests, bad signatures, corrupt files.

use super::*;
use crate::format::{Header, HEADER_LEN};
use crate::store::{Piece, StoreError};
use hyper::body::Frame;
use std::pin::Pin;
use std::task::{Context, Poll};

#[tokio::test]
async fn checksum_mismatch_on_put_stores_nothing() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let id = ChunkId(1);
    let content = format!("crc32c={}", crc_to_hex(crc32c(b"other data")));
    let answer = signed(
        Method::PUT,
        &addr,
        &format!("/chunk/{id}"),
        &content,
        &[],
        Bytes::from_static(b"the data"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.error().code, ErrorCode::ChecksumMismatch);
    assert_eq!(get(&addr, id, None).await.status, StatusCode::NOT_FOUND);
    assert!(list(&addr).await.is_empty());
    assert!(names(&node.dir.path().join("tmp")).is_empty());
    assert!(!node.chunk_file(id).exists());
    node.daemon.stop().await;
}

/// A test body: one piece, then the end, or nothing more for ever with `declared` set (a
/// client that vanished mid-body). Without `declared` its length is unknown, so it goes with
/// chunked transfer encoding; with it, a Content-Length of that many bytes.
struct OnePiece {
    piece: Option<Bytes>,
    declared: Option<u64>,
}

impl hyper::body::Body for OnePiece {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match (self.piece.take(), self.declared) {
            (Some(piece), _) => Poll::Ready(Some(Ok(Frame::data(piece)))),
            (None, Some(_)) => Poll::Pending,
            (None, None) => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self.declared {
            Some(len) => hyper::body::SizeHint::with_exact(len),
            None => hyper::body::SizeHint::default(),
        }
    }
}

/// A PUT whose body stops coming is given up after the idle timeout (1 s in tests): it is
/// answered, and leaves no temp file and no chunk (issue 9, item 2).
#[tokio::test]
async fn a_stalled_put_body_is_given_up_and_leaves_nothing() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let path = "/chunk/0000000000000005";
    let data = vec![7u8; 4096];
    let content = format!("crc32c={}", crc_to_hex(crc32c(&data)));
    let headers = signing_headers(SECRET, &Method::PUT, path, auth::unix_now(), &content);
    let body = OnePiece {
        piece: Some(Bytes::copy_from_slice(&data[..100])),
        declared: Some(data.len() as u64),
    };
    let answer = raw_body(Method::PUT, &addr, path, &headers, body).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer.error().message.contains("brought no data"),
        "{}",
        answer.error()
    );
    assert!(names(&node.dir.path().join("tmp")).is_empty());
    assert!(list(&addr).await.is_empty());
    node.daemon.stop().await;
}

#[tokio::test]
async fn put_needs_checksum_and_length() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let path = "/chunk/0000000000000001";
    let answer = signed(Method::PUT, &addr, path, "-", &[], Bytes::from_static(b"x")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let content = format!("crc32c={}", crc_to_hex(crc32c(b"abc")));
    let headers = signing_headers(SECRET, &Method::PUT, path, auth::unix_now(), &content);
    let body = OnePiece {
        piece: Some(Bytes::from_static(b"abc")),
        declared: None,
    };
    let answer = raw_body(Method::PUT, &addr, path, &headers, body).await;
    assert_eq!(answer.status, StatusCode::LENGTH_REQUIRED);
    assert!(list(&addr).await.is_empty());
    node.daemon.stop().await;
}

#[tokio::test]
async fn aborted_or_overlong_writes_leave_nothing() {
    let dir = TempDir::new().unwrap();
    let store = crate::store::Store::open(dir.path()).unwrap();
    let crc = crc32c(b"abcdef");
    let mut pieces = vec![Piece::Data(Bytes::from_static(b"abc"))].into_iter();
    let err = store
        .write_chunk(ChunkId(1), 6, crc, || pieces.next())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::LengthMismatch { got: 3, .. }),
        "{err}"
    );
    let mut pieces = vec![Piece::Data(Bytes::from_static(b"abcdefg")), Piece::End].into_iter();
    let err = store
        .write_chunk(ChunkId(1), 6, crc, || pieces.next())
        .unwrap_err();
    assert!(matches!(err, StoreError::LengthMismatch { .. }), "{err}");
    assert!(names(&dir.path().join("tmp")).is_empty());
    assert!(store.list().is_empty());
}

#[tokio::test]
async fn corrupt_first_block_fails_with_corrupt_and_quarantines() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let id = ChunkId(0xc0ffee);
    let bytes = data(3 * BLOCK_SIZE, 1);
    assert_eq!(put(&addr, id, &bytes).await.status, StatusCode::CREATED);
    flip_bit(&node.chunk_file(id), HEADER_LEN + 10);
    let answer = get(&addr, id, None).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.error().code, ErrorCode::Corrupt);
    assert!(!node.chunk_file(id).exists());
    assert_eq!(node.quarantined().len(), 1);
    assert!(node.quarantined()[0].starts_with(&id.to_string()));
    assert!(list(&addr).await.is_empty());
    assert_eq!(node.daemon.node.store.used(), 0);
    // Gone from this node now: metad is told and repairs from another replica.
    assert_eq!(get(&addr, id, None).await.status, StatusCode::NOT_FOUND);
    node.daemon.stop().await;
}

#[tokio::test]
async fn corrupt_header_fails_with_corrupt() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let id = ChunkId(3);
    assert_eq!(
        put(&addr, id, b"some bytes").await.status,
        StatusCode::CREATED
    );
    flip_bit(&node.chunk_file(id), 13);
    let answer = get(&addr, id, Some("bytes=0-1")).await;
    assert_eq!(answer.error().code, ErrorCode::Corrupt);
    assert_eq!(node.quarantined().len(), 1);
    node.daemon.stop().await;
}

#[tokio::test]
async fn corruption_found_while_streaming_cuts_the_body() {
    let node = TestNode::start().await;
    let addr = node.addr();
    let id = ChunkId(0xbad);
    let bytes = data(3 << 20, 2);
    assert_eq!(put(&addr, id, &bytes).await.status, StatusCode::CREATED);
    flip_bit(
        &node.chunk_file(id),
        HEADER_LEN + 40 * BLOCK_SIZE as u64 + 5,
    );
    // Only the blocks a range touches are read: the start of the chunk is still served.
    let answer = get(&addr, id, Some("bytes=0-99")).await;
    assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(answer.bytes().as_ref(), &bytes[..100]);
    let answer = get(&addr, id, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.body.is_err(),
        "a corrupt block must cut the body, not end it cleanly"
    );
    let file = node.chunk_file(id);
    wait_until("quarantine", || !file.exists()).await;
    assert_eq!(node.quarantined().len(), 1);
    node.daemon.stop().await;
}

#[tokio::test]
async fn scrub_finds_corruption() {
    let node = TestNode::start().await;
    let addr = node.addr();
    for (i, len) in [
        (10u64, 5 * BLOCK_SIZE),
        (11, 2 * BLOCK_SIZE + 3),
        (12, 100),
        (13, 0),
        (14, 7),
    ] {
        let bytes = data(len, i as u8);
        assert_eq!(
            put(&addr, ChunkId(i), &bytes).await.status,
            StatusCode::CREATED
        );
    }
    // A flipped data bit in 11; in 14 a header whose own CRC is right but whose whole-data CRC
    // is not (only the whole-data check can see that).
    flip_bit(
        &node.chunk_file(ChunkId(11)),
        HEADER_LEN + 2 * BLOCK_SIZE as u64 + 2,
    );
    let forged = Header {
        data_len: 7,
        block_size: BLOCK_SIZE as u32,
        crc32c: 0x1234_5678,
    };
    std::fs::OpenOptions::new()
        .write(true)
        .open(node.chunk_file(ChunkId(14)))
        .and_then(|f| std::os::unix::fs::FileExt::write_all_at(&f, &forged.encode(), 0))
        .unwrap();
    let (_stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let found = crate::scrub::pass(&node.daemon.node, Duration::ZERO, &mut stop_rx).await;
    assert_eq!(found, Some(2));
    assert_eq!(
        list(&addr).await,
        vec![ChunkId(10), ChunkId(12), ChunkId(13)]
    );
    assert_eq!(node.quarantined().len(), 2);
    let found = crate::scrub::pass(&node.daemon.node, Duration::ZERO, &mut stop_rx).await;
    assert_eq!(found, Some(0));
    node.daemon.stop().await;
}

/// A chunk file deleted or truncated behind chunkd's back is lost, not "not held": a read
/// answers Corrupt, and the scrub and the inventory pass find it; each is quarantined (dropped
/// from the list) and reported, so metad copies it again from another replica.
#[tokio::test]
async fn missing_and_truncated_chunk_files_are_found() {
    let node = TestNode::start().await;
    let addr = node.addr();
    for id in 20..=24 {
        let bytes = data(3 * BLOCK_SIZE, id as u8);
        assert_eq!(
            put(&addr, ChunkId(id), &bytes).await.status,
            StatusCode::CREATED
        );
    }
    // A read finds a deleted file.
    std::fs::remove_file(node.chunk_file(ChunkId(20))).unwrap();
    let answer = get(&addr, ChunkId(20), None).await;
    assert_eq!(
        answer.error().code,
        ErrorCode::Corrupt,
        "{:?}",
        answer.error()
    );
    // The inventory pass (a stat each) finds a deleted and a truncated file.
    std::fs::remove_file(node.chunk_file(ChunkId(21))).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(node.chunk_file(ChunkId(22)))
        .and_then(|f| f.set_len(HEADER_LEN + 10))
        .unwrap();
    assert_eq!(crate::inventory::pass(&node.daemon.node), 2);
    // The scrub finds a deleted file too.
    std::fs::remove_file(node.chunk_file(ChunkId(23))).unwrap();
    let (_stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let found = crate::scrub::pass(&node.daemon.node, Duration::ZERO, &mut stop_rx).await;
    assert_eq!(found, Some(1));
    assert_eq!(list(&addr).await, vec![ChunkId(24)]);
    assert_eq!(crate::inventory::pass(&node.daemon.node), 0);
    // The truncated file was moved to the quarantine; a chunk never held is still not found.
    assert_eq!(node.quarantined().len(), 1);
    let answer = get(&addr, ChunkId(99), None).await;
    assert_eq!(answer.error().code, ErrorCode::NotFound);
    node.daemon.stop().await;
}

#[tokio::test]
async fn background_scrub_runs() {
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path(), NO_METAD);
    config.scrub_interval_secs = 1;
    let node = TestNode {
        daemon: start(config).await.unwrap(),
        dir,
    };
    let id = ChunkId(77);
    assert_eq!(
        put(&node.addr(), id, &data(1000, 3)).await.status,
        StatusCode::CREATED
    );
    flip_bit(&node.chunk_file(id), HEADER_LEN + 999);
    let file = node.chunk_file(id);
    wait_until("the scrub to quarantine the chunk", || !file.exists()).await;
    let metrics = raw(Method::GET, &node.addr(), "/metrics", &[], Bytes::new()).await;
    let text = String::from_utf8_lossy(metrics.bytes()).into_owned();
    assert!(text.contains("dfs_chunkd_scrub_errors_total 1"), "{text}");
    assert!(
        text.contains("dfs_chunkd_scrubbed_chunks_total 1"),
        "{text}"
    );
    node.daemon.stop().await;
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_are_refused() {
    let node = TestNode::start().await;
    let addr = node.addr();
    assert_eq!(
        put(&addr, ChunkId(1), b"abc").await.status,
        StatusCode::CREATED
    );
    let path = "/chunk/0000000000000001";
    let get_method = Method::GET;
    let now = auth::unix_now();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("unsigned", vec![]),
        (
            "wrong secret",
            signing_headers("another-secret-0123456789", &get_method, path, now, "-"),
        ),
        (
            "stale",
            signing_headers(
                SECRET,
                &get_method,
                path,
                now - 2 * auth::MAX_SKEW_SECS,
                "-",
            ),
        ),
        (
            "future",
            signing_headers(
                SECRET,
                &get_method,
                path,
                now + 2 * auth::MAX_SKEW_SECS,
                "-",
            ),
        ),
        (
            "other path",
            signing_headers(SECRET, &get_method, "/chunk/0000000000000002", now, "-"),
        ),
        (
            "other method",
            signing_headers(SECRET, &Method::DELETE, path, now, "-"),
        ),
    ];
    for (what, headers) in cases {
        let answer = raw(Method::GET, &addr, path, &headers, Bytes::new()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(answer.error().code, ErrorCode::Unauthorized, "{what}");
    }
    for path in [
        "/chunks",
        "/replicate/0000000000000001?to=127.0.0.1:9",
        "/nothing",
    ] {
        let answer = raw(Method::POST, &addr, path, &[], Bytes::new()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // A PUT whose checksum header was swapped after signing.
    let put_path = "/chunk/0000000000000002";
    let mut headers = signing_headers(SECRET, &Method::PUT, put_path, now, "crc32c=00000000");
    headers[1].1 = format!("crc32c={}", crc_to_hex(crc32c(b"x")));
    let answer = raw(
        Method::PUT,
        &addr,
        put_path,
        &headers,
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // The data is untouched; the probes need no signature.
    assert_eq!(get(&addr, ChunkId(1), None).await.bytes().as_ref(), b"abc");
    for probe in ["/health/live", "/metrics"] {
        let answer = raw(Method::GET, &addr, probe, &[], Bytes::new()).await;
        assert_eq!(answer.status, StatusCode::OK, "{probe}");
    }
    let metrics = raw(Method::GET, &addr, "/metrics", &[], Bytes::new()).await;
    let text = String::from_utf8_lossy(metrics.bytes()).into_owned();
    for line in [
        "dfs_chunkd_chunk_write_duration_seconds_count 1",
        "dfs_chunkd_chunk_read_duration_seconds_count 1",
        "dfs_chunkd_stored_bytes ",
        "dfs_chunkd_scrubbed_chunks_total 0",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert!(
        !text.contains("dfs_chunkd_fsync_duration_seconds_count 0"),
        "{text}"
    );
    // No metad in this test: the node works but is not ready (no writer is sent to it).
    let ready = raw(Method::GET, &addr, "/health/ready", &[], Bytes::new()).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let reason = String::from_utf8_lossy(ready.bytes()).into_owned();
    assert!(reason.starts_with("not ready: not registered"), "{reason}");
    node.daemon.stop().await;
}

#[tokio::test]
async fn traversal_ids_are_refused() {
    let node = TestNode::start().await;
    let addr = node.addr();
    // A file a traversal would reach if ids were used as paths.
    std::fs::write(node.dir.path().join("secret.txt"), b"do not serve").unwrap();
    let bad = [
        "../secret.txt",
        "../../secret.txt",
        "..%2F..%2Fsecret.txt",
        "%2e%2e%2fsecret.txt",
        "0000000000000001/../../secret.txt",
        "0000000000000/..",
        "..",
        "",
        "000000000000000g",
        "00000000000000001",
        "-000000000000001",
    ];
    for id in bad {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let path = format!("/chunk/{id}");
            let answer = signed(
                method.clone(),
                &addr,
                &path,
                "crc32c=00000000",
                &[],
                Bytes::new(),
            )
            .await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {path}");
        }
        let path = format!("/replicate/{id}?to=127.0.0.1:9");
        let answer = signed(Method::POST, &addr, &path, "-", &[], Bytes::new()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
    }
    assert!(node.dir.path().join("secret.txt").exists());
    node.daemon.stop().await;
}

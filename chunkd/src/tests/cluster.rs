//! Start-up, restart, registration with a fake metad, replication between two chunkds.

use super::*;
use crate::{Error, StoreError};
use dfs_common::http::{check_signature, decode_json, error_response, json_response, read_body};
use dfs_common::wire::{
    Empty, HeartbeatResp, ReconcileReq, ReconcileResp, RegisterReq, RegisterResp, ReportBadChunkReq,
};
use dfs_common::NodeId;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn restart_keeps_chunks_and_clears_tmp() {
    let node = TestNode::start().await;
    let bytes = data(BLOCK_SIZE * 2 + 5, 9);
    assert_eq!(
        put(&node.addr(), ChunkId(1), &bytes).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        put(&node.addr(), ChunkId(2), b"").await.status,
        StatusCode::CREATED
    );
    let used = node.daemon.node.store.used();
    let TestNode { daemon, dir } = node;
    daemon.stop().await;
    // A write that was in progress when the process died.
    std::fs::write(
        dir.path().join("tmp").join("0000000000000003.1.part"),
        b"partial",
    )
    .unwrap();
    let node = TestNode {
        daemon: start(config(dir.path(), NO_METAD)).await.unwrap(),
        dir,
    };
    assert_eq!(list(&node.addr()).await, vec![ChunkId(1), ChunkId(2)]);
    assert_eq!(
        get(&node.addr(), ChunkId(1), None).await.bytes().as_ref(),
        bytes.as_slice()
    );
    assert_eq!(node.daemon.node.store.used(), used);
    assert!(names(&node.dir.path().join("tmp")).is_empty());
    node.daemon.stop().await;
}

#[tokio::test]
async fn foreign_data_folder_is_refused() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("important.db"), b"someone else's").unwrap();
    let err = start(config(dir.path(), NO_METAD))
        .await
        .err()
        .expect("must refuse");
    assert!(matches!(err, Error::Data(StoreError::Layout(_))), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("chunkd.marker") && message.contains("important.db"),
        "{message}"
    );
    assert_eq!(names(dir.path()), vec!["important.db".to_string()]);

    // A marker from a future layout is refused too.
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("chunkd.marker"),
        "dfs-chunkd data folder\nformat = 99\n",
    )
    .unwrap();
    let err = start(config(dir.path(), NO_METAD))
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("99"), "{err}");

    // A freshly formatted disk is empty but for lost+found.
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("lost+found")).unwrap();
    let daemon = start(config(dir.path(), NO_METAD)).await.unwrap();
    daemon.stop().await;
    assert!(dir.path().join("chunkd.marker").exists());
}

#[tokio::test]
async fn config_errors_are_clear() {
    let dir = TempDir::new().unwrap();
    let mut no_secret = config(dir.path(), NO_METAD);
    no_secret.secret = None;
    let err = start(no_secret).await.err().expect("must refuse");
    assert!(err.to_string().contains("no cluster secret"), "{err}");
    let mut bad_metad = config(dir.path(), "http://metad/");
    bad_metad.secret = Some(SECRET.into());
    assert!(matches!(start(bad_metad).await, Err(Error::Config(_))));
    let first = start(config(dir.path(), NO_METAD)).await.unwrap();
    let other = TempDir::new().unwrap();
    let mut taken = config(other.path(), NO_METAD);
    taken.listen = first.addr().to_string();
    let err = start(taken).await.err().expect("port in use");
    assert!(matches!(err, Error::Bind { .. }), "{err}");
    first.stop().await;

    let parsed: Config = toml::from_str(
        "listen = \"0.0.0.0:7801\"\ndata_dir = \"/srv/chunks\"\ncapacity = 1000\nscrub_interval_secs = 0\n",
    )
    .unwrap();
    assert_eq!(parsed.listen, "0.0.0.0:7801");
    assert_eq!(parsed.capacity, Some(1000));
    assert_eq!(parsed.metad, Config::default().metad);
    assert!(toml::from_str::<Config>("listne = \"x\"").is_err());
}

#[tokio::test]
async fn replicate_between_two_chunkds() {
    let a = TestNode::start().await;
    let b = TestNode::start().await;
    let big = data(3 << 20, 4);
    assert_eq!(
        put(&a.addr(), ChunkId(1), &big).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        put(&a.addr(), ChunkId(2), b"").await.status,
        StatusCode::CREATED
    );
    for id in [ChunkId(1), ChunkId(2)] {
        for _ in 0..2 {
            // The second order finds the copy already there: still a success.
            let path = format!("/replicate/{id}?to={}", b.addr());
            let answer = signed(Method::POST, &a.addr(), &path, "-", &[], Bytes::new()).await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            let ack: ChunkPutResp = serde_json::from_slice(answer.bytes()).unwrap();
            let expected = if id == ChunkId(1) { &big[..] } else { b"" };
            assert_eq!(
                (ack.len, ack.crc32c),
                (expected.len() as u64, crc32c(expected))
            );
        }
    }
    assert_eq!(
        get(&b.addr(), ChunkId(1), None).await.bytes().as_ref(),
        big.as_slice()
    );
    assert_eq!(list(&b.addr()).await, vec![ChunkId(1), ChunkId(2)]);

    let replicate = |id: u64, to: String| {
        let addr = a.addr();
        async move {
            let path = format!("/replicate/{}?to={to}", ChunkId(id));
            signed(Method::POST, &addr, &path, "-", &[], Bytes::new()).await
        }
    };
    assert_eq!(replicate(99, b.addr()).await.status, StatusCode::NOT_FOUND);
    let answer = replicate(1, NO_METAD.into()).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        replicate(1, "b/../x:1".into()).await.status,
        StatusCode::BAD_REQUEST
    );

    // A corrupt source never produces a copy.
    let bytes = data(4 * BLOCK_SIZE, 5);
    assert_eq!(
        put(&a.addr(), ChunkId(3), &bytes).await.status,
        StatusCode::CREATED
    );
    flip_bit(&a.chunk_file(ChunkId(3)), 32 + 3 * BLOCK_SIZE as u64);
    let answer = replicate(3, b.addr()).await;
    assert_eq!(answer.error().code, ErrorCode::Corrupt);
    assert_eq!(
        get(&b.addr(), ChunkId(3), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(names(&b.dir.path().join("tmp")).is_empty());
    a.daemon.stop().await;
    b.daemon.stop().await;
}

/// What the fake metad saw.
#[derive(Default)]
struct FakeMetad {
    registrations: Vec<RegisterReq>,
    /// The reconcile pages, in the order they came.
    pages: Vec<ReconcileReq>,
    heartbeats: u64,
    reports: Vec<ReportBadChunkReq>,
    /// Answer the next heartbeat with `known = false`.
    forget: bool,
}

/// Serves the node RPCs of metad on 127.0.0.1:0, giving node id 7 and asking to delete 0xdead
/// when a reconcile page lists it.
async fn fake_metad() -> (
    String,
    Arc<Mutex<FakeMetad>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let state = Arc::new(Mutex::new(FakeMetad::default()));
    let secret = ClusterSecret::new(SECRET).unwrap();
    let handler_state = Arc::clone(&state);
    let handler = move |req: Request<hyper::body::Incoming>| {
        let state = Arc::clone(&handler_state);
        let secret = secret.clone();
        async move {
            if let Err(e) = check_signature(&secret, &req) {
                return error_response(&e);
            }
            let path = req.uri().path().to_owned();
            let body = read_body(req.into_body(), 1 << 20).await.unwrap();
            let mut state = state.lock().unwrap();
            match path.as_str() {
                "/rpc/register" => {
                    state.registrations.push(decode_json(&body).unwrap());
                    let resp = RegisterResp {
                        node_id: NodeId(7),
                        heartbeat_interval_ms: 20,
                        delete: vec![],
                    };
                    json_response(StatusCode::OK, &resp)
                }
                "/rpc/reconcile" => {
                    let page: ReconcileReq = decode_json(&body).unwrap();
                    let delete = page
                        .chunks
                        .iter()
                        .copied()
                        .filter(|c| *c == ChunkId(0xdead))
                        .collect();
                    state.pages.push(page);
                    json_response(StatusCode::OK, &ReconcileResp { delete })
                }
                "/rpc/heartbeat" => {
                    state.heartbeats += 1;
                    let known = !std::mem::take(&mut state.forget);
                    json_response(StatusCode::OK, &HeartbeatResp { known })
                }
                "/rpc/report_bad_chunk" => {
                    state.reports.push(decode_json(&body).unwrap());
                    json_response(StatusCode::OK, &Empty {})
                }
                _ => error_response(&RpcError::not_found(path)),
            }
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(dfs_common::http::serve(
        listener,
        dfs_common::http::ServeLimits::default(),
        handler,
        async move {
            let _ = stop_rx.await;
        },
    ));
    (addr, state, stop_tx)
}

#[tokio::test]
async fn registers_heartbeats_and_reports() {
    // Chunks written while metad was away.
    let node = TestNode::start().await;
    assert_eq!(node.daemon.node_id(), None);
    for id in [0xdead, 0xbeef] {
        assert_eq!(
            put(&node.addr(), ChunkId(id), &data(100, 1)).await.status,
            StatusCode::CREATED
        );
    }
    let TestNode { daemon, dir } = node;
    daemon.stop().await;

    let (metad, state, _stop) = fake_metad().await;
    let node = TestNode {
        daemon: start(config(dir.path(), &metad)).await.unwrap(),
        dir,
    };
    wait_until("registration", || node.daemon.node_id() == Some(NodeId(7))).await;
    let node_id_file = node.dir.path().join("node_id");
    assert_eq!(std::fs::read_to_string(&node_id_file).unwrap().trim(), "7");
    {
        let state = state.lock().unwrap();
        let first = &state.registrations[0];
        assert_eq!(first.node_id, None);
        // The chunks come in pages after the registration, not in it.
        assert!(first.paged && first.chunks.is_empty());
        let page = &state.pages[0];
        assert_eq!(page.node_id, NodeId(7));
        assert_eq!((page.after, page.last), (None, true));
        assert_eq!(page.chunks, vec![ChunkId(0xbeef), ChunkId(0xdead)]);
        assert_eq!(first.addr, node.addr());
        assert_eq!(first.capacity, 1 << 30);
    }
    // metad said 0xdead is unreferenced.
    let orphan = node.chunk_file(ChunkId(0xdead));
    wait_until("the orphan to be deleted", || !orphan.exists()).await;
    wait_until("heartbeats", || state.lock().unwrap().heartbeats >= 3).await;

    // metad lost its state: the next heartbeat says so and the node registers again.
    state.lock().unwrap().forget = true;
    wait_until("registering again", || {
        state.lock().unwrap().registrations.len() >= 2
    })
    .await;
    assert_eq!(
        state.lock().unwrap().registrations[1].node_id,
        Some(NodeId(7))
    );

    // A corrupt chunk is reported with the node's id.
    flip_bit(
        &node.chunk_file(ChunkId(0xbeef)),
        crate::format::HEADER_LEN + 3,
    );
    assert_eq!(
        get(&node.addr(), ChunkId(0xbeef), None).await.error().code,
        ErrorCode::Corrupt
    );
    wait_until("the report", || !state.lock().unwrap().reports.is_empty()).await;
    {
        let state = state.lock().unwrap();
        assert_eq!(state.reports[0].node_id, NodeId(7));
        assert_eq!(state.reports[0].chunk_id, ChunkId(0xbeef));
    }

    // After a restart the node comes back under its id.
    let TestNode { daemon, dir } = node;
    daemon.stop().await;
    let before = state.lock().unwrap().registrations.len();
    let daemon = start(config(dir.path(), &metad)).await.unwrap();
    assert_eq!(daemon.node_id(), Some(NodeId(7)));
    wait_until("registration after restart", || {
        state.lock().unwrap().registrations.len() > before
    })
    .await;
    let last = state
        .lock()
        .unwrap()
        .registrations
        .last()
        .map(|r| r.node_id);
    assert_eq!(last, Some(Some(NodeId(7))));
    daemon.stop().await;
}

/// The free space told to metad (`capacity - used`) is what the disk really has, not what the
/// configured capacity leaves: a node whose capacity is larger than its disk is not chosen for
/// chunks it cannot hold.
#[tokio::test]
async fn the_free_space_told_to_metad_is_bounded_by_the_disk() {
    let (metad, state, _stop) = fake_metad().await;
    let dir = TempDir::new().unwrap();
    let mut config = config(dir.path(), &metad);
    config.capacity = Some(1 << 50);
    let daemon = start(config).await.unwrap();
    wait_until("registration", || daemon.node_id().is_some()).await;
    let told = {
        let state = state.lock().unwrap();
        let first = &state.registrations[0];
        first.capacity - first.used
    };
    let stat = rustix::fs::statvfs(dir.path()).unwrap();
    let available = stat.f_bavail * stat.f_frsize;
    assert!(
        told > 0 && told <= available,
        "told {told} bytes free, the disk has {available}"
    );
    daemon.stop().await;
}

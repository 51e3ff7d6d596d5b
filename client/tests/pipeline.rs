//! The write and read pipelines against real chunkds (in process, on 127.0.0.1:0, real files in
//! temp folders) and a small fake metad that records what the client asked of it. The fake
//! lets a test choose placements (including nodes that refuse connections) and inspect the
//! commit, which a real metad would not expose.

use bytes::Bytes;
use dfs_client::{etag_of, CreateOptions, DfsClient, FinishOptions};
use dfs_common::auth::ClusterSecret;
use dfs_common::http::{
    check_signature, decode_json, error_response, json_response, read_body, serve, Body,
    MAX_RPC_BODY,
};
use dfs_common::wire::{
    AbortReq, AllocChunkReq, AllocChunkResp, ChunkInfo, CommitReq, Empty, Entry, EntryKind,
    OpenReq, OpenResp, ReplaceReplicaReq, Replica, StatReq, StatResp, WrittenChunk,
};
use dfs_common::{ChunkId, ErrorCode, InodeId, NodeId, RpcError, SessionId};
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SECRET: &str = "client-test-secret-0123456789";
const CHUNK: u64 = 64 * 1024;

#[derive(Default)]
struct State {
    chunk_size: u64,
    replication: usize,
    /// Candidate nodes, in the order placements pick them.
    nodes: Vec<Replica>,
    next_id: u64,
    sessions: HashMap<SessionId, String>,
    aborted: Vec<SessionId>,
    alloc_excludes: Vec<Vec<NodeId>>,
    replace_excludes: Vec<Vec<NodeId>>,
    commits: Vec<CommitReq>,
    files: HashMap<String, (Entry, Vec<ChunkInfo>)>,
}

struct FakeMetad {
    secret: ClusterSecret,
    state: Mutex<State>,
}

impl FakeMetad {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn pick(&self, exclude: &[NodeId], count: usize) -> Result<Vec<Replica>, RpcError> {
        let state = self.state();
        let picked: Vec<Replica> = state
            .nodes
            .iter()
            .filter(|n| !exclude.contains(&n.node))
            .take(count)
            .cloned()
            .collect();
        if picked.len() < count {
            return Err(RpcError::new(
                ErrorCode::NotEnoughNodes,
                format!("{} node(s) left, {count} needed", picked.len()),
            ));
        }
        Ok(picked)
    }

    fn open(&self, req: OpenReq) -> Result<OpenResp, RpcError> {
        let mut state = self.state();
        state.next_id += 1;
        let session = SessionId(state.next_id);
        state.sessions.insert(session, req.path);
        Ok(OpenResp {
            session,
            chunk_size: state.chunk_size,
            replication: state.replication as u32,
        })
    }

    fn alloc(&self, req: AllocChunkReq) -> Result<AllocChunkResp, RpcError> {
        let count = {
            let mut state = self.state();
            state.alloc_excludes.push(req.exclude.clone());
            state.replication
        };
        let replicas = self.pick(&req.exclude, count)?;
        let mut state = self.state();
        state.next_id += 1;
        Ok(AllocChunkResp {
            chunk_id: ChunkId(state.next_id),
            replicas,
        })
    }

    fn replace(&self, req: ReplaceReplicaReq) -> Result<Replica, RpcError> {
        self.state().replace_excludes.push(req.exclude.clone());
        Ok(self.pick(&req.exclude, 1)?.remove(0))
    }

    fn commit(&self, req: CommitReq) -> Result<Entry, RpcError> {
        let mut state = self.state();
        let path = state
            .sessions
            .remove(&req.session)
            .ok_or_else(|| RpcError::not_found("no such session"))?;
        let addr_of = |node: NodeId| {
            state
                .nodes
                .iter()
                .find(|n| n.node == node)
                .map(|n| n.addr.clone())
                .unwrap_or_default()
        };
        let mut offset = 0;
        let chunks: Vec<ChunkInfo> = req
            .chunks
            .iter()
            .map(|c: &WrittenChunk| {
                let info = ChunkInfo {
                    id: c.id,
                    offset,
                    len: c.len,
                    crc32c: c.crc32c,
                    replicas: c
                        .replicas
                        .iter()
                        .map(|&node| Replica {
                            node,
                            addr: addr_of(node),
                            live: true,
                        })
                        .collect(),
                };
                offset += c.len;
                info
            })
            .collect();
        let entry = Entry {
            name: path.rsplit('/').next().unwrap_or_default().to_owned(),
            kind: EntryKind::File,
            inode: InodeId(req.session.0 + 1000),
            size: req.size,
            mtime_ms: 0,
            etag: req.etag.clone(),
            content_type: req.content_type.clone(),
            meta: req.meta.clone(),
            explicit: false,
            chunk_count: chunks.len() as u64,
        };
        state.files.insert(path, (entry.clone(), chunks));
        state.commits.push(req);
        Ok(entry)
    }

    fn abort(&self, req: AbortReq) -> Result<Empty, RpcError> {
        let mut state = self.state();
        state.sessions.remove(&req.session);
        state.aborted.push(req.session);
        Ok(Empty {})
    }

    fn stat(&self, req: StatReq) -> Result<StatResp, RpcError> {
        let state = self.state();
        let (entry, chunks) = state
            .files
            .get(&req.path)
            .cloned()
            .ok_or_else(|| RpcError::not_found(format!("no such file: {}", req.path)))?;
        Ok(StatResp {
            entry,
            chunks: if req.with_chunks { chunks } else { Vec::new() },
        })
    }
}

fn answer<Q: DeserializeOwned, A: Serialize>(
    body: &[u8],
    f: impl FnOnce(Q) -> Result<A, RpcError>,
) -> Response<Body> {
    match decode_json::<Q>(body).and_then(f) {
        Ok(resp) => json_response(StatusCode::OK, &resp),
        Err(err) => error_response(&err),
    }
}

async fn handle(fake: Arc<FakeMetad>, req: Request<Incoming>) -> Response<Body> {
    if let Err(err) = check_signature(&fake.secret, &req) {
        return error_response(&err);
    }
    let method = req.uri().path().trim_start_matches("/rpc/").to_owned();
    let body = match read_body(req.into_body(), MAX_RPC_BODY).await {
        Ok(body) => body,
        Err(err) => return error_response(&err),
    };
    match method.as_str() {
        "open" => answer(&body, |r| fake.open(r)),
        "alloc_chunk" => answer(&body, |r| fake.alloc(r)),
        "replace_replica" => answer(&body, |r| fake.replace(r)),
        "commit" => answer(&body, |r| fake.commit(r)),
        "abort" => answer(&body, |r| fake.abort(r)),
        "stat" => answer(&body, |r| fake.stat(r)),
        other => error_response(&RpcError::not_found(format!("fake metad: no {other}"))),
    }
}

/// A fake metad, real chunkds, and a client of them.
struct Rig {
    fake: Arc<FakeMetad>,
    client: DfsClient,
    chunkds: Vec<(dfs_chunkd::Daemon, TempDir)>,
}

impl Rig {
    async fn start(chunkds: usize, replication: usize) -> Rig {
        let secret = ClusterSecret::new(SECRET).unwrap();
        let mut nodes = Vec::new();
        let mut daemons = Vec::new();
        for index in 0..chunkds {
            let dir = TempDir::new().unwrap();
            let daemon = dfs_chunkd::start(dfs_chunkd::Config {
                listen: "127.0.0.1:0".into(),
                data_dir: dir.path().to_owned(),
                // Nothing listens there: registration keeps retrying, chunks are served anyway.
                metad: "127.0.0.1:1".into(),
                secret: Some(SECRET.into()),
                capacity: Some(1 << 30),
                scrub_interval_secs: 0,
                ..dfs_chunkd::Config::default()
            })
            .await
            .unwrap();
            nodes.push(Replica {
                node: NodeId(index as u64 + 1),
                addr: daemon.addr().to_string(),
                live: true,
            });
            daemons.push((daemon, dir));
        }
        let fake = Arc::new(FakeMetad {
            secret: secret.clone(),
            state: Mutex::new(State {
                chunk_size: CHUNK,
                replication,
                nodes,
                ..State::default()
            }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handler_fake = fake.clone();
        tokio::spawn(serve(
            listener,
            move |req| handle(handler_fake.clone(), req),
            std::future::pending(),
        ));
        Rig {
            fake,
            client: DfsClient::new(addr, secret),
            chunkds: daemons,
        }
    }

    /// Adds a node that refuses connections, placed first.
    fn add_dead_node_first(&self, id: u64) {
        self.fake.state().nodes.insert(
            0,
            Replica {
                node: NodeId(id),
                addr: dead_addr(),
                live: true,
            },
        );
    }

    async fn write(&self, path: &str, data: &[u8], piece: usize) -> Result<Entry, RpcError> {
        self.write_with(path, data, piece, CreateOptions::default())
            .await
    }

    async fn write_with(
        &self,
        path: &str,
        data: &[u8],
        piece: usize,
        opts: CreateOptions,
    ) -> Result<Entry, RpcError> {
        let mut writer = self.client.create(path, opts).await?;
        for part in data.chunks(piece.max(1)) {
            writer.write(Bytes::copy_from_slice(part)).await?;
        }
        assert_eq!(writer.written(), data.len() as u64);
        writer.finish(FinishOptions::default()).await
    }

    async fn read(&self, path: &str, start: u64, end: u64) -> Result<Vec<u8>, RpcError> {
        let reader = self.client.open(path).await?;
        let mut stream = Box::pin(reader.stream(start, end));
        let mut out = Vec::new();
        while let Some(piece) = stream.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out)
    }
}

/// A loopback address nothing listens on.
fn dead_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// Polls `condition` every 20 ms for up to 10 s.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_boundary_sizes_round_trip() {
    let rig = Rig::start(3, 2).await;
    let c = CHUNK as usize;
    let cases = [
        (0, 1000),
        (1, 1000),
        (c - 1, 10_000),
        (c, c),
        (c + 1, 7),
        (5 * c + 123, 10_000),
        (3 * c, 3 * c),
    ];
    for (index, (size, piece)) in cases.into_iter().enumerate() {
        let path = format!("/b/f{index}");
        let bytes = data(size, index as u8);
        let entry = rig.write(&path, &bytes, piece).await.unwrap();
        assert_eq!(entry.size, size as u64);
        assert_eq!(entry.etag, etag_of(&bytes), "{path}");
        let commit = rig.fake.state().commits.last().cloned().unwrap();
        assert_eq!(commit.chunks.len(), size.div_ceil(c), "{path}");
        for (i, chunk) in commit.chunks.iter().enumerate() {
            let expected = (size - i * c).min(c) as u64;
            assert_eq!(chunk.len, expected, "{path} chunk {i}");
            assert_eq!(chunk.replicas.len(), 2);
            assert_ne!(chunk.replicas[0], chunk.replicas[1]);
        }
        assert_eq!(rig.read(&path, 0, u64::MAX).await.unwrap(), bytes, "{path}");
    }
    // Ranges across chunk boundaries, inside one chunk, and at the very end.
    let bytes = data(5 * c + 123, 5);
    let path = "/b/f5";
    for (start, end) in [
        (0, 1),
        (c - 5, c + 5),
        (c, 2 * c),
        (100, 4 * c + 7),
        (5 * c, 5 * c + 123),
        (5 * c + 122, 5 * c + 500),
    ] {
        let got = rig.read(path, start as u64, end as u64).await.unwrap();
        assert!(
            got == bytes[start..end.min(bytes.len())],
            "range {start}..{end}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_replica_is_replaced_and_avoided_afterwards() {
    let rig = Rig::start(3, 2).await;
    rig.add_dead_node_first(99);
    let bytes = data(3 * CHUNK as usize, 1);
    // One chunk at a time, so the second chunk is placed after the first one's failure.
    let one_at_a_time = CreateOptions {
        max_chunks_in_flight: 1,
        ..CreateOptions::default()
    };
    let entry = rig
        .write_with("/b/x", &bytes, CHUNK as usize, one_at_a_time)
        .await
        .unwrap();
    assert_eq!(entry.size, bytes.len() as u64);
    {
        let state = rig.fake.state();
        let commit = state.commits.last().unwrap();
        for chunk in &commit.chunks {
            assert!(
                !chunk.replicas.contains(&NodeId(99)),
                "{:?}",
                chunk.replicas
            );
            assert_eq!(chunk.replicas.len(), 2);
        }
        // The replacement excluded every node tried for that chunk.
        assert!(state
            .replace_excludes
            .iter()
            .any(|ex| ex.contains(&NodeId(99)) && ex.len() == 2));
        // Later chunks were placed away from the node that failed.
        assert!(state.alloc_excludes.iter().any(|ex| ex == &[NodeId(99)]));
    }
    assert_eq!(rig.read("/b/x", 0, u64::MAX).await.unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_with_no_usable_node_fails_and_aborts_its_session() {
    let rig = Rig::start(0, 1).await;
    rig.add_dead_node_first(1);
    rig.add_dead_node_first(2);
    let err = rig.write("/b/x", &data(1000, 0), 100).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotEnoughNodes, "{err:?}");
    let state = rig.fake.state();
    assert_eq!(state.aborted.len(), 1);
    assert!(state.commits.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fail_over_dead_and_corrupt_replicas() {
    let rig = Rig::start(2, 2).await;
    let bytes = data(2 * CHUNK as usize + 10, 3);
    rig.write("/b/x", &bytes, 5000).await.unwrap();
    // Corrupt every chunk file of the first chunkd, and list a dead replica first.
    let chunks_dir = rig.chunkds[0].1.path().join("chunks");
    for shard in std::fs::read_dir(&chunks_dir).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let mut content = std::fs::read(&path).unwrap();
            let middle = content.len() / 2;
            content[middle] ^= 0xff;
            std::fs::write(&path, content).unwrap();
        }
    }
    {
        let mut state = rig.fake.state();
        let (_, chunks) = state.files.get_mut("/b/x").unwrap();
        for chunk in chunks.iter_mut() {
            chunk.replicas.sort_by_key(|r| r.node);
            chunk.replicas.insert(
                0,
                Replica {
                    node: NodeId(77),
                    addr: dead_addr(),
                    live: true,
                },
            );
        }
    }
    assert_eq!(rig.read("/b/x", 0, u64::MAX).await.unwrap(), bytes);
    // The corrupt copies were really tried: chunkd quarantined them.
    let quarantine = rig.chunkds[0].1.path().join("quarantine");
    assert!(std::fs::read_dir(quarantine).unwrap().count() > 0);
    let end = bytes.len() as u64;
    assert_eq!(
        rig.read("/b/x", 17, end - 3).await.unwrap(),
        bytes[17..bytes.len() - 3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_writer_aborts_its_session() {
    let rig = Rig::start(2, 2).await;
    let mut writer = rig
        .client
        .create("/b/dropped", CreateOptions::default())
        .await
        .unwrap();
    writer
        .write(Bytes::from(data(CHUNK as usize + 5, 0)))
        .await
        .unwrap();
    drop(writer);
    let fake = rig.fake.clone();
    eventually("the abort of the dropped session", || {
        fake.state().aborted.len() == 1
    })
    .await;
    assert!(rig.fake.state().commits.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_given_etag_is_stored_when_the_writer_does_not_hash() {
    let rig = Rig::start(1, 1).await;
    let opts = CreateOptions {
        compute_etag: false,
        max_chunks_in_flight: 1,
    };
    let mut writer = rig.client.create("/b/e", opts).await.unwrap();
    writer.write(Bytes::from(data(3000, 9))).await.unwrap();
    let entry = writer
        .finish(FinishOptions {
            etag: Some("\"abc-2\"".into()),
            content_type: Some("text/plain".into()),
            meta: vec![("x-amz-meta-a".into(), "1".into())],
            ..FinishOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(entry.etag, "\"abc-2\"");
    assert_eq!(entry.content_type.as_deref(), Some("text/plain"));
    assert_eq!(entry.meta, [("x-amz-meta-a".to_owned(), "1".to_owned())]);
}

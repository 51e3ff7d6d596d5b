//! The rig of the pipeline tests: real chunkds (in process, on 127.0.0.1:0, real files in
//! temp folders) and a small fake metad that records what the client asked of it. The fake
//! lets a test choose placements (including nodes that refuse connections) and inspect the
//! commits, which a real metad would not expose. Shared by several test files, each of which
//! uses only some of it.
#![allow(dead_code)]

use bytes::Bytes;
use dfs_client::{CreateOptions, DfsClient, FinishOptions};
use dfs_common::auth::ClusterSecret;
use dfs_common::http::{
    check_signature, decode_json, error_response, json_response, read_body, serve, Body,
    MAX_RPC_BODY,
};
use dfs_common::wire::{
    AbortReq, AllocChunkReq, AllocChunkResp, BeginPartWriteReq, BeginWriteReq, ChunkInfo,
    CommitPartReq, CommitReq, Empty, Entry, EntryKind, PartInfo, ReplaceReplicaReq, Replica,
    StatReq, StatResp, WriteSession, WrittenChunk, MAX_CHUNK_PAGE,
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

pub const SECRET: &str = "client-test-secret-0123456789";
pub const CHUNK: u64 = 64 * 1024;

#[derive(Default)]
pub struct State {
    pub chunk_size: u64,
    pub replication: usize,
    /// Candidate nodes, in the order placements pick them.
    pub nodes: Vec<Replica>,
    pub next_id: u64,
    pub sessions: HashMap<SessionId, String>,
    pub aborted: Vec<SessionId>,
    pub alloc_excludes: Vec<Vec<NodeId>>,
    pub replace_excludes: Vec<Vec<NodeId>>,
    pub commits: Vec<CommitReq>,
    pub files: HashMap<String, (Entry, Vec<ChunkInfo>)>,
    /// Slices per page of a chunk list (0: metad's own `MAX_CHUNK_PAGE`).
    pub chunk_page: usize,
    /// The chunk list pages asked for: (path, from).
    pub pages_asked: Vec<(String, u64)>,
    pub part_opens: Vec<BeginPartWriteReq>,
    pub part_commits: Vec<CommitPartReq>,
}

pub struct FakeMetad {
    pub secret: ClusterSecret,
    pub state: Mutex<State>,
}

impl FakeMetad {
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn pick(&self, exclude: &[NodeId], count: usize) -> Result<Vec<Replica>, RpcError> {
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

    pub fn open(&self, req: BeginWriteReq) -> Result<WriteSession, RpcError> {
        self.open_session(req.path.to_string())
    }

    fn open_session(&self, path: String) -> Result<WriteSession, RpcError> {
        let mut state = self.state();
        state.next_id += 1;
        let session = SessionId(state.next_id);
        state.sessions.insert(session, path);
        Ok(WriteSession {
            session,
            chunk_size: state.chunk_size,
            replication: state.replication as u32,
        })
    }

    pub fn open_part(&self, req: BeginPartWriteReq) -> Result<WriteSession, RpcError> {
        let path = format!("part {} of {}", req.part_number, req.upload_id);
        self.state().part_opens.push(req);
        self.open_session(path)
    }

    pub fn commit_part(&self, req: CommitPartReq) -> Result<PartInfo, RpcError> {
        let mut state = self.state();
        let path = state
            .sessions
            .remove(&req.session)
            .ok_or_else(|| RpcError::not_found("no such session"))?;
        let part_number = path
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| RpcError::invalid(format!("session {} is no part", req.session)))?;
        let info = PartInfo {
            part_number,
            size: req.size,
            etag: req.etag.clone(),
            checksum: req.checksum.clone(),
            mtime_ms: 0,
        };
        state.part_commits.push(req);
        Ok(info)
    }

    pub fn alloc(&self, req: AllocChunkReq) -> Result<AllocChunkResp, RpcError> {
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

    pub fn replace(&self, req: ReplaceReplicaReq) -> Result<Replica, RpcError> {
        self.state().replace_excludes.push(req.exclude.clone());
        Ok(self.pick(&req.exclude, 1)?.remove(0))
    }

    pub fn commit(&self, req: CommitReq) -> Result<Entry, RpcError> {
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
                    chunk_offset: 0,
                    chunk_len: c.len,
                };
                offset += c.len;
                info
            })
            .collect();
        let entry = Entry {
            checksum: None,
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
            part_sizes: Vec::new(),
        };
        state.files.insert(path, (entry.clone(), chunks));
        state.commits.push(req);
        Ok(entry)
    }

    pub fn abort(&self, req: AbortReq) -> Result<Empty, RpcError> {
        let mut state = self.state();
        state.sessions.remove(&req.session);
        state.aborted.push(req.session);
        Ok(Empty {})
    }

    /// Serves pages as metad does: from the slice holding `chunks_from`, at most
    /// `chunk_page` slices, none starting at or after `chunks_until`.
    pub fn stat(&self, req: StatReq) -> Result<StatResp, RpcError> {
        let mut state = self.state();
        let path = req.path.to_string();
        let (entry, chunks) = state
            .files
            .get(&path)
            .cloned()
            .ok_or_else(|| RpcError::not_found(format!("no such file: {}", req.path)))?;
        let (Some(from), true) = (req.chunks_from, req.with_chunks) else {
            return Ok(StatResp {
                entry,
                chunks: if req.with_chunks { chunks } else { Vec::new() },
                chunks_next: None,
            });
        };
        state.pages_asked.push((path, from));
        let max = match state.chunk_page {
            0 => MAX_CHUNK_PAGE,
            n => n,
        };
        let until = req.chunks_until.unwrap_or(u64::MAX);
        let mut rest = chunks
            .into_iter()
            .skip_while(|c| c.offset + c.len <= from)
            .peekable();
        let mut page = Vec::new();
        while let Some(chunk) = rest.next_if(|c| page.len() < max && c.offset < until) {
            page.push(chunk);
        }
        Ok(StatResp {
            entry,
            chunks: page,
            chunks_next: rest.peek().map(|c| c.offset),
        })
    }
}

pub fn answer<Q: DeserializeOwned, A: Serialize>(
    body: &[u8],
    f: impl FnOnce(Q) -> Result<A, RpcError>,
) -> Response<Body> {
    match decode_json::<Q>(body).and_then(f) {
        Ok(resp) => json_response(StatusCode::OK, &resp),
        Err(err) => error_response(&err),
    }
}

pub async fn handle(fake: Arc<FakeMetad>, req: Request<Incoming>) -> Response<Body> {
    if let Err(err) = check_signature(&fake.secret, &req) {
        return error_response(&err);
    }
    let method = req.uri().path().trim_start_matches("/rpc/").to_owned();
    let body = match read_body(req.into_body(), MAX_RPC_BODY).await {
        Ok(body) => body,
        Err(err) => return error_response(&err),
    };
    match method.as_str() {
        "begin_write" => answer(&body, |r| fake.open(r)),
        "begin_part_write" => answer(&body, |r| fake.open_part(r)),
        "commit_part" => answer(&body, |r| fake.commit_part(r)),
        "alloc_chunk" => answer(&body, |r| fake.alloc(r)),
        "replace_replica" => answer(&body, |r| fake.replace(r)),
        "commit" => answer(&body, |r| fake.commit(r)),
        "abort" => answer(&body, |r| fake.abort(r)),
        "stat" => answer(&body, |r| fake.stat(r)),
        other => error_response(&RpcError::not_found(format!("fake metad: no {other}"))),
    }
}

/// A fake metad, real chunkds, and a client of them.
pub struct Rig {
    pub fake: Arc<FakeMetad>,
    pub client: DfsClient,
    pub chunkds: Vec<(dfs_chunkd::Daemon, TempDir)>,
}

impl Rig {
    pub async fn start(chunkds: usize, replication: usize) -> Rig {
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
            dfs_common::http::ServeLimits::default(),
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
    pub fn add_dead_node_first(&self, id: u64) {
        self.fake.state().nodes.insert(
            0,
            Replica {
                node: NodeId(id),
                addr: dead_addr(),
                live: true,
            },
        );
    }

    pub async fn write(&self, path: &str, data: &[u8], piece: usize) -> Result<Entry, RpcError> {
        self.write_with(path, data, piece, CreateOptions::default())
            .await
    }

    pub async fn write_with(
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

    pub async fn read(&self, path: &str, start: u64, end: u64) -> Result<Vec<u8>, RpcError> {
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
pub fn dead_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// Polls `condition` every 20 ms for up to 10 s.
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

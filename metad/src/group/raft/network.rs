//! Raft between members, on metad's own listener: `POST /raft/append`, `/raft/vote`,
//! `/raft/hello` and the snapshot transfer's `/raft/snapshot/piece` and
//! `/raft/snapshot/install`, signed with the cluster secret like every internal request, with
//! bincode bodies (openraft's own types). The answer of append and vote is openraft's
//! `Result`; a transport failure is openraft's `Unreachable` (it backs off) or `Network` error.

use super::types::TypeConfig;
use super::{snapshot, RaftGroup, Shared};
use bincode::Options;
use dfs_common::http::{self as dhttp, Body, InternalClient};
use dfs_common::{auth, ErrorDetail, RpcError};
use http::{Method, Response, StatusCode};
use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed, StreamingError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend, Snapshot, Vote};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;

/// The largest Raft message body accepted (openraft splits appends above what we send).
const MAX_RAFT_BODY: usize = dhttp::MAX_RPC_BODY;

fn codec() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_RAFT_BODY as u64)
}

/// When each peer last answered a raft RPC of this member, by id: what an error about a lost
/// majority names as silent.
#[derive(Default)]
pub struct LastAnswers(std::sync::Mutex<std::collections::HashMap<u64, std::time::Instant>>);

impl LastAnswers {
    fn record(&self, peer: u64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(peer, std::time::Instant::now());
    }

    /// Whether `peer` answered within the last `ms` milliseconds.
    pub fn heard_within(&self, peer: u64, ms: u64) -> bool {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&peer)
            .is_some_and(|at| at.elapsed() <= std::time::Duration::from_millis(ms))
    }
}

/// Makes the connection to each member (one shared HTTP pool).
pub struct Network {
    client: InternalClient,
    answers: Arc<LastAnswers>,
}

impl Network {
    /// The network of a member: every peer is reached through `client`; their answers are
    /// noted in `answers`.
    pub fn new(client: InternalClient, answers: Arc<LastAnswers>) -> Network {
        Network { client, answers }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            client: self.client.clone(),
            target,
            addr: node.addr.clone(),
            answers: self.answers.clone(),
        }
    }
}

/// The connection to one member.
pub struct Peer {
    client: InternalClient,
    target: u64,
    addr: String,
    answers: Arc<LastAnswers>,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<u64, BasicNode, RaftError<u64, E>>>;

impl Peer {
    /// Sends `req` to `path` and decodes openraft's answer.
    async fn send<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let bytes = self
            .exchange(path, req, option.hard_ttl())
            .await
            .map_err(|e| {
                if e.is(ErrorDetail::Unreachable) {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        self.answers.record(self.target);
        let decoded: Result<Resp, RaftError<u64, E>> = codec()
            .deserialize(&bytes)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        decoded.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                BasicNode {
                    addr: self.addr.clone(),
                },
                e,
            ))
        })
    }

    /// Posts `message` (bincode) to `path` and reads the answer, within `ttl`.
    async fn exchange<T: Serialize>(
        &self,
        path: &str,
        message: &T,
        ttl: std::time::Duration,
    ) -> Result<bytes::Bytes, RpcError> {
        let body = codec()
            .serialize(message)
            .map_err(|e| RpcError::internal(format!("cannot encode a raft message: {e}")))?;
        let content = auth::sha256_content(&body);
        let post = async {
            let resp = self
                .client
                .send_ok(Method::POST, &self.addr, path, &content, dhttp::full(body))
                .await?;
            dhttp::read_body(resp.into_body(), MAX_RAFT_BODY).await
        };
        match tokio::time::timeout(ttl, post).await {
            Ok(answer) => answer,
            Err(_) => Err(RpcError::detailed(
                ErrorDetail::NoAnswer,
                format!("metad {} did not answer {path} in time", self.target),
            )),
        }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        self.send("/raft/append", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<u64>> {
        self.send("/raft/vote", &rpc, &option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let send = self.send_snapshot(vote, snapshot, option);
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            sent = send => sent,
        }
    }
}

type SnapshotResult = Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>>;

impl Peer {
    /// Sends every file of the snapshot in pieces, then asks the member to install it.
    async fn send_snapshot(
        &self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        option: RPCOption,
    ) -> SnapshotResult {
        let folder = snapshot.snapshot.path.clone();
        let listed = folder.clone();
        let files = tokio::task::spawn_blocking(move || snapshot::list_files(&listed))
            .await
            .map_err(|e| streaming(RpcError::internal(e.to_string())))?
            .map_err(|e| streaming(RpcError::internal(format!("listing the snapshot: {e}"))))?;
        let total: u64 = files.iter().map(|(_, size)| size).sum();
        tracing::info!(
            target_member = self.target,
            snapshot = %snapshot.meta.snapshot_id,
            files = files.len(),
            bytes = total,
            "sending a snapshot"
        );
        for (name, size) in &files {
            let mut offset = 0;
            loop {
                let path = folder.join(name);
                let data = tokio::task::spawn_blocking(move || snapshot::read_piece(&path, offset))
                    .await
                    .map_err(|e| streaming(RpcError::internal(e.to_string())))?
                    .map_err(|e| streaming(RpcError::internal(format!("reading {name}: {e}"))))?;
                let len = data.len() as u64;
                let piece = snapshot::Piece {
                    snapshot_id: snapshot.meta.snapshot_id.clone(),
                    file: name.clone(),
                    offset,
                    data,
                };
                self.post_timed("/raft/snapshot/piece", &piece, &option)
                    .await?;
                offset += len;
                if offset >= *size || len == 0 {
                    break;
                }
            }
        }
        let install = snapshot::Install {
            vote,
            meta: snapshot.meta.clone(),
            files,
        };
        let answer = self
            .post_timed("/raft/snapshot/install", &install, &option)
            .await?;
        let installed: Result<SnapshotResponse<u64>, String> = codec()
            .deserialize(&answer)
            .map_err(|e| streaming(RpcError::internal(e.to_string())))?;
        installed.map_err(|e| {
            streaming(RpcError::unavailable(format!(
                "metad {} did not install the snapshot: {e}",
                self.target
            )))
        })
    }

    /// Posts one step of a snapshot transfer, within the snapshot timeout.
    async fn post_timed<T: Serialize>(
        &self,
        path: &str,
        message: &T,
        option: &RPCOption,
    ) -> Result<bytes::Bytes, StreamingError<TypeConfig, Fatal<u64>>> {
        let ttl = option.hard_ttl().max(SNAPSHOT_STEP);
        self.exchange(path, message, ttl).await.map_err(streaming)
    }
}

/// The least time given to one step of a snapshot transfer (a piece, the install).
const SNAPSHOT_STEP: std::time::Duration = std::time::Duration::from_secs(60);

/// A transfer failure as openraft wants it: a member not reached is backed off from.
fn streaming(e: RpcError) -> StreamingError<TypeConfig, Fatal<u64>> {
    if e.is(ErrorDetail::Unreachable) {
        StreamingError::Unreachable(Unreachable::new(&e))
    } else {
        StreamingError::Network(NetworkError::new(&e))
    }
}

/// What `/raft/hello` answers: whether a member already belongs to a group.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The member's id.
    pub id: u64,
    /// Whether its Raft state is initialized (it belongs to a group).
    pub initialized: bool,
    /// The index of its last log entry: 0 is the founding entry of a group, so a group in
    /// which any member is past 0 has been used (absent from members of earlier releases).
    #[serde(default)]
    pub last_log_index: Option<u64>,
}

impl Hello {
    /// Whether this member's group has been used (elected a leader); members of earlier
    /// releases do not say, and count as used once initialized.
    fn group_used(&self) -> bool {
        match self.last_log_index {
            Some(index) => index > 0,
            None => self.initialized,
        }
    }
}

/// Serves one Raft request (signature already checked).
pub async fn serve(group: &RaftGroup, path: &str, body: &[u8]) -> Result<Response<Body>, RpcError> {
    let raft = group.raft();
    match path {
        "/raft/append" => {
            let req: AppendEntriesRequest<TypeConfig> = decode(body)?;
            if req.vote.is_committed() {
                let commit = req.leader_commit.map(|id| id.index);
                group
                    .shared
                    .rejoin
                    .note_leader(req.vote.leader_id().term, commit);
            }
            encode(&raft.append_entries(req).await)
        }
        "/raft/vote" => {
            let req: VoteRequest<u64> = decode(body)?;
            if !group.shared.rejoin.is_open() {
                tracing::debug!(candidate = %req.vote, "vote refused: this member is catching up");
                let refused: Result<VoteResponse<u64>, RaftError<u64>> = Ok(VoteResponse {
                    vote: raft.metrics().borrow().vote,
                    vote_granted: false,
                    last_log_id: None,
                });
                return encode(&refused);
            }
            encode(&raft.vote(req).await)
        }
        "/raft/snapshot/piece" => {
            let piece: snapshot::Piece = decode(body)?;
            let group = group.clone_handle();
            crate::blocking(move || group.receive_piece(&piece)).await?;
            Ok(dhttp::json_response(
                StatusCode::OK,
                &dfs_common::wire::Empty {},
            ))
        }
        "/raft/snapshot/install" => {
            let install: snapshot::Install = decode(body)?;
            let handle = group.clone_handle();
            let (install, folder) = crate::blocking(move || {
                let folder = handle.complete_transfer(&install)?;
                Ok((install, folder))
            })
            .await?;
            let answer = group.install(install, folder).await?;
            Ok(octets(answer))
        }
        "/raft/hello" => {
            let initialized = raft
                .is_initialized()
                .await
                .map_err(|e| RpcError::unavailable(e.to_string()))?;
            let hello = Hello {
                id: group.id(),
                initialized,
                last_log_index: raft.metrics().borrow().last_log_index,
            };
            Ok(dhttp::json_response(StatusCode::OK, &hello))
        }
        _ => Err(RpcError::not_found(format!("no such endpoint: {path}"))),
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, RpcError> {
    codec()
        .deserialize(body)
        .map_err(|e| RpcError::invalid(format!("malformed raft message: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Response<Body>, RpcError> {
    let bytes = codec()
        .serialize(value)
        .map_err(|e| RpcError::internal(format!("cannot encode a raft answer: {e}")))?;
    Ok(octets(bytes))
}

fn octets(bytes: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .body(dhttp::full(bytes))
        .unwrap_or_else(|_| dhttp::error_response(&RpcError::internal("raft answer")))
}

/// Asks every other member whether it already belongs to a group: `Ok(true)` when all
/// answered and none does, `Ok(false)` when one does, `Err` naming who did not answer.
pub async fn all_fresh(shared: &Shared, client: &InternalClient) -> Result<bool, String> {
    none_says(shared, client, |h| h.initialized).await
}

/// Asks every other member whether its group has been used: `Ok(true)` when all answered
/// and none was past the group's founding entry (a group being formed), `Ok(false)` when one
/// was, `Err` naming who did not answer.
pub async fn group_unused(shared: &Shared, client: &InternalClient) -> Result<bool, String> {
    none_says(shared, client, Hello::group_used).await
}

/// Asks every other member its hello: `Ok(false)` as soon as one answers with `says` true,
/// `Ok(true)` when all answered and none did, `Err` naming who did not answer.
async fn none_says(
    shared: &Shared,
    client: &InternalClient,
    says: fn(&Hello) -> bool,
) -> Result<bool, String> {
    let mut silent = Vec::new();
    for (id, addr) in &shared.members {
        if *id == shared.id {
            continue;
        }
        let content = auth::sha256_content(b"");
        let answer = client
            .send_ok(Method::POST, addr, "/raft/hello", &content, dhttp::empty())
            .await;
        let hello = match answer {
            Ok(resp) => match dhttp::read_body(resp.into_body(), 64 * 1024).await {
                Ok(bytes) => dhttp::decode_json::<Hello>(&bytes).ok(),
                Err(_) => None,
            },
            Err(_) => None,
        };
        match hello {
            Some(h) if h.id != *id => {
                return Err(format!("{addr} says it is member {}, not {id}", h.id))
            }
            Some(h) if says(&h) => return Ok(false),
            Some(_) => {}
            None => silent.push(format!("{id}={addr}")),
        }
    }
    if silent.is_empty() {
        Ok(true)
    } else {
        Err(format!("no answer yet from {}", silent.join(", ")))
    }
}

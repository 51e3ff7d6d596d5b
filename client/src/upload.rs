//! Writing one chunk: reserve it at metad, send it to every replica in parallel, replace the
//! replicas that fail.

use crate::DfsClient;
use bytes::Bytes;
use dfs_common::checksum::{crc32c, crc_to_hex};
use dfs_common::http::{full, read_body};
use dfs_common::wire::{
    AllocChunkReq, ChunkPutResp, ReplaceReplicaReq, Replica, WrittenChunk, CHUNK_PATH_PREFIX,
};
use dfs_common::{ChunkId, ErrorCode, NodeId, RpcError, SessionId};
use futures_util::future::try_join_all;
use http::Method;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many times one replica slot of a chunk may be moved to another node before the write
/// gives up.
pub(crate) const MAX_REPLACEMENTS: usize = 3;

/// Time allowed for a chunk PUT: a base for connection and fsync, plus one second per MiB, a
/// rate far below any healthy disk or network, so only a stuck chunkd hits it.
fn put_timeout(len: usize) -> Duration {
    Duration::from_secs(30 + ((len as u64) >> 20))
}

/// What the chunk uploads of one write session share.
#[derive(Debug)]
pub(crate) struct SessionCtx {
    /// The metad and chunkd client.
    pub(crate) client: DfsClient,
    /// The write session.
    pub(crate) session: SessionId,
    /// The file's path, for error messages.
    pub(crate) path: String,
    /// Nodes that failed a chunk write in this session: later chunks avoid them, so a node
    /// that died but is not yet declared dead costs one failure, not one per chunk.
    pub(crate) bad_nodes: Mutex<HashSet<NodeId>>,
}

impl SessionCtx {
    fn bad_nodes(&self) -> Vec<NodeId> {
        match self.bad_nodes.lock() {
            Ok(set) => set.iter().copied().collect(),
            Err(poisoned) => poisoned.into_inner().iter().copied().collect(),
        }
    }

    fn mark_bad(&self, node: NodeId) {
        match self.bad_nodes.lock() {
            Ok(mut set) => set.insert(node),
            Err(poisoned) => poisoned.into_inner().insert(node),
        };
    }
}

/// Uploads chunk number `index` of the file and returns it as the commit lists it.
pub(crate) async fn upload_chunk(
    ctx: Arc<SessionCtx>,
    index: u64,
    data: Bytes,
) -> Result<WrittenChunk, RpcError> {
    let crc = crc32c(&data);
    let alloc = alloc(&ctx).await?;
    if alloc.replicas.is_empty() {
        return Err(RpcError::new(
            ErrorCode::NotEnoughNodes,
            format!("metad chose no chunkd for chunk {index} of {}", ctx.path),
        ));
    }
    let chunk_id = alloc.chunk_id;
    // Every node tried for this chunk, so a replacement never lands on a node that already
    // holds (or just failed) it.
    let tried = Arc::new(Mutex::new(
        alloc.replicas.iter().map(|r| r.node).collect::<Vec<_>>(),
    ));
    let slots = alloc.replicas.into_iter().map(|replica| {
        write_replica(
            ctx.clone(),
            chunk_id,
            index,
            data.clone(),
            crc,
            replica,
            tried.clone(),
        )
    });
    let replicas = try_join_all(slots).await?;
    Ok(WrittenChunk {
        id: chunk_id,
        len: data.len() as u64,
        crc32c: crc,
        replicas,
    })
}

/// Reserves a chunk, avoiding nodes that already failed in this session when enough others
/// remain.
async fn alloc(ctx: &SessionCtx) -> Result<dfs_common::wire::AllocChunkResp, RpcError> {
    let exclude = ctx.bad_nodes();
    let first = ctx
        .client
        .call(&AllocChunkReq {
            session: ctx.session,
            exclude: exclude.clone(),
        })
        .await;
    match first {
        // Excluding the failed nodes left too few: they may have recovered, so try them again.
        Err(e) if e.code == ErrorCode::NotEnoughNodes && !exclude.is_empty() => {
            ctx.client
                .call(&AllocChunkReq {
                    session: ctx.session,
                    exclude: Vec::new(),
                })
                .await
        }
        other => other,
    }
}

/// Writes one replica slot of a chunk, moving it to a new node each time a node fails.
async fn write_replica(
    ctx: Arc<SessionCtx>,
    chunk_id: ChunkId,
    index: u64,
    data: Bytes,
    crc: u32,
    mut replica: Replica,
    tried: Arc<Mutex<Vec<NodeId>>>,
) -> Result<NodeId, RpcError> {
    let mut replacements = 0;
    loop {
        let err = match put_chunk(&ctx.client, &replica.addr, chunk_id, data.clone(), crc).await {
            Ok(()) => return Ok(replica.node),
            Err(e) => e,
        };
        tracing::warn!(
            "chunk {chunk_id} ({index} of {}) on node {} at {}: {err}",
            ctx.path,
            replica.node,
            replica.addr
        );
        // The error may reach an S3 client, which has no business with internal addresses:
        // the node is named by id (the log line above has both).
        let why = naming_node_by_id(&err.message, &replica);
        // A wrong secret fails on every node alike: moving the replica cannot help.
        if err.code == ErrorCode::Unauthorized || replacements >= MAX_REPLACEMENTS {
            return Err(RpcError::new(
                err.code,
                format!(
                    "cannot write chunk {index} of {} (tried {} node(s)): {why}",
                    ctx.path,
                    replacements + 1,
                ),
            ));
        }
        ctx.mark_bad(replica.node);
        replacements += 1;
        let exclude = match tried.lock() {
            Ok(list) => list.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        replica = ctx
            .client
            .call(&ReplaceReplicaReq {
                session: ctx.session,
                chunk_id,
                exclude,
            })
            .await
            .map_err(|e| {
                RpcError::new(
                    e.code,
                    format!(
                        "cannot write chunk {index} of {}: node {} failed ({why}) and no replacement was found: {}",
                        ctx.path, replica.node, e.message
                    ),
                )
            })?;
        match tried.lock() {
            Ok(mut list) => list.push(replica.node),
            Err(poisoned) => poisoned.into_inner().push(replica.node),
        }
    }
}

/// `message` with the replica's address replaced by its node id.
pub(crate) fn naming_node_by_id(message: &str, replica: &Replica) -> String {
    if replica.addr.is_empty() {
        return message.to_owned();
    }
    message.replace(&replica.addr, &format!("node {}", replica.node))
}

/// `PUT /chunk/<id>` to one chunkd; succeeds only when it acknowledged our length and CRC.
async fn put_chunk(
    client: &DfsClient,
    addr: &str,
    chunk_id: ChunkId,
    data: Bytes,
    crc: u32,
) -> Result<(), RpcError> {
    let len = data.len();
    let path = format!("{CHUNK_PATH_PREFIX}{chunk_id}");
    let content = format!("crc32c={}", crc_to_hex(crc));
    let work = async {
        // A `Full` body has an exact size, so hyper sends Content-Length.
        let resp = client
            .http()
            .send_ok(Method::PUT, addr, &path, &content, full(data))
            .await?;
        let body = read_body(resp.into_body(), 64 * 1024).await?;
        serde_json::from_slice::<ChunkPutResp>(&body)
            .map_err(|e| RpcError::internal(format!("malformed answer from chunkd {addr}: {e}")))
    };
    let ack = tokio::time::timeout(put_timeout(len), work)
        .await
        .map_err(|_| {
            RpcError::unavailable(format!(
                "chunkd {addr} did not acknowledge chunk {chunk_id} within {} s",
                put_timeout(len).as_secs()
            ))
        })??;
    if ack.len != len as u64 || ack.crc32c != crc {
        return Err(RpcError::new(
            ErrorCode::ChecksumMismatch,
            format!(
                "chunkd {addr} stored chunk {chunk_id} as {} bytes with crc32c {}, expected {len} bytes with crc32c {}",
                ack.len,
                crc_to_hex(ack.crc32c),
                crc_to_hex(crc)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_timeout_grows_with_size() {
        assert_eq!(put_timeout(0), Duration::from_secs(30));
        assert_eq!(put_timeout(8 << 20), Duration::from_secs(38));
    }

    /// What a failed chunk write says may reach an S3 client: never the chunkd's address.
    #[test]
    fn write_errors_name_the_node_by_id() {
        let replica = Replica {
            node: NodeId(3),
            addr: "10.0.0.7:7800".into(),
            live: true,
        };
        let message = "cannot reach 10.0.0.7:7800: connection refused";
        assert_eq!(
            naming_node_by_id(message, &replica),
            "cannot reach node 3: connection refused"
        );
    }
}

//! The chunkd registry: registration with chunk reconciliation, heartbeats, death (and the
//! bounded sweep of a dead node's chunks, `sweep`), bad-replica reports and the cluster status.
//!
//! Liveness lives in memory (a heartbeat per node per second must not cost a disk write); node
//! records and state changes are persisted. Lock order: the store's write lock (a `Txn`) before
//! the registry's lock, never the reverse, and memory is updated while both are held so that the
//! table and the registry never disagree.

pub mod sweep;
#[cfg(test)]
pub(crate) mod tests;

use crate::ns::Sessions;
use crate::placement::Candidate;
use crate::registration::{reconcile_range, Scope, Tally};
use crate::store::queue::{self, Queue};
use crate::store::values::{ChunkLoc, Node, NodeState as StoredState};
use crate::store::{keys, Cf, IdKind, Reader, Store, StoreError, Txn};
use dfs_common::wire::{
    HeartbeatReq, HeartbeatResp, NodeInfo, NodeState, RegisterReq, Replica, ReportBadChunkReq,
    StatusResp,
};
use dfs_common::{ChunkId, NodeId, RpcError};
use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

struct Known {
    record: Node,
    last_seen: Instant,
}

/// The registered chunkds.
pub struct Nodes {
    map: RwLock<HashMap<NodeId, Known>>,
}

impl Nodes {
    /// Loads the registered nodes. Each gets a fresh grace period: metad was not listening to
    /// heartbeats while it was down.
    pub fn load(store: &Store) -> Result<Nodes, RpcError> {
        let now = Instant::now();
        let mut map = HashMap::new();
        store
            .view()
            .scan_raw(Cf::Node, &[], None, &mut |key, value| {
                use crate::store::values::Value;
                match (keys::parse_node(key), Node::decode(value)) {
                    (Some(id), Ok(record)) => {
                        map.insert(
                            id,
                            Known {
                                record,
                                last_seen: now,
                            },
                        );
                    }
                    (_, Err(e)) => tracing::error!("skipping node {key:02x?}: {e}"),
                    (None, _) => tracing::error!("skipping malformed node key {key:02x?}"),
                }
                Ok(true)
            })?;
        Ok(Nodes {
            map: RwLock::new(map),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<NodeId, Known>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<NodeId, Known>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Every node as a placement candidate.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.read()
            .iter()
            .map(|(id, n)| Candidate {
                id: *id,
                live: n.record.state == StoredState::Active,
                capacity: n.record.capacity,
                used: n.record.used,
            })
            .collect()
    }

    /// Whether the node is registered and active.
    pub fn is_live(&self, id: NodeId) -> bool {
        self.read()
            .get(&id)
            .is_some_and(|n| n.record.state == StoredState::Active)
    }

    /// How many of `nodes` are live.
    pub fn live_count(&self, nodes: &[NodeId]) -> usize {
        let map = self.read();
        nodes
            .iter()
            .filter(|id| {
                map.get(id)
                    .is_some_and(|n| n.record.state == StoredState::Active)
            })
            .count()
    }

    /// A node as a replica location (unknown nodes have no address and are not live).
    pub fn replica(&self, id: NodeId) -> Replica {
        match self.read().get(&id) {
            Some(n) => Replica {
                node: id,
                addr: n.record.addr.clone(),
                live: n.record.state == StoredState::Active,
            },
            None => Replica {
                node: id,
                addr: String::new(),
                live: false,
            },
        }
    }

    /// Reloads the registry from the store (a new leader: node rows may have changed under
    /// another leader); every node gets a fresh grace period, as at start.
    pub fn reload(&self, store: &Store) -> Result<(), RpcError> {
        let fresh = Nodes::load(store)?;
        let map = fresh.map.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.map.write().unwrap_or_else(|p| p.into_inner()) = map;
        Ok(())
    }

    /// Records a heartbeat. A dead or unknown node is told to register again, which reconciles
    /// what it holds with what metad decided while it was away.
    pub fn heartbeat(&self, req: &HeartbeatReq) -> HeartbeatResp {
        let mut map = self.write();
        match map.get_mut(&req.node_id) {
            Some(n) if n.record.state == StoredState::Active => {
                n.last_seen = Instant::now();
                n.record.addr.clone_from(&req.addr);
                n.record.capacity = req.capacity;
                n.record.used = req.used;
                HeartbeatResp { known: true }
            }
            _ => HeartbeatResp { known: false },
        }
    }

    /// Registers a node and, unless its chunks follow in pages, reconciles its chunk list.
    /// Returns its id, the chunks it must delete, and the scope of its paged reconciliation.
    pub fn register(
        &self,
        store: &Store,
        sessions: &Sessions,
        replication: u32,
        req: RegisterReq,
    ) -> Result<(NodeId, Vec<ChunkId>, Scope), RpcError> {
        if req.addr.trim().is_empty() {
            return Err(RpcError::invalid("register: the node address is empty"));
        }
        let id = match req.node_id {
            Some(id) => {
                // An id this database may not know (state lost): never hand it out again.
                store.reserve_id(IdKind::Node, id.0)?;
                id
            }
            None => NodeId(store.next_id(IdKind::Node)?),
        };
        // A paged registration reconciles its chunks page by page afterwards; an older chunkd
        // sends them all here, reconciled in this one transaction.
        let scope = Scope::begin(store, sessions)?;
        let mut txn = store.begin();
        let tally = if req.paged {
            Tally::default()
        } else {
            let mut held = req.chunks;
            held.sort();
            held.dedup();
            let factor = replication as usize;
            reconcile_range(
                &mut txn, self, sessions, factor, id, &held, None, None, &scope,
            )?
        };
        let record = Node {
            addr: req.addr.clone(),
            capacity: req.capacity,
            used: req.used,
            state: StoredState::Active,
        };
        txn.put(Cf::Node, &keys::node(id), &record)?;
        // Back before its dead sweep ended: what it holds was just reconciled, so the rest of
        // the sweep would only queue chunks that need nothing.
        let cancelled = sweep::cancel(&mut txn, id)?;
        let mut map = self.write();
        txn.commit(true)?;
        if let Some(queued) = cancelled {
            tracing::info!(node = %id, queued, "node registered again: the sweep of its chunks is cancelled");
        }
        map.insert(
            id,
            Known {
                record,
                last_seen: Instant::now(),
            },
        );
        if req.paged {
            tracing::info!(node = %id, addr = %req.addr, "node registered; its chunks follow in pages");
        } else {
            tracing::info!(
                node = %id,
                addr = %req.addr,
                kept = tally.kept,
                readded = tally.readded,
                delete = tally.delete.len(),
                lost = tally.lost,
                "node registered and reconciled"
            );
        }
        Ok((id, tally.delete, scope))
    }

    /// Nodes that are active but silent for longer than `timeout`.
    pub fn silent(&self, timeout: Duration) -> Vec<NodeId> {
        self.read()
            .iter()
            .filter(|(_, n)| {
                n.record.state == StoredState::Active && n.last_seen.elapsed() >= timeout
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Marks a silent node dead and starts the sweep that queues every chunk it held for
    /// repair ([`Nodes::sweep_dead`], in bounded batches), in one small batch. Returns `false`
    /// when the node spoke again meanwhile.
    pub fn mark_dead(
        &self,
        store: &Store,
        id: NodeId,
        timeout: Duration,
    ) -> Result<bool, RpcError> {
        let mut txn = store.begin();
        let mut map = self.write();
        let Some(known) = map.get_mut(&id) else {
            return Ok(false);
        };
        if known.record.state != StoredState::Active || known.last_seen.elapsed() < timeout {
            return Ok(false);
        }
        let mut record = known.record.clone();
        record.state = StoredState::Dead;
        txn.put(Cf::Node, &keys::node(id), &record)?;
        sweep::start(&mut txn, id, crate::clock::steady_ms())?;
        txn.commit(true)?;
        known.record = record;
        tracing::warn!(
            node = %id,
            addr = %known.record.addr,
            silent = ?known.last_seen.elapsed(),
            "node {id} at {} is dead (no heartbeat for {:?}); queueing its chunks for repair",
            known.record.addr,
            known.last_seen.elapsed()
        );
        Ok(true)
    }

    /// A node found a corrupt copy: forget it and re-replicate the chunk.
    pub fn report_bad_chunk(&self, store: &Store, req: &ReportBadChunkReq) -> Result<(), RpcError> {
        let (node, chunk) = (req.node_id, req.chunk_id);
        forget_bad_copy(store, node, chunk, &format!("corrupt copy on node {node}"))?;
        tracing::warn!(%node, %chunk, "node reported a corrupt copy; repair queued");
        Ok(())
    }

    /// The cluster overview. Walks the chunk tables: meant for operators, not hot paths.
    /// Counts referenced chunks, those below `replication` live replicas and those with none:
    /// one scan of the `chunk_loc` table, O(all chunks). `status` and the metrics (cached, see
    /// `crate::metrics`) use it.
    pub fn chunk_health(
        &self,
        view: &impl Reader,
        replication: u32,
    ) -> Result<ChunkHealth, RpcError> {
        let mut health = ChunkHealth::default();
        view.scan_raw(Cf::ChunkLoc, &[], None, &mut |_, value| {
            use crate::store::values::Value;
            match ChunkLoc::decode(value) {
                Ok(loc) if loc.refcount > 0 => {
                    health.chunks += 1;
                    let live = self.live_count(&loc.replicas);
                    if live < replication as usize {
                        health.under_replicated += 1;
                    }
                    if live == 0 {
                        health.lost += 1;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!("status: {e}"),
            }
            Ok(true)
        })?;
        Ok(health)
    }

    /// Registered chunkds: (alive, dead). In memory, cheap.
    pub fn alive_dead(&self) -> (u64, u64) {
        let map = self.read();
        let alive = map
            .values()
            .filter(|n| n.record.state == StoredState::Active)
            .count() as u64;
        (alive, map.len() as u64 - alive)
    }

    pub fn status(&self, store: &Store, replication: u32) -> Result<StatusResp, RpcError> {
        let view = store.view();
        let mut per_node: HashMap<NodeId, u64> = HashMap::new();
        view.scan_raw(Cf::NodeChunk, &[], None, &mut |key, _| {
            if let Some((node, _)) = keys::parse_node_chunk(key) {
                *per_node.entry(node).or_default() += 1;
            }
            Ok(true)
        })?;
        let health = self.chunk_health(&view, replication)?;
        let ChunkHealth {
            chunks,
            under_replicated,
            lost,
        } = health;
        let mut nodes: Vec<NodeInfo> = self
            .read()
            .iter()
            .map(|(id, n)| NodeInfo {
                id: *id,
                addr: n.record.addr.clone(),
                capacity: n.record.capacity,
                used: n.record.used,
                state: match n.record.state {
                    StoredState::Active => NodeState::Active,
                    StoredState::Dead => NodeState::Dead,
                },
                last_heartbeat_ms_ago: n.last_seen.elapsed().as_millis() as u64,
                chunks: per_node.get(id).copied().unwrap_or(0),
            })
            .collect();
        nodes.sort_by_key(|n| n.id);
        Ok(StatusResp {
            nodes,
            replication,
            chunks,
            under_replicated,
            lost,
            repair_queue: queue::len(&view, Queue::Repair)?,
            gc_queue: queue::len(&view, Queue::Gc)?,
            detached_trees: crate::ns::detached::pending(&view)?,
            dead_node_sweeps: sweep::pending(&view)?,
            // The daemon adds its group's members (`App::status`).
            metad: Vec::new(),
        })
    }
}

/// Stages that `node` no longer holds a copy of `chunk` (it lost it, or the copy is corrupt):
/// the copy leaves the chunk's replicas, and a chunk still in use is queued for repair.
pub(crate) fn forget_replica(
    txn: &mut Txn<'_>,
    node: NodeId,
    chunk: ChunkId,
    reason: &str,
    now_ms: u64,
) -> Result<(), StoreError> {
    txn.delete(Cf::NodeChunk, &keys::node_chunk(node, chunk));
    if let Some(mut loc) = txn.get::<ChunkLoc>(Cf::ChunkLoc, &keys::chunk_loc(chunk))? {
        loc.replicas.retain(|n| *n != node);
        txn.put(Cf::ChunkLoc, &keys::chunk_loc(chunk), &loc)?;
        if loc.refcount > 0 {
            queue::push(txn, Queue::Repair, now_ms, chunk, &[], reason)?;
        }
    }
    Ok(())
}

/// Forgets `node`'s copy of `chunk` (it has no good one) in a synced transaction of its own,
/// queueing the chunk for repair: what a node's report and a failed repair source both do.
pub(crate) fn forget_bad_copy(
    store: &Store,
    node: NodeId,
    chunk: ChunkId,
    reason: &str,
) -> Result<(), RpcError> {
    let mut txn = store.begin();
    forget_replica(&mut txn, node, chunk, reason, crate::clock::steady_ms())?;
    txn.commit(true)?;
    Ok(())
}

/// What [`Nodes::chunk_health`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkHealth {
    /// Referenced chunks.
    pub chunks: u64,
    /// Chunks with fewer live replicas than the replication factor.
    pub under_replicated: u64,
    /// Chunks with no live replica at all (unreadable until a holder returns).
    pub lost: u64,
}

//! The chunkd registry on a real RocksDB: registration, death and the bounded sweep of a dead
//! node's chunks.

use super::sweep::{pending, SweepStep};
use super::Nodes;
use crate::ns::tests::{chunk_ids, fixture, loc, put, queued, register, stat, Fixture};
use crate::store::queue::Queue;
use crate::store::{keys, Cf, Reader, Store};
use dfs_common::wire::*;
use dfs_common::{ChunkId, ErrorCode, ErrorDetail, NodeId};
use std::time::Duration;

/// Runs the sweep of dead nodes, `limit` rows per batch, until none is pending.
fn sweep_all(f: &Fixture, limit: usize) -> Vec<SweepStep> {
    sweep_until_done(&f.nodes, &f.store, limit)
}

fn sweep_until_done(nodes: &Nodes, store: &Store, limit: usize) -> Vec<SweepStep> {
    let mut steps = Vec::new();
    while let Some(step) = nodes.sweep_dead(store, limit).unwrap() {
        steps.push(step);
        assert!(steps.len() < 100_000, "the sweep makes no progress");
    }
    steps
}

/// The chunks metad believes `node` holds, in order.
pub(crate) fn held(store: &Store, node: NodeId) -> Vec<ChunkId> {
    let mut out = Vec::new();
    store
        .view()
        .scan_raw(
            Cf::NodeChunk,
            &keys::node_chunk_prefix(node),
            None,
            &mut |key, _| {
                out.extend(keys::parse_node_chunk(key).map(|(_, c)| c));
                Ok(true)
            },
        )
        .unwrap();
    out
}

/// Twelve chunks on three nodes (two replicas each); returns the node holding the most and
/// what it holds (at least 8 of the 24 copies).
fn loaded(f: &Fixture) -> (NodeId, Vec<ChunkId>) {
    put(&f.ns, "/b/f", 6).unwrap();
    put(&f.ns, "/b/g", 6).unwrap();
    let victim = (1..=3)
        .map(NodeId)
        .max_by_key(|n| held(&f.store, *n).len())
        .unwrap();
    let chunks = held(&f.store, victim);
    assert!(chunks.len() >= 8, "{chunks:?}");
    (victim, chunks)
}

#[test]
fn registration_reconciles_chunks() {
    let f = fixture();
    put(&f.ns, "/b/f", 1).unwrap();
    let chunk = chunk_ids(&f.ns, "/b/f")[0];
    let holders = loc(&f.store, chunk).unwrap().replicas;
    let holder = holders[0];
    // The holder comes back without the chunk but with an unknown one.
    let (id, delete) = register(
        &f.store,
        &f.nodes,
        &f.ns,
        Some(holder),
        9,
        vec![ChunkId(4242)],
    );
    assert_eq!(id, holder);
    assert_eq!(delete, [ChunkId(4242)]);
    assert!(!loc(&f.store, chunk).unwrap().replicas.contains(&holder));
    assert_eq!(queued(&f.store, Queue::Repair), [chunk]);
    // It reports the chunk again while the chunk is short of replicas: it is used again.
    register(&f.store, &f.nodes, &f.ns, Some(holder), 9, vec![chunk]);
    assert!(loc(&f.store, chunk).unwrap().replicas.contains(&holder));
    // A third node reporting a copy the chunk does not need is told to delete it.
    let third = (1..=3).map(NodeId).find(|n| !holders.contains(n)).unwrap();
    let (_, delete) = register(&f.store, &f.nodes, &f.ns, Some(third), 3, vec![chunk]);
    assert_eq!(delete, [chunk]);
}

#[test]
fn dead_nodes_are_skipped_and_their_chunks_queued() {
    let f = fixture();
    put(&f.ns, "/b/f", 2).unwrap();
    let chunks = chunk_ids(&f.ns, "/b/f");
    let victim = loc(&f.store, chunks[0]).unwrap().replicas[0];
    assert!(f.nodes.mark_dead(&f.store, victim, Duration::ZERO).unwrap());
    assert!(!f.nodes.is_live(victim));
    sweep_all(&f, 10_000);
    let repairs = queued(&f.store, Queue::Repair);
    assert!(repairs.contains(&chunks[0]));
    let status = f.nodes.status(&f.store, 2).unwrap();
    assert_eq!(status.chunks, 2);
    assert_eq!(status.under_replicated as usize, repairs.len());
    let stat = stat(&f.ns, "/b/f").unwrap();
    let replicas = &stat.chunks[0].replicas;
    assert!(
        replicas[0].live && !replicas[1].live,
        "live replicas come first"
    );
    // Two live nodes left: enough for replication 2, but not when one is excluded.
    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/b/g".parse().unwrap(),
        })
        .unwrap();
    for _ in 0..20 {
        let alloc =
            f.ns.alloc_chunk(&AllocChunkReq {
                session: open.session,
                exclude: vec![],
            })
            .unwrap();
        assert!(alloc.replicas.iter().all(|r| r.node != victim));
    }
    let live = (1..=3).map(NodeId).find(|n| *n != victim).unwrap();
    let err =
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![live],
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotEnoughNodes);
    assert!(
        err.message.contains("need 2 live chunkds, 2 alive"),
        "{err}"
    );
    // A dead node's heartbeat is refused: it must register again to be reconciled.
    let hb = f.nodes.heartbeat(&HeartbeatReq {
        node_id: victim,
        addr: "127.0.0.1:1".into(),
        capacity: 1,
        used: 0,
    });
    assert!(!hb.known);
}

/// A chunk whose every replica is dead is counted apart, as lost, and still as
/// under-replicated.
#[test]
fn status_counts_chunks_with_no_live_copy() {
    let f = fixture();
    put(&f.ns, "/b/f", 1).unwrap();
    let chunk = chunk_ids(&f.ns, "/b/f")[0];
    let replicas = loc(&f.store, chunk).unwrap().replicas;
    assert!(f
        .nodes
        .mark_dead(&f.store, replicas[0], Duration::ZERO)
        .unwrap());
    let status = f.nodes.status(&f.store, 2).unwrap();
    assert_eq!((status.under_replicated, status.lost), (1, 0));
    assert!(f
        .nodes
        .mark_dead(&f.store, replicas[1], Duration::ZERO)
        .unwrap());
    let status = f.nodes.status(&f.store, 2).unwrap();
    assert_eq!((status.under_replicated, status.lost), (1, 1));
}

/// Every node reports itself full: an allocation fails with `StorageFull`, which clients do
/// not retry, and not with the `NotEnoughNodes` of a node that is down.
#[test]
fn a_full_cluster_refuses_allocations_as_full() {
    let f = fixture();
    for id in 1..=3 {
        let hb = f.nodes.heartbeat(&HeartbeatReq {
            node_id: NodeId(id),
            addr: format!("127.0.0.1:{id}"),
            capacity: 1 << 30,
            used: (1 << 30) - 1024,
        });
        assert!(hb.known);
    }
    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/b/full".parse().unwrap(),
        })
        .unwrap();
    let err =
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
        .unwrap_err();
    assert!(err.is(ErrorDetail::StorageFull), "{err:?}");
    assert_eq!(err.code, ErrorCode::NotEnoughNodes);
    assert!(err.message.contains("3 of them full"), "{err}");
}

#[test]
fn death_is_one_small_batch_and_the_sweep_is_bounded() {
    let f = fixture();
    let (victim, chunks) = loaded(&f);
    assert!(f.nodes.mark_dead(&f.store, victim, Duration::ZERO).unwrap());
    // Declared dead: nothing queued yet, the sweep waits.
    assert!(queued(&f.store, Queue::Repair).is_empty());
    assert_eq!(pending(&f.store.view()).unwrap(), 1);
    assert_eq!(f.nodes.status(&f.store, 2).unwrap().dead_node_sweeps, 1);
    // Batches of 3 rows: 2 repair items and the sweep's cursor.
    let steps = sweep_all(&f, 3);
    assert!(
        steps.iter().all(|s| s.node == victim && s.queued <= 2),
        "{steps:?}"
    );
    assert_eq!(steps.len(), chunks.len().div_ceil(2), "{steps:?}");
    let finished: Vec<bool> = steps.iter().map(|s| s.finished).collect();
    assert_eq!(finished.iter().filter(|f| **f).count(), 1);
    assert_eq!(finished.last(), Some(&true));
    assert_eq!(queued(&f.store, Queue::Repair), chunks);
    assert_eq!(pending(&f.store.view()).unwrap(), 0);
    assert_eq!(f.nodes.status(&f.store, 2).unwrap().dead_node_sweeps, 0);
}

#[test]
fn a_restart_resumes_the_sweep() {
    let f = fixture();
    let (victim, chunks) = loaded(&f);
    assert!(f.nodes.mark_dead(&f.store, victim, Duration::ZERO).unwrap());
    for _ in 0..2 {
        assert!(!f.nodes.sweep_dead(&f.store, 3).unwrap().unwrap().finished);
    }
    assert_eq!(queued(&f.store, Queue::Repair), chunks[..4]);
    let f = f.reopen();
    assert!(!f.nodes.is_live(victim));
    assert_eq!(pending(&f.store.view()).unwrap(), 1);
    let steps = sweep_until_done(&f.nodes, &f.store, 3);
    // It went on after the cursor: the first four were not queued again.
    assert_eq!(
        steps.iter().map(|s| s.queued).sum::<usize>(),
        chunks.len() - 4
    );
    assert_eq!(queued(&f.store, Queue::Repair), chunks);
}

#[test]
fn a_node_that_returns_cancels_its_sweep() {
    let f = fixture();
    let (victim, chunks) = loaded(&f);
    assert!(f.nodes.mark_dead(&f.store, victim, Duration::ZERO).unwrap());
    assert!(!f.nodes.sweep_dead(&f.store, 3).unwrap().unwrap().finished);
    // It registers again with everything it held: kept, and the sweep ends.
    let (_, delete) = register(&f.store, &f.nodes, &f.ns, Some(victim), 9, chunks.clone());
    assert!(delete.is_empty());
    assert!(f.nodes.is_live(victim));
    assert_eq!(pending(&f.store.view()).unwrap(), 0);
    assert_eq!(f.nodes.sweep_dead(&f.store, 3).unwrap(), None);
    assert_eq!(held(&f.store, victim), chunks);
    // The two items queued before it came back are for chunks that are whole again.
    let repairs = queued(&f.store, Queue::Repair);
    assert_eq!(repairs, chunks[..2]);
    for chunk in repairs {
        let replicas = loc(&f.store, chunk).unwrap().replicas;
        assert_eq!(f.nodes.live_count(&replicas), 2);
    }
    // Dead again: a fresh sweep from its first chunk (the two older items may still be there
    // beside the new ones, due a little earlier).
    assert!(f.nodes.mark_dead(&f.store, victim, Duration::ZERO).unwrap());
    let steps = sweep_all(&f, 10_000);
    assert_eq!(steps.iter().map(|s| s.queued).sum::<usize>(), chunks.len());
    let mut repairs = queued(&f.store, Queue::Repair);
    repairs.dedup();
    assert_eq!(repairs, chunks);
}

//! Open write sessions across restarts: their mirror is node-local (the `local` table), and a
//! database written before schema 7, with the mirror in the `session` table, keeps them.

use super::{open_at, register, stat};
use crate::store::{keys, Cf, Reader, Store};
use dfs_common::wire::*;
use dfs_common::SessionId;
use std::path::Path;

/// Opens a session on `/b/f` and allocates one chunk in it; returns what `commit` needs.
fn open_session(dir: &Path) -> (SessionId, WrittenChunk) {
    let (store, nodes, ns) = open_at(dir);
    for port in 1..=3 {
        register(&store, &nodes, &ns, None, port, vec![]);
    }
    super::mkdir(&ns, "/b", false).unwrap();
    let open = ns
        .begin_write(&BeginWriteReq {
            path: "/b/f".parse().unwrap(),
        })
        .unwrap();
    let alloc = ns
        .alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
        .unwrap();
    let chunk = WrittenChunk {
        id: alloc.chunk_id,
        len: 10,
        crc32c: 0,
        replicas: alloc.replicas.iter().map(|r| r.node).collect(),
    };
    (open.session, chunk)
}

fn commit(ns: &crate::ns::Namespace, session: SessionId, chunk: WrittenChunk) -> Entry {
    ns.commit(&CommitReq {
        checksum: None,
        session,
        size: 10,
        etag: "\"e\"".into(),
        content_type: None,
        meta: vec![],
        chunks: vec![chunk],
        if_none_match: false,
        if_match: None,
    })
    .unwrap()
}

/// The session mirror rows of the sessions themselves: (session id, raw value).
fn mirror(store: &Store) -> Vec<(SessionId, Vec<u8>)> {
    mirror_rows(store)
        .into_iter()
        .filter_map(|((id, index), value)| index.is_none().then_some((id, value)))
        .collect()
}

/// A session mirror row: (session id, chunk index of a chunk row), and its raw value.
type MirrorRow = ((SessionId, Option<u32>), Vec<u8>);

/// Every session mirror row.
fn mirror_rows(store: &Store) -> Vec<MirrorRow> {
    let mut rows = Vec::new();
    store
        .view()
        .scan_raw(Cf::Local, keys::local::SESSION_PREFIX, None, &mut |k, v| {
            rows.push((keys::local::parse_session_row(k).unwrap(), v.to_vec()));
            Ok(true)
        })
        .unwrap();
    rows
}

#[test]
fn an_open_session_survives_a_restart_in_the_node_local_table() {
    let dir = tempfile::tempdir().unwrap();
    let (session, chunk) = open_session(dir.path());
    let (store, _nodes, ns) = open_at(dir.path());
    assert_eq!(mirror(&store).len(), 1);
    assert_eq!(mirror(&store)[0].0, session);
    assert!(!store.view().any_with_prefix(Cf::Session, &[]).unwrap());
    let entry = commit(&ns, session, chunk);
    assert_eq!(stat(&ns, "/b/f").unwrap().entry.inode, entry.inode);
    // The commit's batch deleted the mirror rows, the session's and its chunk's.
    assert!(mirror_rows(&store).is_empty());
}

/// Each allocation writes one small row for its chunk, not the session again: the session's
/// own row keeps its size however many chunks it gets. After a restart the session has every
/// chunk with its replicas (a replacement node included), and its commit or abort deletes
/// every row.
#[test]
fn a_session_mirrors_one_row_per_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let (session, _) = open_session(dir.path());
    let (store, nodes, ns) = open_at(dir.path());
    let row_len = mirror(&store)[0].1.len();
    let mut allocated = Vec::new();
    for _ in 0..50 {
        let alloc = ns
            .alloc_chunk(&AllocChunkReq {
                session,
                exclude: vec![],
            })
            .unwrap();
        allocated.push(alloc.chunk_id);
    }
    let replaced = ns
        .replace_replica(&ReplaceReplicaReq {
            session,
            chunk_id: allocated[7],
            exclude: vec![],
        })
        .unwrap();
    assert_eq!(mirror(&store)[0].1.len(), row_len);
    let rows = mirror_rows(&store);
    let chunk_rows: Vec<u32> = rows.iter().filter_map(|((_, i), _)| *i).collect();
    assert_eq!(chunk_rows, (0..51).collect::<Vec<u32>>());
    drop((store, nodes, ns));

    let (store, _nodes, ns) = open_at(dir.path());
    let held = ns.sessions().chunk_nodes(session, allocated[7]).unwrap();
    assert!(held.contains(&replaced.node), "{held:?}");
    assert!(ns.sessions().has_chunk(allocated[49]));
    ns.abort(&AbortReq { session }).unwrap();
    assert!(mirror_rows(&store).is_empty());
}

/// Rewrites the session mirror as metad wrote it before schema 7: in the `session` table under
/// the bare session id (direct unsynced puts), with the probe's key in `meta`.
fn downgrade_to_schema_6(dir: &Path) {
    let store = Store::open(&dir.join("db")).unwrap();
    let rows = mirror(&store);
    assert!(!rows.is_empty());
    let db = store.db();
    let (session, local) = (Cf::Session.name(), Cf::Local.name());
    let (session, local) = (db.cf_handle(session).unwrap(), db.cf_handle(local).unwrap());
    for (id, value) in &rows {
        db.put_cf(session, id.to_be_bytes(), value).unwrap();
        db.delete_cf(local, keys::local::session(*id)).unwrap();
    }
    let meta = db.cf_handle(Cf::Meta.name()).unwrap();
    db.put_cf(meta, keys::meta::LEGACY_HEALTH, 1u64.to_be_bytes())
        .unwrap();
    db.put_cf(
        meta,
        keys::meta::SCHEMA,
        crate::store::values::Value::encode(&crate::store::values::Schema { version: 6 }).unwrap(),
    )
    .unwrap();
    assert!(mirror(&store).is_empty());
}

#[test]
fn sessions_of_a_schema_6_database_are_still_open_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (session, chunk) = open_session(dir.path());
    downgrade_to_schema_6(dir.path());
    let (store, _nodes, ns) = open_at(dir.path());
    assert_eq!(mirror(&store).len(), 1);
    assert!(!store.view().any_with_prefix(Cf::Session, &[]).unwrap());
    // The session is known again: its writer can commit it, as before the upgrade.
    let entry = commit(&ns, session, chunk);
    assert_eq!(stat(&ns, "/b/f").unwrap().entry.size, 10);
    assert_eq!(stat(&ns, "/b/f").unwrap().entry.inode, entry.inode);
    assert!(mirror(&store).is_empty());
}

/// A write session holds at most `SliceCaps::session` chunks: the next allocation is refused
/// as too large, the session stays open (its chunks are collected by an abort) and nothing is
/// visible at the path; a file of exactly the cap commits.
#[test]
fn a_session_refuses_chunks_over_its_cap_and_stays_open_for_an_abort() {
    let mut f = super::fixture();
    f.ns.settings.slice_caps.session = 3;
    assert_eq!(super::put(&f.ns, "/b/full", 3).unwrap().chunk_count, 3);

    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/b/over".parse().unwrap(),
        })
        .unwrap();
    let alloc = || {
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
    };
    let allocated: Vec<_> = (0..3).map(|_| alloc().unwrap().chunk_id).collect();
    let err = alloc().unwrap_err();
    assert_eq!(err.detail, dfs_common::ErrorDetail::EntityTooLarge, "{err}");
    assert!(err.message.contains("multipart upload"), "{err}");
    assert!(stat(&f.ns, "/b/over").is_err());
    f.ns.abort(&AbortReq {
        session: open.session,
    })
    .unwrap();
    assert_eq!(super::queued(&f.store, super::Queue::Gc), allocated);
}

/// A session expires when idle, not when old: a chunk allocated after the cut-off keeps a
/// long upload alive.
#[test]
fn a_session_expires_when_idle_not_when_old() {
    let f = super::fixture();
    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/b/slow".parse().unwrap(),
        })
        .unwrap();
    let idle = std::time::Duration::from_millis(20);
    std::thread::sleep(idle * 2);
    assert_eq!(f.ns.sessions.expired(idle), [open.session]);
    f.ns.alloc_chunk(&AllocChunkReq {
        session: open.session,
        exclude: vec![],
    })
    .unwrap();
    assert!(f.ns.sessions.expired(idle).is_empty());
}

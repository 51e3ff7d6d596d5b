//! Tests of the store: transactions, schema upgrades, ids, and the one write path.

use super::test_util::temp_store;
use super::values::Counter;
use super::*;

fn keys_of(r: &impl Reader, prefix: &[u8], after: Option<&[u8]>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    r.scan_raw(Cf::Meta, prefix, after, &mut |k, _| {
        out.push(k.to_vec());
        Ok(true)
    })
    .unwrap();
    out
}

#[test]
fn txn_sees_its_own_writes_and_commits_atomically() {
    let (_dir, store) = temp_store();
    let c = Counter { next: 1 };
    let mut txn = store.begin();
    for key in [b"p1".as_slice(), b"p3", b"p5", b"q1"] {
        txn.put(Cf::Meta, key, &c).unwrap();
    }
    txn.commit(true).unwrap();

    let mut txn = store.begin();
    txn.delete(Cf::Meta, b"p3");
    txn.put(Cf::Meta, b"p2", &c).unwrap();
    txn.put(Cf::Meta, b"p6", &c).unwrap();
    assert_eq!(keys_of(&txn, b"p", None), [b"p1", b"p2", b"p5", b"p6"]);
    assert_eq!(keys_of(&txn, b"p", Some(b"p2")), [b"p5", b"p6"]);
    // Strictly after a stored key, whether or not it is being deleted.
    assert_eq!(keys_of(&txn, b"p", Some(b"p1")), [b"p2", b"p5", b"p6"]);
    assert_eq!(keys_of(&txn, b"p", Some(b"p3")), [b"p5", b"p6"]);
    assert!(store.view().get_raw(Cf::Meta, b"p2").unwrap().is_none());
    drop(txn); // never committed: nothing happened
    assert_eq!(keys_of(&store.view(), b"p", None), [b"p1", b"p3", b"p5"]);
    assert_eq!(keys_of(&store.view(), b"p", Some(b"p3")), [b"p5"]);
}

#[test]
fn older_databases_are_upgraded_and_newer_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    for old in [1, 2, 3, 4, 5] {
        {
            let store = Store::open(dir.path()).unwrap();
            let mut txn = store.begin();
            txn.put(Cf::Meta, keys::meta::SCHEMA, &Schema { version: old })
                .unwrap();
            txn.commit(true).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let schema: Schema = store
            .view()
            .get(Cf::Meta, keys::meta::SCHEMA)
            .unwrap()
            .unwrap();
        assert_eq!(schema.version, SCHEMA_VERSION, "from {old}");
    }
    {
        let store = Store::open(dir.path()).unwrap();
        let schema: Schema = store
            .view()
            .get(Cf::Meta, keys::meta::SCHEMA)
            .unwrap()
            .unwrap();
        assert_eq!(schema.version, SCHEMA_VERSION);
        let mut txn = store.begin();
        txn.put(Cf::Meta, keys::meta::SCHEMA, &Schema { version: 99 })
            .unwrap();
        txn.commit(true).unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("schema version 99"), "{err}");
}

#[test]
fn ids_are_unique_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<u64> = {
        let store = Store::open(dir.path()).unwrap();
        (0..5)
            .map(|_| store.next_id(IdKind::Chunk).unwrap())
            .collect()
    };
    let store = Store::open(dir.path()).unwrap();
    let next = store.next_id(IdKind::Chunk).unwrap();
    assert!(first.iter().all(|id| *id < next), "{first:?} then {next}");
    assert!(store.next_id(IdKind::Inode).unwrap() > dfs_common::InodeId::ROOT.0);
    store.reserve_id(IdKind::Node, 5000).unwrap();
    assert!(store.next_id(IdKind::Node).unwrap() > 5000);
}

#[test]
fn id_blocks_are_reserved_through_the_group() {
    let (_dir, store, seen) = test_util::recording_store();
    let applied = crate::group::apply::applied_seq(store.db()).unwrap();
    let first = store.next_id(IdKind::Chunk).unwrap();
    for _ in 1..ids::BLOCK {
        store.next_id(IdKind::Chunk).unwrap();
    }
    // One reservation for the whole block, then the next block on the id after it.
    let expected = |next: u64| {
        vec![TxnEffects::one(crate::group::Write::new(
            Cf::Meta,
            keys::meta::NEXT_CHUNK.to_vec(),
            Some(Counter { next }.encode().unwrap()),
        ))]
    };
    assert_eq!(
        seen.lock().unwrap().reservations,
        expected(first + ids::BLOCK)
    );
    assert_eq!(store.next_id(IdKind::Chunk).unwrap(), first + ids::BLOCK);
    let mut both = expected(first + ids::BLOCK);
    both.extend(expected(first + 2 * ids::BLOCK));
    assert_eq!(seen.lock().unwrap().reservations, both);
    assert!(seen.lock().unwrap().commits.is_empty());
    // Each reservation is a batch of its own, applied to the state.
    let now = crate::group::apply::applied_seq(store.db()).unwrap();
    assert_eq!(now, applied + 2);
    let stored: Counter = store
        .view()
        .get(Cf::Meta, keys::meta::NEXT_CHUNK)
        .unwrap()
        .unwrap();
    assert_eq!(stored.next, first + 2 * ids::BLOCK);
}

#[test]
fn node_local_writes_bypass_the_group_and_the_replicated_tables() {
    let (_dir, store, seen) = test_util::recording_store();
    let applied = crate::group::apply::applied_seq(store.db()).unwrap();
    store.check_writable().unwrap();
    store
        .put_local(
            &keys::local::session(dfs_common::SessionId(3)),
            &Counter { next: 1 },
        )
        .unwrap();
    let view = store.view();
    assert!(view
        .get_raw(Cf::Local, keys::local::HEALTH)
        .unwrap()
        .is_some());
    assert!(view
        .get_raw(Cf::Meta, keys::meta::LEGACY_HEALTH)
        .unwrap()
        .is_none());
    assert!(!view.any_with_prefix(Cf::Session, &[]).unwrap());
    assert!(view
        .any_with_prefix(Cf::Local, keys::local::SESSION_PREFIX)
        .unwrap());
    let seen = seen.lock().unwrap();
    assert!(seen.commits.is_empty() && seen.reservations.is_empty());
    let now = crate::group::apply::applied_seq(store.db()).unwrap();
    assert_eq!(now, applied);
}

/// Writes rows the way metad wrote them before schema 7: sessions in the `session` table under
/// their bare id, the probe's key in `meta`, both with direct unsynced puts.
fn write_like_schema_6(store: &Store, sessions: &[(u64, &[u8])]) {
    let db = store.db();
    let table = db.cf_handle(Cf::Session.name()).unwrap();
    for (id, value) in sessions {
        db.put_cf(table, id.to_be_bytes(), value).unwrap();
    }
    let meta = db.cf_handle(Cf::Meta.name()).unwrap();
    db.put_cf(meta, keys::meta::LEGACY_HEALTH, 7u64.to_be_bytes())
        .unwrap();
    let mut txn = store.begin();
    txn.put(Cf::Meta, keys::meta::SCHEMA, &Schema { version: 6 })
        .unwrap();
    txn.commit(true).unwrap();
}

#[test]
fn a_schema_6_database_moves_its_node_local_rows_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        write_like_schema_6(&store, &[(5, b"five"), (9, b"nine")]);
    }
    // Twice: the move happens at the first open, the second finds nothing to move.
    for _ in 0..2 {
        let store = Store::open(dir.path()).unwrap();
        let view = store.view();
        let mut moved = Vec::new();
        view.scan_raw(Cf::Local, keys::local::SESSION_PREFIX, None, &mut |k, v| {
            moved.push((keys::local::parse_session_row(k).unwrap().0 .0, v.to_vec()));
            Ok(true)
        })
        .unwrap();
        assert_eq!(moved, [(5, b"five".to_vec()), (9, b"nine".to_vec())]);
        assert!(!view.any_with_prefix(Cf::Session, &[]).unwrap());
        assert!(view
            .get_raw(Cf::Meta, keys::meta::LEGACY_HEALTH)
            .unwrap()
            .is_none());
        let schema: Schema = view.get(Cf::Meta, keys::meta::SCHEMA).unwrap().unwrap();
        assert_eq!(schema.version, SCHEMA_VERSION);
    }
}

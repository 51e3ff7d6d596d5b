//! Paged reconciliation: pages must come in order and in shape, and a node's chunks come out
//! kept, lost (repaired from another copy) or unreferenced (deleted) as with one registration,
//! while a chunk written during the registration is never counted lost.

use super::*;
use crate::nodes::tests::held;
use crate::ns::tests::{chunk_ids, code, fixture, loc, put, queued, Fixture};
use crate::store::queue::Queue;
use dfs_common::ErrorCode;

/// The node holding the first replica of `path`'s first chunk.
fn holder(f: &Fixture, path: &str) -> (NodeId, ChunkId) {
    let chunk = chunk_ids(&f.ns, path)[0];
    (loc(&f.store, chunk).unwrap().replicas[0], chunk)
}

/// Begins a paged registration of `node` (as `Nodes::register` does).
fn begin(f: &Fixture, regs: &Registrations, node: NodeId) {
    regs.begin(node, Scope::begin(&f.store, f.ns.sessions()).unwrap());
}

fn page(
    f: &Fixture,
    regs: &Registrations,
    node: NodeId,
    after: Option<ChunkId>,
    chunks: &[ChunkId],
    last: bool,
) -> Result<ReconcileResp, RpcError> {
    let req = ReconcileReq {
        node_id: node,
        after,
        chunks: chunks.to_vec(),
        last,
    };
    regs.page(&f.store, &f.nodes, f.ns.sessions(), 2, &req)
}

#[test]
fn pages_find_kept_lost_and_unreferenced_chunks() {
    let f = fixture();
    for i in 0..12 {
        put(&f.ns, &format!("/b/f{i}"), 1).unwrap();
    }
    let (node, _) = holder(&f, "/b/f0");
    let mut expected = held(&f.store, node);
    assert!(expected.len() >= 5, "{expected:?}");
    // The node lost its copies of two chunks, one in each page's range, and holds one metad
    // never heard of.
    let lost_late = expected.pop().unwrap();
    let lost_early = expected.remove(1);
    let stranger = ChunkId(1 << 40);
    let mut reported = expected.clone();
    reported.push(stranger);

    let regs = Registrations::default();
    begin(&f, &regs, node);
    let (first, rest) = reported.split_at(2);
    let one = page(&f, &regs, node, None, first, false).unwrap();
    assert!(one.delete.is_empty());
    let two = page(&f, &regs, node, first.last().copied(), rest, true).unwrap();
    assert_eq!(two.delete, [stranger]);
    assert_eq!(held(&f.store, node), expected);
    for lost in [lost_early, lost_late] {
        assert!(!loc(&f.store, lost).unwrap().replicas.contains(&node));
        assert!(queued(&f.store, Queue::Repair).contains(&lost));
    }
    // The registration is over: another page is refused.
    let err = page(&f, &regs, node, None, &[], true).unwrap_err();
    assert_eq!(err.detail, ErrorDetail::NoSuchSession);
}

#[test]
fn a_page_out_of_order_ends_the_registration() {
    let f = fixture();
    put(&f.ns, "/b/f", 1).unwrap();
    let (node, chunk) = holder(&f, "/b/f");
    let regs = Registrations::default();
    begin(&f, &regs, node);
    let skipped = page(&f, &regs, node, Some(chunk), &[], true).unwrap_err();
    assert_eq!(skipped.detail, ErrorDetail::NoSuchSession);
    // Nothing was decided from the refused page, and the node must start over.
    assert_eq!(held(&f.store, node), [chunk]);
    let again = page(&f, &regs, node, None, &[chunk], true).unwrap_err();
    assert_eq!(again.detail, ErrorDetail::NoSuchSession);
}

#[test]
fn a_chunk_written_during_the_registration_is_not_lost() {
    let f = fixture();
    put(&f.ns, "/b/before", 1).unwrap();
    let (node, before) = holder(&f, "/b/before");
    let regs = Registrations::default();
    begin(&f, &regs, node);
    // Written and committed after the node listed its chunks: not in any page.
    let mut during = None;
    for i in 0..20 {
        let path = format!("/b/during{i}");
        put(&f.ns, &path, 1).unwrap();
        let chunk = chunk_ids(&f.ns, &path)[0];
        if loc(&f.store, chunk).unwrap().replicas.contains(&node) {
            during = Some(chunk);
            break;
        }
    }
    let during = during.expect("one of 20 chunks lands on the node");
    page(&f, &regs, node, None, &[before], true).unwrap();
    assert!(held(&f.store, node).contains(&during));
    assert!(!queued(&f.store, Queue::Repair).contains(&during));
}

#[test]
fn malformed_pages_are_refused() {
    let f = fixture();
    let regs = Registrations::default();
    let node = NodeId(1);
    begin(&f, &regs, node);
    let bad = |after, chunks: &[u64], last| {
        let ids: Vec<ChunkId> = chunks.iter().map(|c| ChunkId(*c)).collect();
        code(page(&f, &regs, node, after, &ids, last))
    };
    assert_eq!(bad(None, &[3, 2], true), ErrorCode::InvalidArgument);
    assert_eq!(bad(None, &[2, 2], true), ErrorCode::InvalidArgument);
    assert_eq!(
        bad(Some(ChunkId(5)), &[4], true),
        ErrorCode::InvalidArgument
    );
    assert_eq!(bad(None, &[], false), ErrorCode::InvalidArgument);
    let too_many: Vec<u64> = (1..=MAX_RECONCILE_PAGE as u64 + 1).collect();
    assert_eq!(bad(None, &too_many, true), ErrorCode::InvalidArgument);
    // None of them consumed the registration.
    assert!(page(&f, &regs, node, None, &[], true).is_ok());
}

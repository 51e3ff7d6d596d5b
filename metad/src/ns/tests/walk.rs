//! The design's central claim, checked on random S3-like keys: with directory names ending in
//! `/`, a depth-first walk of the tree lists keys exactly in S3's (bytewise) order.

use super::{mkdir, open_at, put};
use crate::ns::Namespace;
use dfs_common::wire::{EntryKind, ListReq};
use proptest::prelude::*;

/// Walks the tree depth first, emitting file keys relative to `prefix`.
fn walk(ns: &Namespace, dir: &str, prefix: &str, out: &mut Vec<String>) {
    let mut after: Option<String> = None;
    loop {
        let page = ns
            .list(&ListReq {
                path: dir.parse().unwrap(),
                start_after: after.clone(),
                limit: 7,
            })
            .unwrap();
        for entry in &page.entries {
            let key = format!("{prefix}{}", entry.name);
            match entry.kind {
                EntryKind::File => out.push(key),
                EntryKind::Dir => walk(ns, &format!("{dir}{}", entry.name), &key, out),
            }
        }
        match (page.truncated, page.entries.last()) {
            (true, Some(last)) => after = Some(last.name.clone()),
            _ => return,
        }
    }
}

fn s3_key() -> impl Strategy<Value = String> {
    let alphabet = vec!['/', '-', '.', '0', 'a', 'é', '日'];
    prop::collection::vec(prop::sample::select(alphabet), 1..8)
        .prop_map(|chars| chars.into_iter().collect::<String>())
        .prop_filter("a file key cannot end in /", |k| !k.ends_with('/'))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Files created from random keys (empty segments included) come back in key order.
    #[test]
    fn depth_first_walk_is_s3_key_order(keys in prop::collection::btree_set(s3_key(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let (store, nodes, ns) = open_at(dir.path());
        mkdir(&ns, "/bkt", false).unwrap();
        for key in &keys {
            put(&ns, &format!("/bkt/{key}"), 0).unwrap();
        }
        let mut walked = Vec::new();
        walk(&ns, "/bkt/", "", &mut walked);
        let expected: Vec<String> = keys.iter().cloned().collect();
        prop_assert_eq!(walked, expected);
        drop((store, nodes));
    }
}

//! ListObjects against a model: a sorted set of keys, filtered and grouped the way S3 does,
//! compared page by page through pagination with small pages, for many prefixes, delimiters
//! and resume points, on keys chosen to stress the ordering (`a`, `a-b`, `a/`, `a/b`, `a0`,
//! `a//b`, Unicode, spaces).

use crate::ns::tests::{mkdir, open_at, put};
use crate::ns::Namespace;
use dfs_common::wire::{DirObject, ListObjectsReq, ListObjectsResp, MkdirReq, EMPTY_ETAG};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;

/// An item of a page, as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Key(String),
    Prefix(String),
}

impl Item {
    fn text(&self) -> &str {
        match self {
            Item::Key(k) | Item::Prefix(k) => k,
        }
    }
}

/// What S3 answers: keys with the prefix, after `start_after` (and, with a delimiter, not in
/// the common prefix `start_after` falls in), grouped by the first delimiter after the prefix.
fn model(
    keys: &BTreeSet<String>,
    prefix: &str,
    delimiter: Option<&str>,
    start_after: Option<&str>,
    max: usize,
) -> (Vec<Item>, bool) {
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let group = |key: &str| -> Option<String> {
        let d = delimiter?;
        let i = key[prefix.len()..].find(d)?;
        Some(key[..prefix.len() + i + d.len()].to_owned())
    };
    let skipped = start_after
        .filter(|s| s.starts_with(prefix))
        .and_then(group);
    let mut all: Vec<Item> = Vec::new();
    for key in keys {
        if !key.starts_with(prefix) || start_after.is_some_and(|s| key.as_str() <= s) {
            continue;
        }
        if skipped
            .as_ref()
            .is_some_and(|cp| key.starts_with(cp.as_str()))
        {
            continue;
        }
        let item = match group(key) {
            Some(cp) => Item::Prefix(cp),
            None => Item::Key(key.clone()),
        };
        if all.last() != Some(&item) {
            all.push(item);
        }
    }
    let truncated = all.len() > max;
    all.truncate(max);
    (all, truncated)
}

/// Merges a response's objects and prefixes back into one ordered list.
fn items(resp: &ListObjectsResp) -> Vec<Item> {
    let mut out: Vec<Item> = resp
        .objects
        .iter()
        .map(|o| Item::Key(o.key.clone()))
        .chain(resp.common_prefixes.iter().cloned().map(Item::Prefix))
        .collect();
    out.sort_by(|a, b| a.text().cmp(b.text()));
    out
}

fn list(
    ns: &Namespace,
    prefix: &str,
    delimiter: Option<&str>,
    start_after: Option<&str>,
    max: u32,
) -> ListObjectsResp {
    ns.list_objects(&ListObjectsReq {
        bucket: "bkt".parse().unwrap(),
        prefix: prefix.into(),
        delimiter: delimiter.map(str::to_owned),
        start_after: start_after.map(str::to_owned),
        max_keys: max,
    })
    .unwrap()
}

/// Stores every key: files, and explicit directories for keys ending in `/`.
fn build(ns: &Namespace, keys: &BTreeSet<String>) {
    mkdir(ns, "/bkt", false).unwrap();
    for key in keys {
        let path = format!("/bkt/{key}");
        if key.ends_with('/') {
            ns.mkdir(&MkdirReq {
                path: path.parse().unwrap(),
                parents: false,
                object: Some(DirObject {
                    checksum: None,
                    etag: format!("\"{key}\""),
                    content_type: None,
                    meta: vec![],
                }),
            })
            .unwrap();
        } else {
            put(ns, &path, 0).unwrap();
        }
    }
}

/// Pages through one query with pages of `max` and checks each page against the model.
fn check_query(
    ns: &Namespace,
    keys: &BTreeSet<String>,
    prefix: &str,
    delimiter: Option<&str>,
    start_after: Option<&str>,
    max: u32,
) {
    let mut after = start_after.map(str::to_owned);
    let (everything, _) = model(keys, prefix, delimiter, start_after, usize::MAX);
    let mut seen = Vec::new();
    for _ in 0..=everything.len() + 1 {
        let resp = list(ns, prefix, delimiter, after.as_deref(), max);
        let (want, truncated) = model(keys, prefix, delimiter, after.as_deref(), max as usize);
        let got = items(&resp);
        let what =
            format!("prefix {prefix:?} delimiter {delimiter:?} start_after {after:?} max {max}");
        assert_eq!(got, want, "{what}");
        assert_eq!(resp.truncated, truncated, "{what}");
        seen.extend(got);
        if !resp.truncated {
            assert_eq!(resp.next_start_after, None, "{what}");
            assert_eq!(seen, everything, "all pages of {what}");
            return;
        }
        let next = resp.next_start_after.clone();
        assert_eq!(next.as_deref(), seen.last().map(Item::text), "{what}");
        after = next;
    }
    panic!("pagination of {prefix:?} {delimiter:?} does not end");
}

const SPECIAL: [&str; 16] = [
    "a", "a-b", "a/", "a/b", "a0", "a//b", "a/b/c", "a/b-", "a/b/", "é/日", "é", "sp ace/x",
    "sp ace", "/lead", "z-/y", "z",
];

fn random_key(rng: &mut StdRng) -> String {
    let alphabet = ['a', 'b', '/', '-', '0', ' ', 'é', '日'];
    let len = rng.gen_range(1..7);
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
        .collect()
}

/// A random prefix of a random key (cut on a character boundary), or a random string.
fn random_prefix(rng: &mut StdRng, keys: &[&String]) -> String {
    if rng.gen_bool(0.2) {
        return random_key(rng);
    }
    let key = keys[rng.gen_range(0..keys.len())];
    let cut: Vec<usize> = key
        .char_indices()
        .map(|(i, _)| i)
        .chain([key.len()])
        .collect();
    key[..cut[rng.gen_range(0..cut.len())]].to_owned()
}

#[test]
fn pages_equal_the_model() {
    for seed in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut keys: BTreeSet<String> = SPECIAL.iter().map(|k| k.to_string()).collect();
        for _ in 0..50 {
            keys.insert(random_key(&mut rng));
        }
        let dir = tempfile::tempdir().unwrap();
        let (_store, _nodes, ns) = open_at(dir.path());
        build(&ns, &keys);
        let all: Vec<&String> = keys.iter().collect();
        let delimiters = [
            None,
            Some("/"),
            Some("-"),
            Some("b/"),
            Some("/b"),
            Some("日"),
        ];
        let mut fixed = vec![
            String::new(),
            "a".into(),
            "a/".into(),
            "a//".into(),
            "a/b".into(),
            "é".into(),
            "sp".into(),
            "zzz".into(),
            "nope/".into(),
        ];
        for _ in 0..25 {
            fixed.push(random_prefix(&mut rng, &all));
        }
        for prefix in &fixed {
            for delimiter in delimiters {
                let max = rng.gen_range(1..5);
                check_query(&ns, &keys, prefix, delimiter, None, max);
                let start = match rng.gen_range(0..3) {
                    0 => all[rng.gen_range(0..all.len())].clone(),
                    1 => random_prefix(&mut rng, &all),
                    _ => random_key(&mut rng),
                };
                check_query(&ns, &keys, prefix, delimiter, Some(&start), max);
                check_query(&ns, &keys, prefix, delimiter, Some(&start), 1000);
            }
        }
    }
}

#[test]
fn objects_carry_their_attributes_and_implicit_dirs_are_not_objects() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, _nodes, ns) = open_at(dir.path());
    let keys: BTreeSet<String> = ["d/", "d/f", "i/j/f"]
        .iter()
        .map(|k| k.to_string())
        .collect();
    build(&ns, &keys);
    mkdir(&ns, "/bkt/m", false).unwrap();
    let resp = list(&ns, "", None, None, 1000);
    let got: Vec<(&str, &str)> = resp
        .objects
        .iter()
        .map(|o| (o.key.as_str(), o.etag.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("d/", "\"d/\""),
            ("d/f", "\"e\""),
            ("i/j/f", "\"e\""),
            ("m/", EMPTY_ETAG)
        ]
    );
    assert!(!resp.truncated);
    // The prefix `d/` is the object `d/` itself, listed before its children.
    let resp = list(&ns, "d/", Some("/"), None, 1000);
    let keys: Vec<&str> = resp.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["d/", "d/f"]);
    let resp = list(&ns, "", Some("/"), None, 1000);
    assert_eq!(resp.common_prefixes, ["d/", "i/", "m/"]);
    assert!(resp.objects.is_empty());
    // max_keys 0: an empty, untruncated page; a missing bucket is NotFound.
    let resp = list(&ns, "", None, None, 0);
    assert!(resp.objects.is_empty() && !resp.truncated);
    let missing = ns.list_objects(&ListObjectsReq {
        bucket: "nob".parse().unwrap(),
        prefix: String::new(),
        delimiter: None,
        start_after: None,
        max_keys: 10,
    });
    assert_eq!(missing.unwrap_err().code, dfs_common::ErrorCode::NotFound);
}

#[test]
fn a_page_costs_in_proportion_to_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, _nodes, ns) = open_at(dir.path());
    mkdir(&ns, "/bkt", false).unwrap();
    for i in 0..300 {
        put(&ns, &format!("/bkt/big/f{i:03}"), 0).unwrap();
        put(&ns, &format!("/bkt/dash-{i:03}/x"), 0).unwrap();
    }
    put(&ns, "/bkt/z", 0).unwrap();
    let visits = |prefix: &str, delimiter: Option<&str>, after: Option<&str>| {
        let (resp, visited) = ns
            .list_objects_counted(&ListObjectsReq {
                bucket: "bkt".parse().unwrap(),
                prefix: prefix.into(),
                delimiter: delimiter.map(str::to_owned),
                start_after: after.map(str::to_owned),
                max_keys: 2,
            })
            .unwrap();
        (items(&resp), visited)
    };
    // `big/` is one common prefix: its 300 files are never read.
    let (page, visited) = visits("", Some("/"), None);
    assert_eq!(
        page,
        [
            Item::Prefix("big/".into()),
            Item::Prefix("dash-000/".into())
        ]
    );
    assert!(visited <= 4, "{visited}");
    // Resuming after a common prefix seeks past it.
    let (page, visited) = visits("", Some("/"), Some("big/"));
    assert_eq!(page[0], Item::Prefix("dash-000/".into()));
    assert!(visited <= 4, "{visited}");
    // Resuming inside a big directory seeks to the spot.
    let (page, visited) = visits("big/", None, Some("big/f150"));
    assert_eq!(
        page,
        [Item::Key("big/f151".into()), Item::Key("big/f152".into())]
    );
    assert!(visited <= 4, "{visited}");
    // A partial last component seeks too.
    let (page, visited) = visits("big/f29", None, None);
    assert_eq!(page[0], Item::Key("big/f290".into()));
    assert!(visited <= 4, "{visited}");
    // Another delimiter: `dash-` groups 300 directories, skipped by one seek.
    let (page, visited) = visits("", Some("-"), Some("big/f299"));
    assert_eq!(page, [Item::Prefix("dash-".into()), Item::Key("z".into())]);
    assert!(visited <= 4, "{visited}");
}

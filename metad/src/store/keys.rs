//! Every RocksDB key metad writes, built and parsed in this one module.
//!
//! Integers are fixed-width big-endian so that RocksDB's bytewise order is numeric order, and
//! names are raw UTF-8 bytes so that it is also S3's key order. A directory's name ends in `/`:
//! inside one parent, entries then sort exactly as the full S3 keys below them do (`a-b` <
//! `a/…` < `a0`), which lets a depth-first walk emit ListObjects order without any merge.

use dfs_common::{ChunkId, InodeId, NodeId};

/// Names of the counters and markers kept in the `meta` column family.
pub mod meta {
    /// Schema version of the database.
    pub const SCHEMA: &[u8] = b"schema";
    /// Upper bound (exclusive) of inode ids that may have been handed out.
    pub const NEXT_INODE: &[u8] = b"next_inode";
    /// Upper bound (exclusive) of chunk ids that may have been handed out.
    pub const NEXT_CHUNK: &[u8] = b"next_chunk";
    /// Upper bound (exclusive) of session ids that may have been handed out.
    pub const NEXT_SESSION: &[u8] = b"next_session";
    /// Upper bound (exclusive) of node ids that may have been handed out.
    pub const NEXT_NODE: &[u8] = b"next_node";
    /// Where the readiness probe wrote before schema version 7 (now [`super::local::HEALTH`]);
    /// deleted when an older database is upgraded.
    pub const LEGACY_HEALTH: &[u8] = b"health";
    /// Sequence number (8 bytes, big-endian) of the last batch of effects applied to the
    /// state: written in the same batch as the effects, so a batch is applied at most once.
    pub const GROUP_APPLIED: &[u8] = b"group/applied";
    /// Prefix of the rows the Raft state machine keeps about itself, written only by its
    /// apply, in the batch of the entries they describe: never in effects.
    pub const RAFT_PREFIX: &[u8] = b"raft/";
    /// The log id of the last entry applied (bincode `Option<LogId>`).
    pub const RAFT_APPLIED: &[u8] = b"raft/applied";
    /// The membership in force (bincode `StoredMembership`).
    pub const RAFT_MEMBERSHIP: &[u8] = b"raft/membership";
    /// The proposal fence (bincode `Fence`): which proposal may apply next.
    pub const RAFT_FENCE: &[u8] = b"raft/fence";
}

/// Keys of the node-local `local` column family: rows of this process only, never replicated.
pub mod local {
    use dfs_common::SessionId;

    /// Written (unsynced) by the readiness probe; its value, a time, is never read.
    pub const HEALTH: &[u8] = b"health";
    /// Prefix of the mirror of the open write sessions.
    pub const SESSION_PREFIX: &[u8] = b"session/";

    /// The mirror of open write session `session`: the prefix ‖ the session id.
    pub fn session(session: SessionId) -> Vec<u8> {
        session_from_legacy(&session.to_be_bytes())
    }

    /// The key of a session row of the former `session` table (its key was the session id).
    pub fn session_from_legacy(legacy_key: &[u8]) -> Vec<u8> {
        [SESSION_PREFIX, legacy_key].concat()
    }

    /// The mirror of chunk `index` (in allocation order) of open write session `session`:
    /// its session's key ‖ the index. One row per chunk, so an allocation writes one small
    /// row instead of the whole session again.
    pub fn session_chunk(session: SessionId, index: u32) -> Vec<u8> {
        let mut key = self::session(session);
        key.extend_from_slice(&index.to_be_bytes());
        key
    }

    /// Reads a key under [`SESSION_PREFIX`]: the session, and the chunk index of a chunk row.
    pub fn parse_session_row(key: &[u8]) -> Option<(SessionId, Option<u32>)> {
        let rest = key.strip_prefix(SESSION_PREFIX)?;
        match rest.len() {
            8 => Some((SessionId::from_be_slice(rest)?, None)),
            12 => {
                let index = u32::from_be_bytes(rest[8..].try_into().ok()?);
                Some((SessionId::from_be_slice(&rest[..8])?, Some(index)))
            }
            _ => None,
        }
    }
}

/// Prefix of the outcomes of committed write sessions in the `session` table (whose rows
/// before schema 7, the open sessions, were keyed by the bare 8-byte session id).
pub const CLOSED_SESSION_PREFIX: &[u8] = b"closed/";

/// The outcome of committed write session `session` (`session` table): the prefix ‖ the
/// session id, so rows sort by id, which grows with time.
pub fn closed_session(session: dfs_common::SessionId) -> Vec<u8> {
    [CLOSED_SESSION_PREFIX, &session.to_be_bytes()].concat()
}

/// The key-form name of a directory entry: a directory's name ends in `/`.
pub fn entry_name(name: &str, is_dir: bool) -> String {
    if is_dir {
        format!("{name}/")
    } else {
        name.to_owned()
    }
}

/// `dentry` key: parent inode ‖ key-form name.
pub fn dentry(parent: InodeId, key_name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + key_name.len());
    key.extend_from_slice(&parent.to_be_bytes());
    key.extend_from_slice(key_name.as_bytes());
    key
}

/// The prefix shared by every `dentry` key of one directory's children.
pub fn dentry_prefix(parent: InodeId) -> [u8; 8] {
    parent.to_be_bytes()
}

/// Splits a `dentry` key into parent inode and key-form name.
pub fn parse_dentry(key: &[u8]) -> Option<(InodeId, String)> {
    let parent = InodeId::from_be_slice(key)?;
    let name = std::str::from_utf8(key.get(8..)?).ok()?;
    Some((parent, name.to_owned()))
}

/// `chunks` key: file inode ‖ chunk index.
pub fn file_chunk(inode: InodeId, index: u64) -> [u8; 16] {
    two_ids(inode.0, index)
}

/// The prefix shared by every `chunks` row of one file.
pub fn file_chunk_prefix(inode: InodeId) -> [u8; 8] {
    inode.to_be_bytes()
}

/// `chunk_loc` key: the chunk id.
pub fn chunk_loc(chunk: ChunkId) -> [u8; 8] {
    chunk.to_be_bytes()
}

/// `node_chunk` key: node ‖ chunk id (what a node holds, to find its chunks when it dies).
pub fn node_chunk(node: NodeId, chunk: ChunkId) -> [u8; 16] {
    two_ids(node.0, chunk.0)
}

/// The prefix shared by every `node_chunk` row of one node.
pub fn node_chunk_prefix(node: NodeId) -> [u8; 8] {
    node.to_be_bytes()
}

/// Splits a `node_chunk` key.
pub fn parse_node_chunk(key: &[u8]) -> Option<(NodeId, ChunkId)> {
    if key.len() != 16 {
        return None;
    }
    Some((
        NodeId::from_be_slice(key)?,
        ChunkId::from_be_slice(&key[8..])?,
    ))
}

/// `node` and `node_sweep` key: the node id.
pub fn node(node: NodeId) -> [u8; 8] {
    node.to_be_bytes()
}

/// Reads a `node` key.
pub fn parse_node(key: &[u8]) -> Option<NodeId> {
    (key.len() == 8).then(|| NodeId::from_be_slice(key))?
}

/// `access_key` key: the key id's bytes.
pub fn access_key(key_id: &str) -> Vec<u8> {
    key_id.as_bytes().to_vec()
}

/// Reads an `access_key` key.
pub fn parse_access_key(key: &[u8]) -> Option<String> {
    std::str::from_utf8(key).ok().map(str::to_owned)
}

/// Length of an upload id: 32 lower-case hex digits.
pub const UPLOAD_ID_LEN: usize = 32;

/// Whether `id` has the shape of an upload id (so it can sit at a fixed place in keys).
pub fn is_upload_id(id: &str) -> bool {
    id.len() == UPLOAD_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `upload` key: bucket inode ‖ key ‖ 0 ‖ upload id. Keys hold no NUL, so the uploads of one
/// bucket sort by key in S3 order (`a` < `a-b` < `a/b`), then by upload id (creation order).
pub fn upload(bucket: InodeId, key: &str, upload_id: &str) -> Vec<u8> {
    let mut out = upload_key_prefix(bucket, key);
    out.push(0);
    out.extend_from_slice(upload_id.as_bytes());
    out
}

/// The prefix shared by the `upload` keys of one bucket whose keys start with `key_prefix`.
pub fn upload_key_prefix(bucket: InodeId, key_prefix: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key_prefix.len() + 1 + UPLOAD_ID_LEN);
    out.extend_from_slice(&bucket.to_be_bytes());
    out.extend_from_slice(key_prefix.as_bytes());
    out
}

/// Splits an `upload` key into bucket inode, key and upload id.
pub fn parse_upload(raw: &[u8]) -> Option<(InodeId, String, String)> {
    let bucket = InodeId::from_be_slice(raw)?;
    let split = raw.len().checked_sub(UPLOAD_ID_LEN + 1)?;
    if split < 8 || raw[split] != 0 {
        return None;
    }
    let key = std::str::from_utf8(&raw[8..split]).ok()?;
    let id = std::str::from_utf8(&raw[split + 1..]).ok()?;
    is_upload_id(id).then(|| (bucket, key.to_owned(), id.to_owned()))
}

/// `upload_id` key: the upload id's bytes.
pub fn upload_id(upload_id: &str) -> Vec<u8> {
    upload_id.as_bytes().to_vec()
}

/// `part` key: upload id ‖ be32(part number), so an upload's parts sort by number.
pub fn part(upload_id: &str, number: u32) -> Vec<u8> {
    let mut out = part_prefix(upload_id);
    out.extend_from_slice(&number.to_be_bytes());
    out
}

/// The prefix shared by the `part` keys of one upload.
pub fn part_prefix(upload_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(UPLOAD_ID_LEN + 4);
    out.extend_from_slice(upload_id.as_bytes());
    out
}

/// The part number of a `part` key.
pub fn parse_part(raw: &[u8]) -> Option<u32> {
    if raw.len() != UPLOAD_ID_LEN + 4 {
        return None;
    }
    Some(u32::from_be_bytes(raw[UPLOAD_ID_LEN..].try_into().ok()?))
}

/// `detached` key: the inode of the detached directory.
pub fn detached(inode: InodeId) -> [u8; 8] {
    inode.to_be_bytes()
}

/// The `map_share` key of the chunk map of `inode`.
pub fn map_share(inode: InodeId) -> [u8; 8] {
    inode.to_be_bytes()
}

/// Reads a `detached` key.
pub fn parse_detached(key: &[u8]) -> Option<InodeId> {
    (key.len() == 8).then(|| InodeId::from_be_slice(key))?
}

/// `gc_queue` / `repair_queue` key: due time in Unix milliseconds ‖ chunk id, so that a scan
/// from the start yields the work that is due first.
pub fn queue(due_ms: u64, chunk: ChunkId) -> [u8; 16] {
    two_ids(due_ms, chunk.0)
}

/// Splits a queue key into due time and chunk id.
pub fn parse_queue(key: &[u8]) -> Option<(u64, ChunkId)> {
    if key.len() != 16 {
        return None;
    }
    let due = u64::from_be_bytes(key[..8].try_into().ok()?);
    Some((due, ChunkId::from_be_slice(&key[8..])?))
}

fn two_ids(a: u64, b: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&a.to_be_bytes());
    key[8..].copy_from_slice(&b.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::SessionId;
    use proptest::prelude::*;

    #[test]
    fn directory_names_sort_like_s3_keys() {
        // `a-b` < `a/` (children `a/…`) < `a0`: '-' and '.' sort before '/', digits after.
        let mut names = [
            dentry(InodeId(5), "a0"),
            dentry(InodeId(5), &entry_name("a", true)),
            dentry(InodeId(5), "a-b"),
            dentry(InodeId(5), "a"),
            dentry(InodeId(5), "a.txt"),
        ];
        names.sort();
        let names: Vec<String> = names.iter().map(|k| parse_dentry(k).unwrap().1).collect();
        assert_eq!(names, ["a", "a-b", "a.txt", "a/", "a0"]);
    }

    #[test]
    fn upload_ids_have_one_shape() {
        assert!(is_upload_id("0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef",
            "../x",
        ] {
            assert!(!is_upload_id(bad), "{bad:?}");
        }
        assert_eq!(parse_upload(&[0; 8]), None);
        assert_eq!(parse_part(b"short"), None);
    }

    proptest! {
        #[test]
        fn id_keys_round_trip_and_sort_numerically(a in any::<u64>(), b in any::<u64>(), c in any::<u64>()) {
            prop_assert_eq!(parse_queue(&queue(a, ChunkId(b))), Some((a, ChunkId(b))));
            prop_assert_eq!(parse_node_chunk(&node_chunk(NodeId(a), ChunkId(b))), Some((NodeId(a), ChunkId(b))));
            prop_assert_eq!(chunk_loc(ChunkId(a)), a.to_be_bytes());
            prop_assert_eq!(parse_node(&node(NodeId(a))), Some(NodeId(a)));
            prop_assert_eq!(local::parse_session_row(&local::session(SessionId(a))), Some((SessionId(a), None)));
            let index = (a % 100_000) as u32;
            prop_assert_eq!(local::parse_session_row(&local::session_chunk(SessionId(a), index)), Some((SessionId(a), Some(index))));
            prop_assert_eq!(local::session(SessionId(a)), local::session_from_legacy(&a.to_be_bytes()));
            prop_assert_eq!(parse_detached(&detached(InodeId(a))), Some(InodeId(a)));
            prop_assert_eq!(queue(a, ChunkId(c)) < queue(b, ChunkId(c)), a < b);
            prop_assert_eq!(file_chunk(InodeId(c), a) < file_chunk(InodeId(c), b), a < b);
        }

        #[test]
        fn upload_keys_round_trip_and_sort_like_s3(
            bucket in any::<u64>(),
            a in "[/a.é-]{0,8}",
            b in "[/a.é-]{0,8}",
            ids in proptest::collection::vec("[0-9a-f]{32}", 2),
            n in any::<u32>(),
            m in any::<u32>(),
        ) {
            let (ida, idb) = (&ids[0], &ids[1]);
            let key = upload(InodeId(bucket), &a, ida);
            prop_assert_eq!(parse_upload(&key), Some((InodeId(bucket), a.clone(), ida.clone())));
            prop_assert!(key.starts_with(&upload_key_prefix(InodeId(bucket), &a)));
            // By key first, then by upload id.
            let other = upload(InodeId(bucket), &b, idb);
            let expected = (a.as_bytes(), ida.as_bytes()).cmp(&(b.as_bytes(), idb.as_bytes()));
            prop_assert_eq!(key.cmp(&other), expected);
            prop_assert_eq!(parse_part(&part(ida, n)), Some(n));
            prop_assert_eq!(part(ida, n) < part(ida, m), n < m);
            prop_assert!(part(ida, n).starts_with(&part_prefix(ida)));
        }

        #[test]
        fn dentry_round_trips(parent in any::<u64>(), name in "[/a.é日-]{0,12}") {
            let key = dentry(InodeId(parent), &name);
            prop_assert_eq!(parse_dentry(&key), Some((InodeId(parent), name)));
            prop_assert!(key.starts_with(&dentry_prefix(InodeId(parent))));
        }
    }
}

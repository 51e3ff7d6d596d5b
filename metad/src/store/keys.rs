//! Every RocksDB key metad writes, built and parsed in this one module.
//!
//! Integers are fixed-width big-endian so that RocksDB's bytewise order is numeric order, and
//! names are raw UTF-8 bytes so that it is also S3's key order. A directory's name ends in `/`:
//! inside one parent, entries then sort exactly as the full S3 keys below them do (`a-b` <
//! `a/…` < `a0`), which lets a depth-first walk emit ListObjects order without any merge.

use dfs_common::{ChunkId, InodeId, NodeId, SessionId};

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

/// `node` key: the node id.
pub fn node(node: NodeId) -> [u8; 8] {
    node.to_be_bytes()
}

/// Reads a `node` key.
pub fn parse_node(key: &[u8]) -> Option<NodeId> {
    (key.len() == 8).then(|| NodeId::from_be_slice(key))?
}

/// `session` key: the session id.
pub fn session(session: SessionId) -> [u8; 8] {
    session.to_be_bytes()
}

/// Reads a `session` key.
pub fn parse_session(key: &[u8]) -> Option<SessionId> {
    (key.len() == 8).then(|| SessionId::from_be_slice(key))?
}

/// `access_key` key: the key id's bytes.
pub fn access_key(key_id: &str) -> Vec<u8> {
    key_id.as_bytes().to_vec()
}

/// Reads an `access_key` key.
pub fn parse_access_key(key: &[u8]) -> Option<String> {
    std::str::from_utf8(key).ok().map(str::to_owned)
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

    proptest! {
        #[test]
        fn id_keys_round_trip_and_sort_numerically(a in any::<u64>(), b in any::<u64>(), c in any::<u64>()) {
            prop_assert_eq!(parse_queue(&queue(a, ChunkId(b))), Some((a, ChunkId(b))));
            prop_assert_eq!(parse_node_chunk(&node_chunk(NodeId(a), ChunkId(b))), Some((NodeId(a), ChunkId(b))));
            prop_assert_eq!(chunk_loc(ChunkId(a)), a.to_be_bytes());
            prop_assert_eq!(parse_node(&node(NodeId(a))), Some(NodeId(a)));
            prop_assert_eq!(parse_session(&session(SessionId(a))), Some(SessionId(a)));
            prop_assert_eq!(queue(a, ChunkId(c)) < queue(b, ChunkId(c)), a < b);
            prop_assert_eq!(file_chunk(InodeId(c), a) < file_chunk(InodeId(c), b), a < b);
        }

        #[test]
        fn dentry_round_trips(parent in any::<u64>(), name in "[/a.é日-]{0,12}") {
            let key = dentry(InodeId(parent), &name);
            prop_assert_eq!(parse_dentry(&key), Some((InodeId(parent), name)));
            prop_assert!(key.starts_with(&dentry_prefix(InodeId(parent))));
        }
    }
}

//! Namespace tests on a real RocksDB in a temporary folder.

mod chunk_map;
mod copies;
mod repeats;
mod s3;
mod sessions;
mod upgrade;
mod walk;

use super::{Namespace, NsSettings, Sessions};
use crate::nodes::Nodes;
use crate::store::queue::{self, Queue};
use crate::store::values::ChunkLoc;
use crate::store::{keys, Cf, Reader, Store};
use dfs_common::wire::*;
use dfs_common::{ChunkId, ErrorCode, NodeId, RpcError};
use std::path::Path;
use std::sync::Arc;

pub(crate) struct Fixture {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) store: Arc<Store>,
    pub(crate) nodes: Arc<Nodes>,
    pub(crate) ns: Namespace,
}

pub(crate) fn open_at(dir: &Path) -> (Arc<Store>, Arc<Nodes>, Namespace) {
    let store = Arc::new(Store::open(&dir.join("db")).unwrap());
    let nodes = Arc::new(Nodes::load(&store).unwrap());
    let sessions = Arc::new(Sessions::load(&store).unwrap());
    let settings = NsSettings {
        replication: 2,
        chunk_size: 1 << 20,
        orphan_grace_ms: 0,
        slice_caps: Default::default(),
    };
    let ns = Namespace::new(store.clone(), nodes.clone(), sessions, settings);
    (store, nodes, ns)
}

impl Fixture {
    /// Closes the database and opens it again from the same folder, as a metad restart does.
    pub(crate) fn reopen(self) -> Fixture {
        let Fixture {
            _dir: dir,
            store,
            nodes,
            ns,
        } = self;
        drop((ns, nodes, store));
        let (store, nodes, ns) = open_at(dir.path());
        Fixture {
            _dir: dir,
            store,
            nodes,
            ns,
        }
    }
}

/// A namespace with three registered nodes and a bucket `/b`.
pub(crate) fn fixture() -> Fixture {
    fixture_with_bucket("/b")
}

/// A fixture whose bucket is `bkt`: S3 requests take only valid bucket names.
pub(crate) fn s3_fixture() -> Fixture {
    fixture_with_bucket("/bkt")
}

/// Three registered chunkds and the bucket `bucket`.
fn fixture_with_bucket(bucket: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (store, nodes, ns) = open_at(dir.path());
    for port in 1..=3 {
        register(&store, &nodes, &ns, None, port, vec![]);
    }
    mkdir(&ns, bucket, false).unwrap();
    Fixture {
        _dir: dir,
        store,
        nodes,
        ns,
    }
}

pub(crate) fn register(
    store: &Store,
    nodes: &Nodes,
    ns: &Namespace,
    id: Option<NodeId>,
    port: u16,
    chunks: Vec<ChunkId>,
) -> (NodeId, Vec<ChunkId>) {
    let req = RegisterReq {
        node_id: id,
        addr: format!("127.0.0.1:{port}"),
        capacity: 1 << 40,
        used: 0,
        chunks,
        paged: false,
    };
    let (id, delete, _scope) = nodes.register(store, ns.sessions(), 2, req).unwrap();
    (id, delete)
}

pub(crate) fn mkdir(ns: &Namespace, path: &str, parents: bool) -> Result<Entry, RpcError> {
    ns.mkdir(&MkdirReq {
        path: path.parse().unwrap(),
        parents,
        object: None,
    })
}

/// Writes a file of `chunks` chunks of 10 bytes each.
pub(crate) fn put(ns: &Namespace, path: &str, chunks: usize) -> Result<Entry, RpcError> {
    ns.commit(&open_write(ns, path, chunks)?)
}

/// Opens a write session on `path` and allocates `chunks` chunks of 10 bytes in it; returns
/// the commit that ends it (ETag `"e"`).
pub(crate) fn open_write(ns: &Namespace, path: &str, chunks: usize) -> Result<CommitReq, RpcError> {
    let open = ns.begin_write(&BeginWriteReq {
        path: path.parse().unwrap(),
    })?;
    let mut written = Vec::new();
    for _ in 0..chunks {
        let alloc = ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })?;
        written.push(WrittenChunk {
            id: alloc.chunk_id,
            len: 10,
            crc32c: 0,
            replicas: alloc.replicas.iter().map(|r| r.node).collect(),
        });
    }
    Ok(CommitReq {
        checksum: None,
        session: open.session,
        size: 10 * chunks as u64,
        etag: "\"e\"".into(),
        content_type: None,
        meta: vec![],
        chunks: written,
        if_none_match: false,
        if_match: None,
    })
}

/// Copies `src` to `dst` (CopyObject without conditions or new metadata).
pub(crate) fn copy(ns: &Namespace, src: &str, dst: &str) -> Result<Entry, RpcError> {
    ns.copy(&CopyReq {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        replace_meta: None,
        if_match: None,
        if_none_match: false,
        src_if_match: None,
    })
}

/// The entry at `path` and its whole chunk list, read a page at a time as clients do.
pub(crate) fn stat(ns: &Namespace, path: &str) -> Result<StatResp, RpcError> {
    let path: dfs_common::path::DfsPath = path.parse().unwrap();
    let mut resp = ns.stat(&StatReq::chunk_page(path.clone(), 0, u64::MAX))?;
    while let Some(from) = resp.chunks_next.take() {
        let page = ns.stat(&StatReq::chunk_page(path.clone(), from, u64::MAX))?;
        assert_eq!(page.entry.inode, resp.entry.inode);
        resp.chunks.extend(page.chunks);
        resp.chunks_next = page.chunks_next;
    }
    Ok(resp)
}

pub(crate) fn names(ns: &Namespace, path: &str) -> Vec<String> {
    let resp = ns
        .list(&ListReq {
            path: path.parse().unwrap(),
            start_after: None,
            limit: 0,
        })
        .unwrap();
    resp.entries.into_iter().map(|e| e.name).collect()
}

pub(crate) fn code<T: std::fmt::Debug>(result: Result<T, RpcError>) -> ErrorCode {
    result.unwrap_err().code
}

pub(crate) fn chunk_ids(ns: &Namespace, path: &str) -> Vec<ChunkId> {
    stat(ns, path)
        .unwrap()
        .chunks
        .iter()
        .map(|c| c.id)
        .collect()
}

pub(crate) fn loc(store: &Store, chunk: ChunkId) -> Option<ChunkLoc> {
    store
        .view()
        .get::<ChunkLoc>(Cf::ChunkLoc, &keys::chunk_loc(chunk))
        .unwrap()
}

/// Runs the background deleter of detached trees, `limit` rows per step, until nothing is
/// left; returns the steps.
pub(super) fn drain_all(ns: &Namespace, limit: usize) -> Vec<super::detached::DrainStep> {
    let mut steps = Vec::new();
    while let Some(step) = ns.drain_detached(limit).unwrap() {
        steps.push(step);
        assert!(steps.len() < 100_000, "the deleter makes no progress");
    }
    steps
}

pub(crate) fn queued(store: &Store, which: Queue) -> Vec<ChunkId> {
    let mut out: Vec<ChunkId> = queue::due(&store.view(), which, u64::MAX, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|w| w.chunk)
        .collect();
    out.sort();
    out
}

#[test]
fn mkdir_with_and_without_parents() {
    let f = fixture();
    assert_eq!(code(mkdir(&f.ns, "/b", false)), ErrorCode::AlreadyExists);
    assert!(mkdir(&f.ns, "/b", true).unwrap().explicit);
    assert_eq!(code(mkdir(&f.ns, "/b/x/y", false)), ErrorCode::NotFound);
    let y = mkdir(&f.ns, "/b/x/y/", true).unwrap();
    assert_eq!(y.name, "y/");
    assert_eq!(y.kind, EntryKind::Dir);
    assert!(stat(&f.ns, "/b/x").unwrap().entry.explicit);
    assert_eq!(code(mkdir(&f.ns, "/nob/x", false)), ErrorCode::NotFound);
    // An implicit directory becomes explicit, and then outlives its last child.
    put(&f.ns, "/b/i/f", 1).unwrap();
    assert!(!stat(&f.ns, "/b/i/").unwrap().entry.explicit);
    assert!(mkdir(&f.ns, "/b/i", false).unwrap().explicit);
    f.ns.delete(&DeleteReq {
        path: "/b/i/f".parse().unwrap(),
        recursive: false,
        object: false,
    })
    .unwrap();
    assert!(stat(&f.ns, "/b/i/").unwrap().entry.explicit);
    assert_eq!(stat(&f.ns, "/").unwrap().entry.name, "/");
    assert_eq!(code(mkdir(&f.ns, "/", false)), ErrorCode::AlreadyExists);
}

#[test]
fn files_need_a_bucket_and_a_file_name() {
    let f = fixture();
    let open = |p: &str| {
        f.ns.begin_write(&BeginWriteReq {
            path: p.parse().unwrap(),
        })
    };
    assert_eq!(code(open("/f")), ErrorCode::InvalidArgument);
    assert!(open("/f").unwrap_err().message.contains("inside a bucket"));
    assert_eq!(code(open("/")), ErrorCode::InvalidArgument);
    // A path ending in `/` writes the payload of a directory object, but a bucket is none.
    assert!(open("/b/x/").is_ok());
    assert_eq!(code(open("/b/")), ErrorCode::InvalidArgument);
    // A relative path is refused where the request is built or decoded.
    assert!("relative".parse::<dfs_common::path::DfsPath>().is_err());
    let err = open("/nob/x").unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert_eq!(err.detail, dfs_common::ErrorDetail::NoSuchBucket, "{err}");
    assert!(open("/b/x//y").is_ok());
}

#[test]
fn commit_replaces_a_file_and_queues_its_chunks() {
    let f = fixture();
    put(&f.ns, "/b/f", 2).unwrap();
    let old = chunk_ids(&f.ns, "/b/f");
    let resp = stat(&f.ns, "/b/f").unwrap();
    assert_eq!(resp.entry.size, 20);
    assert_eq!(resp.chunks[1].offset, 10);
    assert!(resp
        .chunks
        .iter()
        .all(|c| c.replicas.len() == 2 && c.replicas[0].live));
    assert!(queued(&f.store, Queue::Gc).is_empty());

    let entry = put(&f.ns, "/b/f", 1).unwrap();
    assert_eq!((entry.size, entry.chunk_count), (10, 1));
    let new = chunk_ids(&f.ns, "/b/f");
    assert!(!old.contains(&new[0]));
    assert_eq!(queued(&f.store, Queue::Gc), old);
    assert!(old.iter().all(|c| loc(&f.store, *c).unwrap().refcount == 0));
    assert_eq!(loc(&f.store, new[0]).unwrap().refcount, 1);
}

#[test]
fn commit_checks_the_session() {
    let f = fixture();
    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/b/f".parse().unwrap(),
        })
        .unwrap();
    let alloc =
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
        .unwrap();
    assert_eq!(alloc.replicas.len(), 2);
    assert_ne!(alloc.replicas[0].node, alloc.replicas[1].node);
    let nodes: Vec<NodeId> = alloc.replicas.iter().map(|r| r.node).collect();
    let commit = |size: u64, id: ChunkId, replicas: Vec<NodeId>| {
        f.ns.commit(&CommitReq {
            checksum: None,
            session: open.session,
            size,
            etag: String::new(),
            content_type: None,
            meta: vec![],
            chunks: vec![WrittenChunk {
                id,
                len: 5,
                crc32c: 1,
                replicas,
            }],
            if_none_match: false,
            if_match: None,
        })
    };
    assert_eq!(
        code(commit(6, alloc.chunk_id, nodes.clone())),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(commit(5, ChunkId(999_999), nodes.clone())),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(commit(5, alloc.chunk_id, vec![nodes[0], nodes[0]])),
        ErrorCode::InvalidArgument
    );
    // A failed replica is replaced by a node not yet used for the chunk.
    let third =
        f.ns.replace_replica(&ReplaceReplicaReq {
            session: open.session,
            chunk_id: alloc.chunk_id,
            exclude: vec![nodes[1]],
        })
        .unwrap();
    assert!(!nodes.contains(&third.node));
    assert_eq!(
        code(f.ns.replace_replica(&ReplaceReplicaReq {
            session: open.session,
            chunk_id: alloc.chunk_id,
            exclude: vec![],
        })),
        ErrorCode::NotEnoughNodes
    );
    let entry = commit(5, alloc.chunk_id, vec![nodes[0], third.node]).unwrap();
    assert_eq!(entry.size, 5);
    // The node that failed may hold a partial copy: it is queued for deletion there.
    assert_eq!(queued(&f.store, Queue::Gc), [alloc.chunk_id]);
    // The session is closed: a commit of the same size and ETag gets the first answer and
    // changes nothing (see `repeats`).
    assert_eq!(commit(5, alloc.chunk_id, nodes).unwrap(), entry);
    assert_eq!(queued(&f.store, Queue::Gc), [alloc.chunk_id]);
}

#[test]
fn commit_refuses_chunks_longer_than_any_chunkd_holds() {
    let f = fixture();
    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/b/huge".parse().unwrap(),
        })
        .unwrap();
    let alloc =
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
        .unwrap();
    let nodes: Vec<NodeId> = alloc.replicas.iter().map(|r| r.node).collect();
    let err =
        f.ns.commit(&CommitReq {
            checksum: None,
            session: open.session,
            size: u64::MAX,
            etag: String::new(),
            content_type: None,
            meta: vec![],
            chunks: vec![WrittenChunk {
                id: alloc.chunk_id,
                len: u64::MAX,
                crc32c: 0,
                replicas: nodes,
            }],
            if_none_match: false,
            if_match: None,
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.message.contains("more than"), "{err}");
    assert_eq!(code(stat(&f.ns, "/b/huge")), ErrorCode::NotFound);
}

#[test]
fn abort_collects_the_chunks() {
    let f = fixture();
    let open =
        f.ns.begin_write(&BeginWriteReq {
            path: "/b/f".parse().unwrap(),
        })
        .unwrap();
    let alloc =
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
        .unwrap();
    f.ns.abort(&AbortReq {
        session: open.session,
    })
    .unwrap();
    assert_eq!(queued(&f.store, Queue::Gc), [alloc.chunk_id]);
    assert_eq!(
        code(f.ns.abort(&AbortReq {
            session: open.session
        })),
        ErrorCode::NotFound
    );
    assert_eq!(code(stat(&f.ns, "/b/f")), ErrorCode::NotFound);
}

#[test]
fn delete_removes_empty_implicit_parents_only() {
    let f = fixture();
    mkdir(&f.ns, "/b/keep", false).unwrap();
    put(&f.ns, "/b/keep/x/y/f", 1).unwrap();
    put(&f.ns, "/b/i/j/f", 1).unwrap();
    put(&f.ns, "/b/i/g", 1).unwrap();
    let del = |p: &str| {
        f.ns.delete(&DeleteReq {
            path: p.parse().unwrap(),
            recursive: false,
            object: false,
        })
    };
    del("/b/i/j/f").unwrap();
    assert_eq!(names(&f.ns, "/b/i"), ["g"]);
    del("/b/i/g").unwrap();
    assert_eq!(names(&f.ns, "/b"), ["keep/"]);
    del("/b/keep/x/y/f").unwrap();
    assert_eq!(names(&f.ns, "/b"), ["keep/"]);
    assert!(names(&f.ns, "/b/keep/").is_empty());
    // The bucket stays when its last file goes.
    mkdir(&f.ns, "/c", false).unwrap();
    put(&f.ns, "/c/f", 1).unwrap();
    del("/c/f").unwrap();
    assert!(names(&f.ns, "/c").is_empty());
    assert_eq!(names(&f.ns, "/"), ["b/", "c/"]);
    assert_eq!(code(del("/c/f")), ErrorCode::NotFound);
    assert_eq!(queued(&f.store, Queue::Gc).len(), 4);
}

#[test]
fn not_empty_not_a_directory_and_the_root() {
    let f = fixture();
    mkdir(&f.ns, "/b/d", false).unwrap();
    put(&f.ns, "/b/d/e/f", 2).unwrap();
    put(&f.ns, "/b/file", 1).unwrap();
    let del = |p: &str, recursive: bool| {
        f.ns.delete(&DeleteReq {
            path: p.parse().unwrap(),
            recursive,
            object: false,
        })
    };
    assert_eq!(code(del("/b/d", false)), ErrorCode::NotEmpty);
    assert_eq!(code(del("/b", false)), ErrorCode::NotEmpty);
    assert_eq!(code(del("/", true)), ErrorCode::InvalidArgument);
    let list = |p: &str| {
        f.ns.list(&ListReq {
            path: p.parse().unwrap(),
            start_after: None,
            limit: 10,
        })
    };
    assert_eq!(code(list("/b/file")), ErrorCode::NotADirectory);
    assert_eq!(code(list("/b/nothing")), ErrorCode::NotFound);
    assert_eq!(code(list("/b/file/")), ErrorCode::NotFound);
    del("/b/d/", true).unwrap();
    assert_eq!(names(&f.ns, "/b"), ["file"]);
    drain_all(&f.ns, 10_000);
    assert_eq!(queued(&f.store, Queue::Gc).len(), 2);
    del("/b", true).unwrap();
    assert!(names(&f.ns, "/").is_empty());
    drain_all(&f.ns, 10_000);
    assert_eq!(queued(&f.store, Queue::Gc).len(), 3);
}

#[test]
fn file_and_directory_of_the_same_name_coexist() {
    let f = fixture();
    put(&f.ns, "/b/a", 1).unwrap();
    put(&f.ns, "/b/a/b", 1).unwrap();
    put(&f.ns, "/b/a-b", 1).unwrap();
    put(&f.ns, "/b/a0", 1).unwrap();
    assert_eq!(names(&f.ns, "/b"), ["a", "a-b", "a/", "a0"]);
    assert_eq!(stat(&f.ns, "/b/a").unwrap().entry.kind, EntryKind::File);
    assert_eq!(stat(&f.ns, "/b/a/").unwrap().entry.kind, EntryKind::Dir);
    assert_eq!(names(&f.ns, "/b/a"), ["b"]);
    f.ns.delete(&DeleteReq {
        path: "/b/a".parse().unwrap(),
        recursive: false,
        object: false,
    })
    .unwrap();
    assert_eq!(stat(&f.ns, "/b/a").unwrap().entry.kind, EntryKind::Dir);
    assert_eq!(names(&f.ns, "/b"), ["a-b", "a/", "a0"]);
    // Paging: start_after is exclusive and `truncated` says more follow.
    let page =
        f.ns.list(&ListReq {
            path: "/b/".parse().unwrap(),
            start_after: Some("a-b".into()),
            limit: 1,
        })
        .unwrap();
    assert_eq!(page.entries[0].name, "a/");
    assert!(page.truncated);
}

#[test]
fn rename_moves_files_and_whole_directories() {
    let f = fixture();
    put(&f.ns, "/b/d/s/f1", 1).unwrap();
    put(&f.ns, "/b/d/f2", 1).unwrap();
    put(&f.ns, "/b/other", 1).unwrap();
    let mv = |src: &str, dst: &str| {
        f.ns.rename(&RenameReq {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
        })
    };
    let chunks = chunk_ids(&f.ns, "/b/d/s/f1");
    mv("/b/d", "/b/e").unwrap();
    assert_eq!(chunk_ids(&f.ns, "/b/e/s/f1"), chunks);
    assert_eq!(code(stat(&f.ns, "/b/d/s/f1")), ErrorCode::NotFound);
    assert_eq!(code(mv("/b/e", "/b/e/s/z")), ErrorCode::InvalidArgument);
    mv("/b/e/", "/b/e/").unwrap();
    put(&f.ns, "/b/x/y", 1).unwrap();
    assert_eq!(code(mv("/b/e", "/b/x")), ErrorCode::AlreadyExists);
    assert_eq!(code(mv("/b/e", "/b/nodir/e")), ErrorCode::NotFound);
    // A file replaces a file; the implicit parent it leaves empty goes.
    let replaced = chunk_ids(&f.ns, "/b/other");
    mv("/b/x/y", "/b/other").unwrap();
    assert_eq!(queued(&f.store, Queue::Gc), replaced);
    assert_eq!(names(&f.ns, "/b"), ["e/", "other"]);
    assert_eq!(code(mv("/b/other", "/top")), ErrorCode::InvalidArgument);
    // A directory moved to the top level becomes a bucket; a bucket can be renamed.
    mv("/b/e/s/", "/s2").unwrap();
    assert!(stat(&f.ns, "/s2").unwrap().entry.explicit);
    mv("/s2", "/s3").unwrap();
    assert_eq!(chunk_ids(&f.ns, "/s3/f1"), chunks);
    assert_eq!(code(mv("/", "/x")), ErrorCode::InvalidArgument);
}

#[test]
fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (chunks, node) = {
        let (store, nodes, ns) = open_at(dir.path());
        let (n1, _) = register(&store, &nodes, &ns, None, 1, vec![]);
        register(&store, &nodes, &ns, None, 2, vec![]);
        mkdir(&ns, "/b/x", true).unwrap();
        put(&ns, "/b/x/y/f", 3).unwrap();
        (chunk_ids(&ns, "/b/x/y/f"), n1)
    };
    let (store, nodes, ns) = open_at(dir.path());
    assert!(nodes.is_live(node));
    assert!(stat(&ns, "/b/x/").unwrap().entry.explicit);
    assert_eq!(chunk_ids(&ns, "/b/x/y/f"), chunks);
    // Fresh ids after a restart never collide with old ones.
    put(&ns, "/b/x/y/g", 1).unwrap();
    let new = chunk_ids(&ns, "/b/x/y/g");
    assert!(!chunks.contains(&new[0]));
    assert!(
        stat(&ns, "/b/x/y/g").unwrap().entry.inode > stat(&ns, "/b/x/y/f").unwrap().entry.inode
    );
    drop((store, nodes));
}

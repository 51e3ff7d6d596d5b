//! Commits are idempotent: a commit sent again after its answer was lost gets the first
//! answer, and a session committed just before a crash is never committed twice.

use super::{fixture, loc, open_write, queued, s3_fixture, stat, Fixture};
use crate::ns::multipart::tests::{create, etag};
use crate::store::queue::Queue;
use crate::store::values::Session;
use crate::store::{keys, Cf, Reader};
use dfs_common::auth::unix_now_ms;
use dfs_common::wire::*;
use dfs_common::{ErrorCode, ErrorDetail, SessionId};

/// Opens a session on `path` with one chunk allocated; returns the commit that ends it, with
/// a content type and metadata, which a repeat must answer too.
fn open_file(f: &Fixture, path: &str) -> CommitReq {
    CommitReq {
        content_type: Some("text/plain".into()),
        meta: vec![("x-amz-meta-k".into(), "v".into())],
        ..open_write(&f.ns, path, 1).unwrap()
    }
}

/// The session's mirror row, raw.
fn mirror_row(f: &Fixture, session: SessionId) -> Option<Vec<u8>> {
    f.store
        .view()
        .get_raw(Cf::Local, &keys::local::session(session))
        .unwrap()
}

#[test]
fn a_repeated_commit_gets_the_first_answer() {
    let f = fixture();
    let req = open_file(&f, "/b/f");
    let first = f.ns.commit(&req).unwrap();
    let again = f.ns.commit(&req).unwrap();
    assert_eq!(again, first);
    // Nothing was done twice: the chunk has its one reference and is not queued for GC.
    let chunk = req.chunks[0].id;
    assert_eq!(loc(&f.store, chunk).unwrap().refcount, 1);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    // The same session ending with other bytes is refused, and changes nothing.
    let other = CommitReq {
        size: 11,
        ..req.clone()
    };
    let err = f.ns.commit(&other).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument, "{err}");
    assert!(err.message.contains("already committed"), "{err}");
    assert_eq!(stat(&f.ns, "/b/f").unwrap().entry, first);
    // A session that was never committed is still unknown.
    let never = CommitReq {
        session: SessionId(req.session.0 + 1000),
        ..req
    };
    let err = f.ns.commit(&never).unwrap_err();
    assert_eq!(err.detail, ErrorDetail::NoSuchSession, "{err}");
}

#[test]
fn a_commit_answered_before_a_crash_is_answered_again_after_it() {
    let f = fixture();
    let req = open_file(&f, "/b/f");
    let first = f.ns.commit(&req).unwrap();
    let f = f.reopen();
    assert_eq!(f.ns.commit(&req).unwrap(), first);
}

/// A crash after the commit's log entry was synced but before its apply wrote the node-local
/// rows (or a power cut losing the unsynced apply, which the log replays) leaves the session's
/// mirror row behind. Loaded as open, the session could be committed again, and that second
/// commit released the chunks of the first: the object lost its data.
#[test]
fn a_session_whose_mirror_row_outlived_its_commit_is_not_open_again() {
    let f = fixture();
    let req = open_file(&f, "/b/f");
    let row = mirror_row(&f, req.session).expect("the open session's mirror row");
    let first = f.ns.commit(&req).unwrap();
    // The crash: the node-local deletion is lost.
    f.store
        .put_local(
            &keys::local::session(req.session),
            &<Session as crate::store::values::Value>::decode(&row).unwrap(),
        )
        .unwrap();
    let f = f.reopen();
    assert_eq!(
        mirror_row(&f, req.session),
        None,
        "the stale row is dropped"
    );
    assert_eq!(f.ns.commit(&req).unwrap(), first);
    let chunk = req.chunks[0].id;
    assert_eq!(loc(&f.store, chunk).unwrap().refcount, 1);
    assert!(queued(&f.store, Queue::Gc).is_empty());
    assert_eq!(stat(&f.ns, "/b/f").unwrap().entry, first);
}

#[test]
fn a_repeated_part_commit_gets_the_first_answer() {
    let f = s3_fixture();
    let id = create(&f, "/bkt/k");
    let open =
        f.ns.begin_part_write(&BeginPartWriteReq {
            upload_id: id,
            part_number: 3,
            path: None,
        })
        .unwrap();
    let alloc =
        f.ns.alloc_chunk(&AllocChunkReq {
            session: open.session,
            exclude: vec![],
        })
        .unwrap();
    let req = CommitPartReq {
        session: open.session,
        size: 5,
        // Unquoted: stored quoted, and the repeat is compared as stored.
        etag: etag(9).trim_matches('"').to_owned(),
        checksum: None,
        chunks: vec![WrittenChunk {
            id: alloc.chunk_id,
            len: 5,
            crc32c: 0,
            replicas: alloc.replicas.iter().map(|r| r.node).collect(),
        }],
    };
    let first = f.ns.commit_part(&req).unwrap();
    assert_eq!(f.ns.commit_part(&req).unwrap(), first);
    assert_eq!(loc(&f.store, alloc.chunk_id).unwrap().refcount, 1);
    // A part's session is not a file's.
    let as_file = CommitReq {
        checksum: None,
        session: open.session,
        size: 5,
        etag: etag(9),
        content_type: None,
        meta: vec![],
        chunks: req.chunks.clone(),
        if_none_match: false,
        if_match: None,
    };
    let err = f.ns.commit(&as_file).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument, "{err}");
}

#[test]
fn outcomes_are_dropped_after_the_retention() {
    let f = fixture();
    let req = open_file(&f, "/b/f");
    f.ns.commit(&req).unwrap();
    let young = open_file(&f, "/b/g");
    // Recorded before this instant: dropped by a purge of everything older.
    let cutoff = unix_now_ms() + 1;
    assert_eq!(f.ns.purge_closed_sessions(cutoff).unwrap(), 1);
    let err = f.ns.commit(&req).unwrap_err();
    assert_eq!(err.detail, ErrorDetail::NoSuchSession, "{err}");
    // A purge keeps what is younger than its cut-off.
    f.ns.commit(&young).unwrap();
    assert_eq!(f.ns.purge_closed_sessions(cutoff - 60_000).unwrap(), 0);
    assert!(f.ns.commit(&young).is_ok());
}

#[test]
fn a_commit_sent_again_while_the_first_is_being_written_is_told_to_retry() {
    let f = fixture();
    let req = open_file(&f, "/b/f");
    let _held = f.ns.sessions().begin_close(req.session).unwrap();
    // The client library retries `Unavailable`; the retry then finds the outcome.
    let err = f.ns.commit(&req).unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable, "{err}");
    f.ns.sessions().cancel_close(req.session);
    f.ns.commit(&req).unwrap();
}

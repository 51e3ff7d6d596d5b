//! Completions and aborts of uploads too large for one transaction run in bounded steps (here
//! steps of 4 slices): the object appears only with the last step, a completion cut off
//! between steps resumes when sent again (after a restart too), an abort in the middle of a
//! completion releases everything, and an abort of many parts takes several steps.

use super::{abort, create, etag, put_part, refcount, MIB};
use crate::ns::multipart::list::tests::list;
use crate::ns::tests::{
    chunk_ids, code, copy, drain_all, names, put, queued, s3_fixture, stat, Fixture,
};
use crate::store::queue::Queue;
use crate::store::values::{Upload, UploadState};
use crate::store::{keys, Cf, Reader};
use dfs_common::wire::*;
use dfs_common::{ChunkId, ErrorCode, ErrorDetail};

/// A fixture whose completions and aborts take steps of 4 slices.
fn fixture() -> Fixture {
    let mut f = s3_fixture();
    f.ns.settings.slice_caps.step = 4;
    f
}

/// An upload of `/bkt/d/k` with three parts of five 1 MiB slices and a fourth of three;
/// returns its id and each part's chunks.
fn upload(f: &Fixture) -> (String, Vec<Vec<ChunkId>>) {
    let id = create(f, "/bkt/d/k");
    let mut chunks = Vec::new();
    for (number, slices) in [(1, 5), (2, 5), (3, 5), (4, 3)] {
        let lens = vec![MIB; slices];
        chunks.push(put_part(f, &id, number, &lens, number).unwrap().1);
    }
    (id, chunks)
}

fn request(id: &str, parts: &[u32]) -> CompleteUploadReq {
    CompleteUploadReq {
        upload_id: id.into(),
        path: None,
        parts: parts.iter().map(|&n| (n, etag(n))).collect(),
        if_none_match: false,
        if_match: None,
        checksum: None,
    }
}

/// The upload's state as stored.
fn state(f: &Fixture, id: &str) -> Option<UploadState> {
    let view = f.store.view();
    let at = view
        .get::<crate::store::values::UploadRef>(Cf::UploadId, &keys::upload_id(id))
        .unwrap()?;
    let upload = view
        .get::<Upload>(Cf::Upload, &keys::upload(at.bucket, &at.key, id))
        .unwrap()?;
    Some(upload.state)
}

/// Runs the plan and the first step (part 1: one part per step at least) of the completion
/// of all three parts of upload `id`, and stops there; returns the completion's request.
fn cut_off_after_first_step(f: &Fixture, id: &str) -> CompleteUploadReq {
    let req = request(id, &[1, 2, 3]);
    assert!(f.ns.complete_step(&req).unwrap().is_none());
    assert!(f.ns.complete_step(&req).unwrap().is_none());
    req
}

fn part_write(f: &Fixture, id: &str, number: u32) -> ErrorCode {
    code(put_part(f, id, number, &[MIB], number))
}

#[test]
fn a_completion_cut_off_between_steps_resumes_and_nothing_shows_before_the_end() {
    let f = fixture();
    let (id, chunks) = upload(&f);
    let req = cut_off_after_first_step(&f, &id);
    let Some(UploadState::Completing(assembly)) = state(&f, &id) else {
        panic!("not being completed: {:?}", state(&f, &id));
    };
    assert_eq!((assembly.parts_done, assembly.rows_done), (1, 5));
    // Nothing is visible, not even the directory the object will be in.
    assert_eq!(code(stat(&f.ns, "/bkt/d/k")), ErrorCode::NotFound);
    assert!(!names(&f.ns, "/bkt").contains(&"d".to_owned()));
    // The upload takes no part, and no other completion.
    assert_eq!(part_write(&f, &id, 5), ErrorCode::NotFound);
    let other = f.ns.complete_upload(&request(&id, &[1, 2])).unwrap_err();
    assert_eq!(other.detail, ErrorDetail::InvalidPart, "{other}");
    // metad restarts; the client sends the completion again.
    let mut f = f.reopen();
    f.ns.settings.slice_caps.step = 4;
    let done = f.ns.complete_upload(&req).unwrap();
    assert_eq!(done.entry.chunk_count, 15);
    assert_eq!(done.entry.size, 15 * MIB);
    assert_eq!(done.entry.part_sizes, [5 * MIB, 5 * MIB, 5 * MIB]);
    let expected: Vec<ChunkId> = chunks[..3].concat();
    assert_eq!(chunk_ids(&f.ns, "/bkt/d/k"), expected);
    let offsets: Vec<u64> = stat(&f.ns, "/bkt/d/k")
        .unwrap()
        .chunks
        .iter()
        .map(|c| c.offset)
        .collect();
    assert_eq!(offsets, (0..15).map(|i| i * MIB).collect::<Vec<_>>());
    // Each listed slice's reference passed to the object; the part left out is collected.
    assert!(expected.iter().all(|c| refcount(&f, *c) == 1));
    assert_eq!(queued(&f.store, Queue::Gc), chunks[3]);
    // Sent once more: the same answer.
    let again = f.ns.complete_upload(&req).unwrap();
    assert_eq!(
        (again.etag, again.entry.inode),
        (done.etag, done.entry.inode)
    );
}

#[test]
fn aborting_an_upload_being_completed_releases_the_rows_written_and_the_parts() {
    let f = fixture();
    let (id, chunks) = upload(&f);
    let req = request(&id, &[1, 2, 3]);
    for _ in 0..3 {
        assert!(f.ns.complete_step(&req).unwrap().is_none());
    }
    abort(&f, &id).unwrap();
    assert_eq!(state(&f, &id), None);
    drain_all(&f.ns, 100);
    let mut all: Vec<ChunkId> = chunks.concat();
    all.sort_unstable();
    let mut collected = queued(&f.store, Queue::Gc);
    collected.sort_unstable();
    assert_eq!(collected, all);
    assert_eq!(code(stat(&f.ns, "/bkt/d/k")), ErrorCode::NotFound);
    assert_eq!(code(f.ns.complete_upload(&req)), ErrorCode::NotFound);
}

#[test]
fn an_abort_of_many_slices_takes_steps_and_the_expiry_finishes_one_cut_off() {
    let f = fixture();
    let (id, chunks) = upload(&f);
    // The first step releases part 1 (5 slices) and marks the upload.
    assert!(!f.ns.abort_step(&id, None, "aborted").unwrap());
    assert_eq!(state(&f, &id), Some(UploadState::Aborting));
    assert_eq!(queued(&f.store, Queue::Gc), chunks[0]);
    assert_eq!(part_write(&f, &id, 5), ErrorCode::NotFound);
    assert_eq!(
        code(f.ns.complete_upload(&request(&id, &[2]))),
        ErrorCode::NotFound
    );
    // The client gave up; the expiry finishes the abort whatever the upload's age.
    let now = dfs_common::auth::unix_now_ms();
    let week = 7 * 86_400_000;
    assert_eq!(
        f.ns.expire_uploads(now + 2 * week, week, week, 64).unwrap(),
        1
    );
    assert_eq!(state(&f, &id), None);
    assert_eq!(queued(&f.store, Queue::Gc).len(), 18);
    // An abort of a small upload is one step, as before.
    let small = create(&f, "/bkt/small");
    put_part(&f, &small, 1, &[MIB], 1).unwrap();
    assert!(f.ns.abort_step(&small, None, "aborted").unwrap());
}

#[test]
fn a_precondition_that_fails_at_the_link_leaves_the_completion_resumable() {
    let f = fixture();
    let (id, _) = upload(&f);
    let careful = CompleteUploadReq {
        if_none_match: true,
        ..request(&id, &[1, 2, 3, 4])
    };
    assert!(f.ns.complete_step(&careful).unwrap().is_none());
    // Another writer creates the object while the steps run.
    put(&f.ns, "/bkt/d/k", 1).unwrap();
    let err = f.ns.complete_upload(&careful).unwrap_err();
    assert_eq!(err.code, ErrorCode::PreconditionFailed, "{err}");
    assert!(matches!(state(&f, &id), Some(UploadState::Completing(_))));
    assert_eq!(stat(&f.ns, "/bkt/d/k").unwrap().entry.size, 10);
    // Sent again without the condition, it replaces the object.
    let done = f.ns.complete_upload(&request(&id, &[1, 2, 3, 4])).unwrap();
    assert_eq!(done.entry.chunk_count, 18);
    assert_eq!(stat(&f.ns, "/bkt/d/k").unwrap().entry.size, 18 * MIB);
}

#[test]
fn a_small_completion_is_one_transaction_as_before() {
    let f = fixture();
    let id = create(&f, "/bkt/small");
    put_part(&f, &id, 1, &[5 * MIB, MIB], 1).unwrap();
    put_part(&f, &id, 2, &[MIB], 2).unwrap();
    let done =
        f.ns.complete_step(&request(&id, &[1, 2]))
            .unwrap()
            .expect("completed in one step");
    assert_eq!(done.entry.chunk_count, 3);
}

#[test]
fn an_upload_being_completed_is_listed_as_such_and_one_being_aborted_is_not() {
    let f = fixture();
    let (completing, _) = upload(&f);
    let req = cut_off_after_first_step(&f, &completing);
    let (aborting, _) = upload(&f);
    assert!(!f.ns.abort_step(&aborting, None, "aborted").unwrap());
    let open = create(&f, "/bkt/e");
    let listing = |f: &Fixture| {
        let page = list(f, "", None, None, None, 100);
        let uploads = page.uploads.into_iter();
        uploads
            .map(|u| (u.upload_id, u.completing))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listing(&f),
        [(completing.clone(), true), (open.clone(), false)]
    );
    f.ns.complete_upload(&req).unwrap();
    assert_eq!(listing(&f), [(open, false)]);
}

#[test]
fn a_directory_object_holds_one_step_of_slices_and_its_left_out_parts_go_in_steps() {
    let f = fixture();
    let id = create(&f, "/bkt/dir/");
    let mut chunks = Vec::new();
    for (number, slices) in [(1, 5), (2, 5), (3, 2)] {
        let lens = vec![MIB; slices];
        chunks.push(put_part(&f, &id, number, &lens, number).unwrap().1);
    }
    // Over the cap of a directory object (4 slices here): refused, nothing changed.
    let err = f.ns.complete_upload(&request(&id, &[1, 3])).unwrap_err();
    assert_eq!(err.detail, ErrorDetail::InvalidRequest, "{err}");
    assert!(err.message.contains("at most 4 slices"), "{err}");
    assert_eq!(state(&f, &id), Some(UploadState::Open));
    assert!(queued(&f.store, Queue::Gc).is_empty());
    // Within it: the parts left out (10 slices) are released a step at a time, then linked.
    assert!(f.ns.complete_step(&request(&id, &[3])).unwrap().is_none());
    assert_eq!(queued(&f.store, Queue::Gc), chunks[0]);
    let done = f.ns.complete_upload(&request(&id, &[3])).unwrap();
    assert_eq!(done.entry.chunk_count, 2);
    assert_eq!(chunk_ids(&f.ns, "/bkt/dir/"), chunks[2]);
    assert_eq!(queued(&f.store, Queue::Gc).len(), 10);
    // A copy onto a directory object is bounded the same way.
    let (big, _) = upload(&f);
    f.ns.complete_upload(&request(&big, &[1, 2, 3])).unwrap();
    let err = copy(&f.ns, "/bkt/d/k", "/bkt/dir/").unwrap_err();
    assert_eq!(err.detail, ErrorDetail::InvalidRequest, "{err}");
    // And so is a write of more chunks than that.
    let err = put(&f.ns, "/bkt/dir/", 5).unwrap_err();
    assert_eq!(err.detail, ErrorDetail::InvalidRequest, "{err}");
    put(&f.ns, "/bkt/other/", 4).unwrap();
    assert_eq!(chunk_ids(&f.ns, "/bkt/dir/"), chunks[2]);
}

//! Values of version 9, all new. Frozen: never change these types, add to a later version
//! instead. The schema stays version 8: no row changes form, and a metad of version 8 never
//! reads these (it still runs on, or follows a group with, a database that holds them).
//!
//! Version 9 made commits idempotent: the batch that commits a write session also records
//! its outcome ([`ClosedSession`], in the `session` table under
//! [`keys::closed_session`](crate::store::keys::closed_session)), so that a commit repeated
//! after its answer was lost (a metad crash, a dropped connection, a new leader) gets the
//! first answer instead of "no such session", and a session whose mirror row outlived its
//! commit (a crash between the log's fsync and the apply) is known to be closed.

use super::v5::Checksum;
use dfs_common::InodeId;
use serde::{Deserialize, Serialize};

/// The outcome of a committed write session, kept a while to answer a repeated commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedSession {
    /// When it was committed, Unix milliseconds; the row is dropped some minutes later.
    pub closed_ms: u64,
    /// The size committed; a repeat must name the same.
    pub size: u64,
    /// The ETag committed, as stored (quoted); a repeat must name the same.
    pub etag: String,
    /// The flexible checksum committed, if any.
    pub checksum: Option<Checksum>,
    /// What was committed.
    pub answer: ClosedAnswer,
}

/// What a committed session made: the parts of the answer the repeated request does not
/// carry itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClosedAnswer {
    /// A file, or the payload of a directory object `x/`.
    Object {
        /// The entry's key-form name in its parent.
        name: String,
        /// The object `x/` of a directory rather than a file.
        directory: bool,
        /// Its inode.
        inode: InodeId,
        /// Its commit time, Unix milliseconds.
        mtime_ms: u64,
        /// Chunks holding its data.
        chunk_count: u64,
    },
    /// A part of a multipart upload.
    Part {
        /// Its number.
        part_number: u32,
        /// When it was stored, Unix milliseconds.
        mtime_ms: u64,
    },
}

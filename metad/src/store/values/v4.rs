//! Values of schema version 4 that differ from earlier versions. Frozen: never change these
//! types, add to a later version instead.
//!
//! Version 4 let the object `x/` that an explicit directory is hold data, like any S3 object:
//! its payload gained a size, a chunk count and multipart part sizes. Its chunk rows are rows
//! of the `chunks` table keyed by the directory's inode, exactly as a file's are keyed by the
//! file's (inode ids are unique, so the two never clash).

use super::{v2, v3};
use dfs_common::InodeId;
use serde::{Deserialize, Serialize};

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dentry {
    /// A directory (its key-form name ends in `/`).
    Dir(Dir),
    /// A file (unchanged since version 3).
    File(v3::File),
}

/// A directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dir {
    /// Its inode: the parent id of its children's keys, and the prefix of its payload's
    /// `chunks` rows.
    pub inode: InodeId,
    /// Creation or last change of its own entry (and of its payload), Unix milliseconds.
    pub mtime_ms: u64,
    /// Created on purpose (mkdir, bucket, S3 `x/`) rather than implied by a child; implicit
    /// directories disappear with their last child. Below a bucket an explicit directory
    /// is the S3 object `x/`.
    pub explicit: bool,
    /// The payload of the object `x/` as stored by an S3 write of `x/`; `None` for a plain
    /// mkdir (the object is then empty, with the ETag of nothing) and for implicit
    /// directories, which are no objects.
    pub object: Option<DirObject>,
    /// Top-level directories: the bucket record.
    pub bucket: Option<v2::BucketRecord>,
}

/// The payload of an explicit directory's object `x/`: what a file holds besides its inode
/// and mtime (for those the directory's own serve).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirObject {
    /// The ETag.
    pub etag: String,
    /// Content type given at write time.
    pub content_type: Option<String>,
    /// User metadata and stored headers.
    pub meta: Vec<(String, String)>,
    /// Bytes of data.
    pub size: u64,
    /// Number of `chunks` rows (keyed by the directory's inode).
    pub chunk_count: u64,
    /// Made by a multipart upload: each part's size, in order. Empty otherwise.
    pub part_sizes: Vec<u64>,
}

impl From<v2::DirObject> for DirObject {
    /// Before version 4 a directory object held no data.
    fn from(old: v2::DirObject) -> DirObject {
        DirObject {
            etag: old.etag,
            content_type: old.content_type,
            meta: old.meta,
            size: 0,
            chunk_count: 0,
            part_sizes: Vec::new(),
        }
    }
}

impl From<v2::Dir> for Dir {
    fn from(old: v2::Dir) -> Dir {
        Dir {
            inode: old.inode,
            mtime_ms: old.mtime_ms,
            explicit: old.explicit,
            object: old.object.map(DirObject::from),
            bucket: old.bucket,
        }
    }
}

impl From<v3::Dentry> for Dentry {
    fn from(old: v3::Dentry) -> Dentry {
        match old {
            v3::Dentry::Dir(dir) => Dentry::Dir(dir.into()),
            v3::Dentry::File(file) => Dentry::File(file),
        }
    }
}

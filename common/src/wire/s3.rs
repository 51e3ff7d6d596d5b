//! The S3-facing RPCs of metad: buckets with owners, access keys and their grants, and the
//! ListObjects page. Re-exported by [`crate::wire`].

use super::{Empty, Entry, Repeat, Rpc};
use crate::names::BucketName;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Buckets (S3)

/// Create a bucket: a top-level directory with a bucket record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateBucketReq {
    /// The bucket's name. Only S3 creates buckets this way, so the name follows S3's rules,
    /// checked again when the request is decoded (on the wire it is a plain string).
    pub name: BucketName,
    /// The access key creating it: it becomes the owner and gets read, write and owner grants
    /// on the bucket. `None` for the cluster administrator (no owner, no grant).
    pub owner_key: Option<String>,
}

/// The answer to [`CreateBucketReq`]. An existing bucket is not an error: `created` is false
/// and `owned_by_caller` tells S3's BucketAlreadyOwnedByYou from BucketAlreadyExists.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateBucketResp {
    /// Whether this call created the bucket.
    pub created: bool,
    /// Whether the bucket's owner is `owner_key` (both `None` counts as equal). True when
    /// `created`.
    pub owned_by_caller: bool,
    /// The bucket's directory entry (the new one, or the existing one).
    pub entry: Entry,
}
rpc!(CreateBucketReq, "create_bucket", CreateBucketResp, Never);

/// List buckets.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ListBucketsReq {
    /// Only the buckets this access key has any grant on; `None` for every bucket.
    pub key_id: Option<String>,
}

/// One bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    /// Its name.
    pub name: String,
    /// Creation time, Unix milliseconds.
    pub created_ms: u64,
    /// The access key that created it, if any (it may have been deleted since).
    pub owner_key: Option<String>,
}

/// The answer to [`ListBucketsReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListBucketsResp {
    /// The buckets, by name.
    pub buckets: Vec<BucketInfo>,
}
rpc!(ListBucketsReq, "list_buckets", ListBucketsResp, Always);

/// Delete an empty bucket (`NotEmpty` while any entry remains). Every grant on it goes too.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeleteBucketReq {
    /// The bucket's name.
    pub name: BucketName,
}
rpc!(DeleteBucketReq, "delete_bucket", Empty, Never);

// ---------------------------------------------------------------------------------------------
// Access keys (S3 credentials)

/// Create an access key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyCreateReq {
    /// A name for people (at most 256 bytes).
    pub name: String,
}

/// The answer to [`KeyCreateReq`]: the only answer besides [`KeyGetResp`] that shows the
/// secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyCreateResp {
    /// The access key id: `DFS` and 17 upper-case letters or digits (20 characters, like AWS).
    pub key_id: String,
    /// The secret access key: 40 letters and digits.
    pub secret: crate::Secret,
}
rpc!(KeyCreateReq, "key_create", KeyCreateResp, Never);

/// What an access key may do on one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketGrant {
    /// The bucket's name.
    pub bucket: String,
    /// May list and read objects.
    pub read: bool,
    /// May write and delete objects.
    pub write: bool,
    /// May administer the bucket (delete it, change its settings).
    pub owner: bool,
}

/// An access key as listed (without its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The access key id.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// Creation time, Unix milliseconds.
    pub created_ms: u64,
    /// Its grants, by bucket name.
    pub grants: Vec<BucketGrant>,
}

/// List every access key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeyListReq {}

/// The answer to [`KeyListReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyListResp {
    /// The keys, by id.
    pub keys: Vec<KeyInfo>,
}
rpc!(KeyListReq, "key_list", KeyListResp, Always);

/// Delete an access key (`NotFound` if unknown). Buckets it owns keep it as their recorded
/// owner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyDeleteReq {
    /// The access key id.
    pub key_id: String,
}
rpc!(KeyDeleteReq, "key_delete", Empty, Never);

/// Fetch an access key with its secret, to verify a request signature (`NotFound` if unknown).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyGetReq {
    /// The access key id.
    pub key_id: String,
}

/// The answer to [`KeyGetReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyGetResp {
    /// The access key id.
    pub key_id: String,
    /// The secret access key.
    pub secret: crate::Secret,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its grants, by bucket name.
    pub grants: Vec<BucketGrant>,
}
rpc!(KeyGetReq, "key_get", KeyGetResp, Always);

/// Grant an access key rights on a bucket (flags set here are added to those it has). The key
/// and the bucket must exist.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketAllowReq {
    /// The bucket's name.
    pub bucket: BucketName,
    /// The access key id.
    pub key_id: String,
    /// Add the read right.
    pub read: bool,
    /// Add the write right.
    pub write: bool,
    /// Add the owner right.
    pub owner: bool,
}
rpc!(BucketAllowReq, "bucket_allow", KeyInfo, Always);

/// Take rights on a bucket away from an access key (flags set here are cleared; a grant left
/// with no flag disappears). The key must exist; the bucket need not.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketDenyReq {
    /// The bucket's name.
    pub bucket: BucketName,
    /// The access key id.
    pub key_id: String,
    /// Clear the read right.
    pub read: bool,
    /// Clear the write right.
    pub write: bool,
    /// Clear the owner right.
    pub owner: bool,
}
rpc!(BucketDenyReq, "bucket_deny", KeyInfo, Always);

// ---------------------------------------------------------------------------------------------
// S3 listing

/// Most keys and common prefixes one [`ListObjectsReq`] returns.
pub const MAX_LIST_KEYS: u32 = 1000;

/// One page of S3 ListObjects (V1 or V2), in S3 key order (bytewise UTF-8). The cost is
/// proportional to the page, not to the bucket.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListObjectsReq {
    /// The bucket.
    pub bucket: BucketName,
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Group keys that contain this after the prefix into common prefixes (up to and including
    /// its first occurrence).
    pub delimiter: Option<String>,
    /// Only keys after this one (exclusive; S3's marker, start-after or the position of a
    /// continuation token). With a delimiter, when it lies inside a common prefix (or is one),
    /// that whole common prefix is skipped, so paging on `next_start_after` never repeats one.
    pub start_after: Option<String>,
    /// At most this many objects and common prefixes together (capped at [`MAX_LIST_KEYS`]);
    /// 0 answers an empty, untruncated page.
    pub max_keys: u32,
}

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// The key (the path below the bucket; `x/` for an explicit directory).
    pub key: String,
    /// Bytes of data.
    pub size: u64,
    /// The ETag (quoted).
    pub etag: String,
    /// Last modification, Unix milliseconds.
    pub mtime_ms: u64,
    /// Content type given at write time.
    pub content_type: Option<String>,
}

/// The answer to [`ListObjectsReq`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListObjectsResp {
    /// Objects, in key order.
    pub objects: Vec<ObjectEntry>,
    /// Common prefixes, in key order (interleaved with `objects` in one order).
    pub common_prefixes: Vec<String>,
    /// Whether more keys or prefixes follow.
    pub truncated: bool,
    /// When truncated: the last key or common prefix of this page (whichever sorts last), the
    /// `start_after` of the next page.
    pub next_start_after: Option<String>,
}
rpc!(ListObjectsReq, "list_objects", ListObjectsResp, Always);

//! The typed metad calls that are not file reads or writes, grouped by what they act on:
//! [`DfsClient::buckets`], [`DfsClient::keys`], [`DfsClient::uploads`] and
//! [`DfsClient::nodes`]. Each method is one RPC under the client's retry policy; the request
//! and answer types are those of `dfs_common::wire`. Namespace calls (`stat`, `list`,
//! `mkdir`, `delete`, `rename`, `copy`) are methods of [`DfsClient`] itself, and writes go
//! through [`crate::FileWriter`].

use crate::DfsClient;
use dfs_common::wire::{
    AbortUploadReq, BucketAllowReq, BucketDenyReq, CompleteUploadReq, CompleteUploadResp,
    CopyPartReq, CopyPartResp, CreateBucketReq, CreateBucketResp, CreateUploadReq,
    CreateUploadResp, DeleteBucketReq, KeyCreateReq, KeyCreateResp, KeyDeleteReq, KeyGetReq,
    KeyGetResp, KeyInfo, KeyListReq, KeyListResp, ListBucketsReq, ListBucketsResp, ListObjectsReq,
    ListObjectsResp, ListPartsReq, ListPartsResp, ListUploadsReq, ListUploadsResp, MetadAddReq,
    MetadRemoveReq, SnapshotReq, SnapshotResp, StatusReq, StatusResp,
};
use dfs_common::RpcError;

impl DfsClient {
    /// Bucket calls: create, list, delete, S3 listings, grants.
    pub fn buckets(&self) -> Buckets<'_> {
        Buckets(self)
    }

    /// Access key calls: create, list, get, delete.
    pub fn keys(&self) -> Keys<'_> {
        Keys(self)
    }

    /// S3 multipart upload calls (parts are written with [`DfsClient::create_part`]).
    pub fn uploads(&self) -> Uploads<'_> {
        Uploads(self)
    }

    /// Cluster calls: the status of the chunkds and the queues.
    pub fn nodes(&self) -> Nodes<'_> {
        Nodes(self)
    }
}

/// Bucket calls of a [`DfsClient`].
#[derive(Clone, Copy, Debug)]
pub struct Buckets<'a>(&'a DfsClient);

impl Buckets<'_> {
    /// Creates a bucket (a top-level directory with an owner).
    pub async fn create(&self, req: &CreateBucketReq) -> Result<CreateBucketResp, RpcError> {
        self.0.call(req).await
    }

    /// The buckets, all of them or those `key_id` may use.
    pub async fn list(&self, key_id: Option<String>) -> Result<ListBucketsResp, RpcError> {
        self.0.call(&ListBucketsReq { key_id }).await
    }

    /// Deletes an empty bucket.
    pub async fn delete(&self, req: &DeleteBucketReq) -> Result<(), RpcError> {
        self.0.call(req).await.map(|_| ())
    }

    /// One page of an S3 listing (V1 or V2) of a bucket.
    pub async fn list_objects(&self, req: &ListObjectsReq) -> Result<ListObjectsResp, RpcError> {
        self.0.call(req).await
    }

    /// Grants an access key rights on a bucket.
    pub async fn allow(&self, req: &BucketAllowReq) -> Result<KeyInfo, RpcError> {
        self.0.call(req).await
    }

    /// Takes rights on a bucket from an access key.
    pub async fn deny(&self, req: &BucketDenyReq) -> Result<KeyInfo, RpcError> {
        self.0.call(req).await
    }
}

/// Access key calls of a [`DfsClient`].
#[derive(Clone, Copy, Debug)]
pub struct Keys<'a>(&'a DfsClient);

impl Keys<'_> {
    /// Creates an access key called `name`; the answer holds its secret, shown once.
    pub async fn create(&self, name: &str) -> Result<KeyCreateResp, RpcError> {
        self.0
            .call(&KeyCreateReq {
                name: name.to_owned(),
            })
            .await
    }

    /// Every access key, without secrets.
    pub async fn list(&self) -> Result<KeyListResp, RpcError> {
        self.0.call(&KeyListReq {}).await
    }

    /// One access key with its secret (the gateway verifies signatures with it).
    pub async fn get(&self, key_id: &str) -> Result<KeyGetResp, RpcError> {
        self.0
            .call(&KeyGetReq {
                key_id: key_id.to_owned(),
            })
            .await
    }

    /// Deletes an access key.
    pub async fn delete(&self, key_id: &str) -> Result<(), RpcError> {
        self.0
            .call(&KeyDeleteReq {
                key_id: key_id.to_owned(),
            })
            .await
            .map(|_| ())
    }
}

/// Multipart upload calls of a [`DfsClient`].
#[derive(Clone, Copy, Debug)]
pub struct Uploads<'a>(&'a DfsClient);

impl Uploads<'_> {
    /// Starts an upload.
    pub async fn create(&self, req: &CreateUploadReq) -> Result<CreateUploadResp, RpcError> {
        self.0.call(req).await
    }

    /// Makes a part from a range of an existing object, sharing its chunks.
    pub async fn copy_part(&self, req: &CopyPartReq) -> Result<CopyPartResp, RpcError> {
        self.0.call(req).await
    }

    /// Makes the object from the listed parts, atomically.
    pub async fn complete(&self, req: &CompleteUploadReq) -> Result<CompleteUploadResp, RpcError> {
        self.0.call(req).await
    }

    /// Aborts an upload and releases its parts.
    pub async fn abort(&self, req: &AbortUploadReq) -> Result<(), RpcError> {
        self.0.call(req).await.map(|_| ())
    }

    /// One page of an upload's parts.
    pub async fn list_parts(&self, req: &ListPartsReq) -> Result<ListPartsResp, RpcError> {
        self.0.call(req).await
    }

    /// One page of a bucket's uploads in progress.
    pub async fn list(&self, req: &ListUploadsReq) -> Result<ListUploadsResp, RpcError> {
        self.0.call(req).await
    }
}

/// Cluster calls of a [`DfsClient`].
#[derive(Clone, Copy, Debug)]
pub struct Nodes<'a>(&'a DfsClient);

impl Nodes<'_> {
    /// The cluster overview: nodes, replication, chunk and queue counts.
    pub async fn status(&self) -> Result<StatusResp, RpcError> {
        self.0.call(&StatusReq {}).await
    }

    /// Adds member `id` at `addr` to the metad group (see [`MetadAddReq`]).
    pub async fn add_metad(&self, id: u64, addr: &str) -> Result<(), RpcError> {
        self.0
            .call(&MetadAddReq {
                id,
                addr: addr.to_owned(),
            })
            .await
            .map(|_| ())
    }

    /// Removes member `id` from the metad group.
    pub async fn remove_metad(&self, id: u64) -> Result<(), RpcError> {
        self.0.call(&MetadRemoveReq { id }).await.map(|_| ())
    }

    /// Writes an online snapshot of metad's database to `dir` on metad's host (a new folder,
    /// absolute path): a metad data folder as of now, the backup.
    pub async fn snapshot(&self, dir: &str) -> Result<SnapshotResp, RpcError> {
        self.0
            .call(&SnapshotReq {
                dir: dir.to_owned(),
            })
            .await
    }
}

//! S3 buckets: top-level directories with a bucket record (creation time, owner key). The
//! owner's grants live with its access key (`access`), written in the same batch.

use super::{get_dentry, to_entry, unreachable_kind, Namespace};
use crate::access;
use crate::store::values::{BucketRecord, Dentry, Dir, Grant, Value};
use crate::store::{keys, Cf, Reader};
use dfs_common::wire::{
    BucketInfo, CreateBucketReq, CreateBucketResp, DeleteBucketReq, ListBucketsReq, ListBucketsResp,
};
use dfs_common::{ErrorCode, InodeId, RpcError};

impl Namespace {
    /// Creates a bucket owned by `owner_key`, which gets every right on it. An existing bucket
    /// is answered, not refused, so that the gateway can tell S3's two "already" errors apart.
    pub fn create_bucket(&self, req: &CreateBucketReq) -> Result<CreateBucketResp, RpcError> {
        // The name is a `BucketName`: S3's rules, stricter than one path component, were
        // checked when the request was decoded.
        let key_name = keys::entry_name(&req.name, true);
        let now = super::now_ms();
        let mut txn = self.store.begin();
        match get_dentry(&txn, InodeId::ROOT, &key_name)? {
            Some(Dentry::Dir(dir)) => {
                let owner = dir.bucket.as_ref().and_then(|b| b.owner.as_deref());
                return Ok(CreateBucketResp {
                    created: false,
                    owned_by_caller: owner == req.owner_key.as_deref(),
                    entry: to_entry(InodeId::ROOT, &key_name, &Dentry::Dir(dir)),
                });
            }
            Some(Dentry::File(_)) => return unreachable_kind(&key_name),
            None => {}
        }
        // Grants on this name may survive from a bucket removed by an older metad: they must not
        // open the new bucket to its former users.
        access::drop_bucket_grants(&mut txn, &req.name)?;
        if let Some(owner) = &req.owner_key {
            let all = Grant {
                bucket: req.name.to_string(),
                read: true,
                write: true,
                owner: true,
            };
            access::grant(&mut txn, owner, &all)?;
        }
        let dentry = Dentry::Dir(Dir {
            inode: self.new_inode()?,
            mtime_ms: now,
            explicit: true,
            object: None,
            bucket: Some(BucketRecord {
                created_ms: now,
                owner: req.owner_key.clone(),
            }),
        });
        txn.put(Cf::Dentry, &keys::dentry(InodeId::ROOT, &key_name), &dentry)?;
        txn.commit(true)?;
        tracing::info!(bucket = %req.name, owner = ?req.owner_key, "bucket created");
        Ok(CreateBucketResp {
            created: true,
            owned_by_caller: true,
            entry: to_entry(InodeId::ROOT, &key_name, &dentry),
        })
    }

    /// The buckets a key has any grant on (every bucket for no key), by name.
    pub fn list_buckets(&self, req: &ListBucketsReq) -> Result<ListBucketsResp, RpcError> {
        let view = self.store.view();
        let mut buckets = Vec::new();
        match &req.key_id {
            None => {
                view.scan_raw(
                    Cf::Dentry,
                    &keys::dentry_prefix(InodeId::ROOT),
                    None,
                    &mut |key, value| {
                        let name = keys::parse_dentry(key)
                            .and_then(|(_, n)| n.strip_suffix('/').map(str::to_owned));
                        match (name, Dentry::decode(value)?) {
                            (Some(name), Dentry::Dir(dir)) => {
                                buckets.push(bucket_info(name, &dir));
                            }
                            _ => tracing::error!("skipping malformed bucket entry {key:02x?}"),
                        }
                        Ok(true)
                    },
                )?;
            }
            Some(key_id) => {
                let record = access::load(&view, key_id)?
                    .ok_or_else(|| RpcError::not_found(format!("no such access key {key_id:?}")))?;
                for grant in &record.grants {
                    if !(grant.read || grant.write || grant.owner) {
                        continue;
                    }
                    let key_name = keys::entry_name(&grant.bucket, true);
                    if let Some(Dentry::Dir(dir)) = get_dentry(&view, InodeId::ROOT, &key_name)? {
                        buckets.push(bucket_info(grant.bucket.clone(), &dir));
                    }
                }
                buckets.sort_by(|a, b| a.name.cmp(&b.name));
                buckets.dedup_by(|a, b| a.name == b.name);
            }
        }
        Ok(ListBucketsResp { buckets })
    }

    /// Deletes an empty bucket (no entry, no multipart upload in progress) and every grant on
    /// it.
    pub fn delete_bucket(&self, req: &DeleteBucketReq) -> Result<(), RpcError> {
        let key_name = keys::entry_name(&req.name, true);
        let mut txn = self.store.begin();
        let dir = match get_dentry(&txn, InodeId::ROOT, &key_name)? {
            Some(Dentry::Dir(dir)) => dir,
            Some(Dentry::File(_)) => return unreachable_kind(&key_name),
            None => {
                return Err(RpcError::no_such_bucket(format!(
                    "no such bucket {:?}",
                    req.name
                )))
            }
        };
        if txn.any_with_prefix(Cf::Dentry, &keys::dentry_prefix(dir.inode))? {
            return Err(RpcError::new(
                ErrorCode::NotEmpty,
                format!("bucket {:?} is not empty", req.name),
            ));
        }
        super::multipart::clear_bucket_uploads(&mut txn, dir.inode, &req.name)?;
        txn.delete(Cf::Dentry, &keys::dentry(InodeId::ROOT, &key_name));
        access::drop_bucket_grants(&mut txn, &req.name)?;
        txn.commit(true)?;
        tracing::info!(bucket = %req.name, "bucket deleted");
        Ok(())
    }
}

/// A bucket as listed. Buckets made before bucket records existed show their directory's
/// time and no owner.
fn bucket_info(name: String, dir: &Dir) -> BucketInfo {
    BucketInfo {
        name,
        created_ms: dir.bucket.as_ref().map_or(dir.mtime_ms, |b| b.created_ms),
        owner_key: dir.bucket.as_ref().and_then(|b| b.owner.clone()),
    }
}

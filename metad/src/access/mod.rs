//! S3 access keys and their per-bucket grants (`access_key` table).
//!
//! A key's record holds its name, its secret sealed with the cluster secret (see [`seal`]) and
//! its grants by bucket name. Every change is one synced batch under the store's transaction
//! lock. Grants follow bucket names, so the namespace keeps them true in the same batch as the
//! bucket change: creating a bucket clears stale grants on its name and grants the owner,
//! deleting it drops every grant on it, renaming it moves them ([`grant`],
//! [`drop_bucket_grants`], [`rename_bucket_grants`]).

mod seal;
#[cfg(test)]
mod tests;

use crate::store::values::{AccessKey, Dentry, Grant, Value};
use crate::store::{keys, Cf, Reader, Store, StoreError, Txn};
use dfs_common::auth::ClusterSecret;
use dfs_common::wire::{
    BucketAllowReq, BucketDenyReq, BucketGrant, KeyCreateReq, KeyCreateResp, KeyDeleteReq,
    KeyGetReq, KeyGetResp, KeyInfo, KeyListReq, KeyListResp,
};
use dfs_common::{ErrorDetail, InodeId, RpcError, Secret};
use rand::Rng;
use std::sync::Arc;

/// Access key ids: this prefix and [`KEY_ID_RANDOM`] characters of [`KEY_ID_ALPHABET`], 20 in
/// all like AWS's.
const KEY_ID_PREFIX: &str = "DFS";
const KEY_ID_RANDOM: usize = 17;
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Secrets: 40 letters and digits (about 238 bits), like AWS's length, without the `+` and `/`
/// that trip up shells and config files.
const SECRET_LEN: usize = 40;
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Longest key name accepted.
const MAX_NAME_BYTES: usize = 256;

/// The access-key service.
pub struct AccessKeys {
    store: Arc<Store>,
    secret: ClusterSecret,
}

impl AccessKeys {
    /// The service over `store`, sealing secrets with the cluster secret.
    pub fn new(store: Arc<Store>, secret: ClusterSecret) -> Self {
        AccessKeys { store, secret }
    }

    /// Creates a key with a fresh random id and secret.
    pub fn create(&self, req: &KeyCreateReq) -> Result<KeyCreateResp, RpcError> {
        if req.name.len() > MAX_NAME_BYTES {
            return Err(RpcError::invalid(format!(
                "access key name is longer than {MAX_NAME_BYTES} bytes"
            )));
        }
        let secret = Secret::new(random_text(SECRET_ALPHABET, SECRET_LEN));
        let mut txn = self.store.begin();
        // 88 random bits make a clash all but impossible; checking costs one read.
        let mut key_id = new_key_id();
        while load(&txn, &key_id)?.is_some() {
            key_id = new_key_id();
        }
        let (sealed_secret, tag) = seal::seal(&self.secret, &key_id, secret.expose().as_bytes());
        let record = AccessKey {
            name: req.name.clone(),
            created_ms: crate::clock::now_ms(),
            sealed_secret,
            tag,
            grants: Vec::new(),
        };
        txn.put(Cf::AccessKey, &keys::access_key(&key_id), &record)?;
        txn.commit(true)?;
        tracing::info!(%key_id, name = %req.name, "access key created");
        Ok(KeyCreateResp { key_id, secret })
    }

    /// Every key, by id, without secrets.
    pub fn list(&self, _req: &KeyListReq) -> Result<KeyListResp, RpcError> {
        let mut keys = Vec::new();
        self.store
            .view()
            .scan_raw(Cf::AccessKey, &[], None, &mut |key, value| {
                match (keys::parse_access_key(key), AccessKey::decode(value)) {
                    (Some(id), Ok(record)) => keys.push(key_info(&id, &record)),
                    (_, Err(e)) => tracing::error!("skipping access key {key:02x?}: {e}"),
                    (None, _) => tracing::error!("skipping malformed access key {key:02x?}"),
                }
                Ok(true)
            })?;
        Ok(KeyListResp { keys })
    }

    /// A key with its secret, for signature checks.
    pub fn get(&self, req: &KeyGetReq) -> Result<KeyGetResp, RpcError> {
        let record = require(&self.store.view(), &req.key_id)?;
        let secret = seal::open(
            &self.secret,
            &req.key_id,
            &record.sealed_secret,
            &record.tag,
        )
        .map_err(|e| RpcError::internal(e.to_string()))?;
        let secret = String::from_utf8(secret).map(Secret::new).map_err(|_| {
            RpcError::internal(format!(
                "the secret of access key {} is not text",
                req.key_id
            ))
        })?;
        Ok(KeyGetResp {
            key_id: req.key_id.clone(),
            secret,
            name: record.name,
            grants: record.grants.iter().map(to_wire).collect(),
        })
    }

    /// Deletes a key. Buckets it owns keep it as their recorded owner.
    pub fn delete(&self, req: &KeyDeleteReq) -> Result<(), RpcError> {
        let mut txn = self.store.begin();
        require(&txn, &req.key_id)?;
        txn.delete(Cf::AccessKey, &keys::access_key(&req.key_id));
        txn.commit(true)?;
        tracing::info!(key_id = %req.key_id, "access key deleted");
        Ok(())
    }

    /// Adds rights on an existing bucket.
    pub fn allow(&self, req: &BucketAllowReq) -> Result<KeyInfo, RpcError> {
        let mut txn = self.store.begin();
        if !bucket_exists(&txn, &req.bucket)? {
            return Err(RpcError::no_such_bucket(format!(
                "no such bucket {:?} (granting access key {})",
                req.bucket, req.key_id
            )));
        }
        let flags = Grant {
            bucket: req.bucket.to_string(),
            read: req.read,
            write: req.write,
            owner: req.owner,
        };
        let record = grant(&mut txn, &req.key_id, &flags)?;
        txn.commit(true)?;
        Ok(key_info(&req.key_id, &record))
    }

    /// Clears rights on a bucket (which need not exist any more).
    pub fn deny(&self, req: &BucketDenyReq) -> Result<KeyInfo, RpcError> {
        let mut txn = self.store.begin();
        let mut record = require(&txn, &req.key_id)?;
        for g in record
            .grants
            .iter_mut()
            .filter(|g| g.bucket == req.bucket.as_str())
        {
            g.read &= !req.read;
            g.write &= !req.write;
            g.owner &= !req.owner;
        }
        record.grants.retain(|g| g.read || g.write || g.owner);
        txn.put(Cf::AccessKey, &keys::access_key(&req.key_id), &record)?;
        txn.commit(true)?;
        Ok(key_info(&req.key_id, &record))
    }
}

/// The record of a key, if it exists.
pub(crate) fn load(r: &impl Reader, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
    r.get(Cf::AccessKey, &keys::access_key(key_id))
}

/// The record of a key, `NotFound` if it does not exist.
fn require(r: &impl Reader, key_id: &str) -> Result<AccessKey, RpcError> {
    load(r, key_id)?.ok_or_else(|| {
        RpcError::detailed(
            ErrorDetail::NoSuchAccessKey,
            format!("no such access key {key_id:?}"),
        )
    })
}

/// Adds the flags set in `flags` to the key's grant on `flags.bucket` (staged in `txn`) and
/// returns the updated record. `NotFound` if the key does not exist.
pub(crate) fn grant(txn: &mut Txn<'_>, key_id: &str, flags: &Grant) -> Result<AccessKey, RpcError> {
    let mut record = require(txn, key_id)?;
    match record.grants.iter_mut().find(|g| g.bucket == flags.bucket) {
        Some(g) => {
            g.read |= flags.read;
            g.write |= flags.write;
            g.owner |= flags.owner;
        }
        None => {
            record.grants.push(flags.clone());
            record.grants.sort_by(|a, b| a.bucket.cmp(&b.bucket));
        }
    }
    record.grants.retain(|g| g.read || g.write || g.owner);
    txn.put(Cf::AccessKey, &keys::access_key(key_id), &record)?;
    Ok(record)
}

/// Stages the removal of every grant on `bucket` (a bucket deleted, or created anew under a
/// name that stale grants may still mention).
pub(crate) fn drop_bucket_grants(txn: &mut Txn<'_>, bucket: &str) -> Result<(), StoreError> {
    rename_bucket_grants(txn, bucket, None)
}

/// Stages moving every grant on bucket `old` to `new`, or dropping them when `new` is `None`.
/// A grant the key already had on `new` (stale) is replaced.
pub(crate) fn rename_bucket_grants(
    txn: &mut Txn<'_>,
    old: &str,
    new: Option<&str>,
) -> Result<(), StoreError> {
    if new == Some(old) {
        return Ok(());
    }
    let mut changed = Vec::new();
    txn.scan_raw(Cf::AccessKey, &[], None, &mut |key, value| {
        let mut record = AccessKey::decode(value)?;
        if record.grants.iter().any(|g| g.bucket == old) {
            record.grants.retain(|g| Some(g.bucket.as_str()) != new);
            match new {
                Some(new) => record
                    .grants
                    .iter_mut()
                    .filter(|g| g.bucket == old)
                    .for_each(|g| g.bucket = new.to_owned()),
                None => record.grants.retain(|g| g.bucket != old),
            }
            record.grants.sort_by(|a, b| a.bucket.cmp(&b.bucket));
            changed.push((key.to_vec(), record));
        }
        Ok(true)
    })?;
    for (key, record) in changed {
        txn.put(Cf::AccessKey, &key, &record)?;
    }
    Ok(())
}

/// Whether a top-level directory (bucket) of that name exists.
fn bucket_exists(r: &impl Reader, bucket: &str) -> Result<bool, StoreError> {
    let key = keys::dentry(InodeId::ROOT, &keys::entry_name(bucket, true));
    Ok(matches!(
        r.get::<Dentry>(Cf::Dentry, &key)?,
        Some(Dentry::Dir(_))
    ))
}

fn key_info(key_id: &str, record: &AccessKey) -> KeyInfo {
    KeyInfo {
        key_id: key_id.to_owned(),
        name: record.name.clone(),
        created_ms: record.created_ms,
        grants: record.grants.iter().map(to_wire).collect(),
    }
}

fn to_wire(g: &Grant) -> BucketGrant {
    BucketGrant {
        bucket: g.bucket.clone(),
        read: g.read,
        write: g.write,
        owner: g.owner,
    }
}

fn new_key_id() -> String {
    format!(
        "{KEY_ID_PREFIX}{}",
        random_text(KEY_ID_ALPHABET, KEY_ID_RANDOM)
    )
}

/// `len` characters drawn uniformly from `alphabet` by the operating system's generator.
fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

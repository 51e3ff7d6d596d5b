//! Access keys: a small cache of what metad knows about each key (secret and bucket grants),
//! and the rule of which grant each operation needs.
//!
//! Keys live in metad (`KeyGetReq`). Fetching one per request would put a metad round trip on
//! every S3 call, so answers are kept for a few seconds: a revoked key or grant stops working
//! within [`KEY_TTL`]. A key id metad does not know is remembered as unknown just as long, so
//! requests signed with a wrong or deleted key id (a misconfigured client retrying, or
//! anyone: they need no valid signature) cost metad one lookup per id every few seconds, not
//! one each; a key created meanwhile works after at most that long. The cache is bounded;
//! when full it first drops expired entries, then everything (a rare event, cheaper than
//! tracking recency on every hit).

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::Endpoint;
use dfs_client::DfsClient;
use dfs_common::wire::BucketGrant;
use dfs_common::{ErrorDetail, Secret};
use http::Method;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a key fetched from metad is trusted.
pub(crate) const KEY_TTL: Duration = Duration::from_secs(5);
/// Most keys kept at once.
const MAX_CACHED_KEYS: usize = 10_000;
/// Longest access key id looked up at metad; longer ones cannot exist.
const MAX_KEY_ID_LEN: usize = 128;

/// An access key as the gateway uses it.
#[derive(Debug)]
pub(crate) struct AccessKey {
    /// The access key id.
    pub id: String,
    /// The secret access key (never printed).
    pub secret: Secret,
    /// Its name, shown as the owner's display name.
    pub name: String,
    /// Its grants, by bucket.
    pub grants: Vec<BucketGrant>,
}

/// What an operation needs from the key that signed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Only a valid key (CreateBucket, ListBuckets).
    Authenticated,
    /// The read grant on the bucket (GET, HEAD and listings).
    Read,
    /// The write grant on the bucket (object PUT, POST, DELETE).
    Write,
    /// The owner grant on the bucket (DeleteBucket, bucket configuration changes).
    Owner,
}

/// The access an endpoint needs.
pub(crate) fn required_access(endpoint: &Endpoint) -> Access {
    match endpoint {
        Endpoint::ListBuckets | Endpoint::CreateBucket { .. } => Access::Authenticated,
        Endpoint::HeadBucket { .. }
        | Endpoint::GetBucketLocation { .. }
        | Endpoint::GetBucketVersioning { .. }
        | Endpoint::GetBucketAcl { .. }
        | Endpoint::ListObjects { .. }
        | Endpoint::ListObjectsV2 { .. }
        | Endpoint::ListMultipartUploads { .. }
        | Endpoint::GetObject { .. }
        | Endpoint::HeadObject { .. }
        | Endpoint::ListParts { .. }
        | Endpoint::GetObjectAcl { .. } => Access::Read,
        Endpoint::DeleteBucket { .. } => Access::Owner,
        Endpoint::BucketSubresource { method, .. } => {
            if *method == Method::GET {
                Access::Read
            } else {
                Access::Owner
            }
        }
        Endpoint::PutObject { .. }
        | Endpoint::CopyObject { .. }
        | Endpoint::DeleteObject { .. }
        | Endpoint::DeleteObjects { .. }
        | Endpoint::CreateMultipartUpload { .. }
        | Endpoint::UploadPart { .. }
        | Endpoint::UploadPartCopy { .. }
        | Endpoint::CompleteMultipartUpload { .. }
        | Endpoint::AbortMultipartUpload { .. } => Access::Write,
        // Refused with NotImplemented anyway; a GET-style name only needs to read.
        Endpoint::NotImplemented { operation, .. } => {
            if operation.starts_with("Get") {
                Access::Read
            } else {
                Access::Write
            }
        }
    }
}

impl AccessKey {
    /// Whether the key may do what `access` says on `bucket`.
    pub(crate) fn may(&self, bucket: Option<&str>, access: Access) -> bool {
        if access == Access::Authenticated {
            return true;
        }
        let Some(bucket) = bucket else { return false };
        self.grants
            .iter()
            .filter(|g| g.bucket == bucket)
            .any(|g| match access {
                Access::Authenticated => true,
                Access::Read => g.read,
                Access::Write => g.write,
                Access::Owner => g.owner,
            })
    }
}

/// The bounded, short-lived cache of access keys.
#[derive(Debug)]
pub(crate) struct KeyCache {
    client: DfsClient,
    entries: Mutex<HashMap<String, Cached>>,
}

/// When a key was fetched, and what metad said: the key, or `None` for an unknown id.
type Cached = (Instant, Option<Arc<AccessKey>>);

impl KeyCache {
    /// An empty cache fetching from metad through `client`.
    pub(crate) fn new(client: DfsClient) -> Self {
        KeyCache {
            client,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The key `id`, from the cache when fresh, else from metad. An unknown key is
    /// `InvalidAccessKeyId`.
    pub(crate) async fn get(&self, id: &str) -> S3Result<Arc<AccessKey>> {
        if let Some((fetched, key)) = self.lock().get(id) {
            if fetched.elapsed() < KEY_TTL {
                return match key {
                    Some(key) => Ok(key.clone()),
                    None => Err(unknown_key(id)),
                };
            }
        }
        self.fetch(id).await
    }

    /// The key `id` fresh from metad (after a grant was refused: it may have been given a
    /// moment ago, possibly through another gateway).
    pub(crate) async fn fetch(&self, id: &str) -> S3Result<Arc<AccessKey>> {
        if id.is_empty()
            || id.len() > MAX_KEY_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(unknown_key(id));
        }
        let resp = match self.client.keys().get(id).await {
            Ok(resp) => resp,
            Err(e) if e.is(ErrorDetail::NoSuchAccessKey) => {
                self.remember(id, None);
                return Err(unknown_key(id));
            }
            Err(e) => return Err(S3Error::from_rpc(e, S3ErrorCode::InvalidAccessKeyId)),
        };
        let key = Arc::new(AccessKey {
            id: resp.key_id,
            secret: resp.secret,
            name: resp.name,
            grants: resp.grants,
        });
        self.remember(id, Some(key.clone()));
        Ok(key)
    }

    /// Keeps what metad said of `id` for [`KEY_TTL`].
    fn remember(&self, id: &str, key: Option<Arc<AccessKey>>) {
        let mut entries = self.lock();
        if entries.len() >= MAX_CACHED_KEYS {
            entries.retain(|_, (fetched, _)| fetched.elapsed() < KEY_TTL);
            if entries.len() >= MAX_CACHED_KEYS {
                entries.clear();
            }
        }
        entries.insert(id.to_owned(), (Instant::now(), key));
    }

    /// Forgets the key `id` (its grants just changed: bucket created or deleted).
    pub(crate) fn invalidate(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// `InvalidAccessKeyId` for `id`, with the reason kept for the log.
fn unknown_key(id: &str) -> S3Error {
    S3Error::from_code(S3ErrorCode::InvalidAccessKeyId)
        .with_source(format!("access key {id:?} is not known to metad"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{BucketConfig, CopySource};
    use dfs_common::names::{BucketName, ObjectPath};

    fn key(grants: &[(&str, bool, bool, bool)]) -> AccessKey {
        AccessKey {
            id: "DFSKEY".into(),
            secret: "secret".into(),
            name: "test".into(),
            grants: grants
                .iter()
                .map(|&(bucket, read, write, owner)| BucketGrant {
                    bucket: bucket.into(),
                    read,
                    write,
                    owner,
                })
                .collect(),
        }
    }

    #[test]
    fn operations_need_the_right_grant() {
        let bucket = BucketName::new("bkt").unwrap();
        let object = ObjectPath::parse("/bkt/k").unwrap();
        assert_eq!(
            required_access(&Endpoint::ListBuckets),
            Access::Authenticated
        );
        let create = Endpoint::CreateBucket {
            bucket: bucket.clone(),
        };
        assert_eq!(required_access(&create), Access::Authenticated);
        let get = Endpoint::GetObject {
            object: object.clone(),
        };
        assert_eq!(required_access(&get), Access::Read);
        let list = Endpoint::ListObjectsV2 {
            bucket: bucket.clone(),
        };
        assert_eq!(required_access(&list), Access::Read);
        let head = Endpoint::HeadBucket {
            bucket: bucket.clone(),
        };
        assert_eq!(required_access(&head), Access::Read);
        let put = Endpoint::PutObject {
            object: object.clone(),
        };
        assert_eq!(required_access(&put), Access::Write);
        let delete = Endpoint::DeleteObjects {
            bucket: bucket.clone(),
        };
        assert_eq!(required_access(&delete), Access::Write);
        let copy = Endpoint::CopyObject {
            object,
            source: CopySource {
                object: ObjectPath::parse("/src/b").unwrap(),
                version_id: None,
            },
        };
        assert_eq!(required_access(&copy), Access::Write);
        let delete_bucket = Endpoint::DeleteBucket {
            bucket: bucket.clone(),
        };
        assert_eq!(required_access(&delete_bucket), Access::Owner);
        let get_cors = Endpoint::BucketSubresource {
            bucket: bucket.clone(),
            config: BucketConfig::Cors,
            method: Method::GET,
        };
        assert_eq!(required_access(&get_cors), Access::Read);
        let put_cors = Endpoint::BucketSubresource {
            bucket,
            config: BucketConfig::Cors,
            method: Method::PUT,
        };
        assert_eq!(required_access(&put_cors), Access::Owner);
    }

    #[test]
    fn grants_are_per_bucket_and_per_right() {
        let k = key(&[("logs", true, false, false), ("data", true, true, true)]);
        assert!(k.may(Some("logs"), Access::Read));
        assert!(!k.may(Some("logs"), Access::Write));
        assert!(!k.may(Some("logs"), Access::Owner));
        assert!(k.may(Some("data"), Access::Owner));
        assert!(!k.may(Some("other"), Access::Read));
        assert!(!k.may(None, Access::Read));
        assert!(k.may(None, Access::Authenticated));
    }

    #[test]
    fn debug_hides_the_secret() {
        let text = format!("{:?}", key(&[]));
        assert!(!text.contains("\"secret\""), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }

    #[tokio::test]
    async fn malformed_ids_are_refused_without_asking_metad() {
        // Nothing listens on port 1: a lookup that reached the network would be Unavailable.
        let client = DfsClient::new(
            "127.0.0.1:1",
            dfs_common::auth::ClusterSecret::new("0123456789abcdef0123").unwrap(),
        );
        let cache = KeyCache::new(client);
        for bad in ["", "has space", "../x", &"A".repeat(200)] {
            let err = cache.get(bad).await.unwrap_err();
            assert_eq!(err.code(), S3ErrorCode::InvalidAccessKeyId, "{bad:?}");
        }
        let err = cache.get("DFSUNREACHABLE").await.unwrap_err();
        assert_eq!(err.code(), S3ErrorCode::ServiceUnavailable);
    }
}

//! What a handler knows about its request: a narrow context, so that handlers talk to the
//! cluster through the client and never touch hyper plumbing.

use crate::auth::verify::Verified;
use crate::error::{S3Error, S3Result};
use crate::keys::{AccessKey, KeyCache};
use crate::router::Query;
use crate::xml::Owner;
use dfs_client::DfsClient;
use http::HeaderMap;
use std::sync::Arc;

/// One authenticated, authorized request.
pub(crate) struct ReqCtx {
    /// The cluster.
    pub client: DfsClient,
    /// The access-key cache (handlers that change grants invalidate their key).
    pub keys: Arc<KeyCache>,
    /// The region this gateway serves.
    pub region: Arc<str>,
    /// The access key that signed the request.
    pub identity: Arc<AccessKey>,
    /// The checked signature: what the body must still satisfy.
    pub verified: Verified,
    /// The bucket, if the request names one.
    pub bucket: Option<String>,
    /// The key, if the request names one (decoded, never normalised).
    pub key: Option<String>,
    /// The decoded query parameters.
    pub query: Query,
    /// The request headers.
    pub headers: HeaderMap,
}

impl ReqCtx {
    /// The bucket; the router guarantees one for bucket and object endpoints.
    pub(crate) fn bucket(&self) -> S3Result<&str> {
        self.bucket
            .as_deref()
            .ok_or_else(|| S3Error::internal("a bucket endpoint was routed without a bucket"))
    }

    /// The bucket and the key of an object endpoint.
    pub(crate) fn object(&self) -> S3Result<(&str, &str)> {
        let key = self
            .key
            .as_deref()
            .ok_or_else(|| S3Error::internal("an object endpoint was routed without a key"))?;
        Ok((self.bucket()?, key))
    }

    /// A header's value as text; `None` when absent. A value that is not visible ASCII is
    /// `InvalidArgument`, naming the header.
    pub(crate) fn header(&self, name: &str) -> S3Result<Option<&str>> {
        header_text(&self.headers, name)
    }

    /// The owner reported in listings and ACLs: the access key that asks.
    pub(crate) fn owner(&self) -> Owner {
        owner_of(&self.identity)
    }
}

/// The owner shown for an access key: its id, and its name (the id when unnamed).
pub(crate) fn owner_of(key: &AccessKey) -> Owner {
    Owner {
        id: key.id.clone(),
        display_name: if key.name.is_empty() {
            key.id.clone()
        } else {
            key.name.clone()
        },
    }
}

/// A header's value as text; `None` when absent, `InvalidArgument` when not visible ASCII.
pub(crate) fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> S3Result<Option<&'h str>> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                S3Error::invalid_argument(format!("The {name} header is not ASCII text."))
            })
        })
        .transpose()
}

/// The DFS path of an object: `/bucket/key`, the key verbatim.
pub(crate) fn object_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_keep_the_key_verbatim() {
        assert_eq!(object_path("b", "x/y.txt"), "/b/x/y.txt");
        assert_eq!(object_path("b", "a//b/../c"), "/b/a//b/../c");
        assert_eq!(object_path("b", "/lead"), "/b//lead");
        assert_eq!(object_path("b", "dir/"), "/b/dir/");
    }

    #[test]
    fn header_text_refuses_binary_values() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ok", "value".parse().unwrap());
        headers.insert(
            "x-bad",
            http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert_eq!(header_text(&headers, "x-ok").unwrap(), Some("value"));
        assert_eq!(header_text(&headers, "x-missing").unwrap(), None);
        assert!(header_text(&headers, "x-bad").is_err());
    }
}

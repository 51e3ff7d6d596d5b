//! What a handler knows about its request: a narrow context, so that handlers talk to the
//! cluster through the client and never touch hyper plumbing. The bucket or object a handler
//! acts on is not here: it comes in its [`crate::router::Endpoint`] variant.

use crate::aborts::PendingAborts;
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
    /// Aborts of uploads metad did not take, sent again in the background.
    pub aborts: PendingAborts,
    /// The access-key cache (handlers that change grants invalidate their key).
    pub keys: Arc<KeyCache>,
    /// The region this gateway serves.
    pub region: Arc<str>,
    /// The access key that signed the request.
    pub identity: Arc<AccessKey>,
    /// The checked signature: what the body must still satisfy.
    pub verified: Verified,
    /// The decoded query parameters.
    pub query: Query,
    /// The request headers.
    pub headers: HeaderMap,
}

impl ReqCtx {
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! The request id that follows one S3 request through every daemon it reaches.
//!
//! The gateway gives each S3 request an id (the `x-amz-request-id` it answers with) and runs
//! the request inside [`scope`]. [`InternalClient`](crate::http::InternalClient) reads the
//! [`current`] id whenever it builds a request and sends it as [`HEADER`]; metad and chunkd read
//! it back with [`from_headers`] and serve the request inside `scope` and a tracing span with a
//! `request_id` field, so every log line about the request carries it, and so do the calls they
//! make in turn (chunkd copying to a peer).
//!
//! Why a task-local rather than a parameter: the id is needed only where requests are built,
//! far below the client library's public methods, and threading it through every signature
//! would change them all for logging's sake. Why not read it from the tracing span: spans do
//! not expose their fields to code, only to subscribers. The one cost of a task-local is that
//! it does not cross `tokio::spawn`: code that fans work out to tasks spawns them with
//! [`spawn`] (or wraps them in [`in_current`]), which carries the id and the current span over.

use std::future::Future;
use std::sync::Arc;
use tracing::Instrument;

/// Header of internal requests carrying the request id.
///
/// It is not covered by the cluster signature, on purpose: the id carries no authority (it only
/// labels log lines), so a forged or altered one can at worst mislabel logs, which anyone able to
/// alter internal requests in flight could do anyway; and leaving it out keeps the signature
/// format unchanged between versions. Receivers still check its shape ([`from_headers`]) so that
/// it cannot smuggle odd characters or huge values into logs.
pub const HEADER: &str = "x-dfs-request-id";

/// Longest id accepted from a header.
const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of one request: short text, cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// An id from text, if it has the shape of one: 1 to 64 ASCII letters, digits, `-`, `_`
    /// or `.`.
    pub fn new(text: &str) -> Option<RequestId> {
        let valid = !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        valid.then(|| RequestId(Arc::from(text)))
    }

    /// A fresh id as S3 makes them: 16 upper-case hex digits.
    pub fn generate() -> RequestId {
        RequestId(Arc::from(format!("{:016X}", rand::random::<u64>())))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of the request the running task serves, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current request id (none when `id` is `None`).
pub async fn scope<F: Future>(id: Option<RequestId>, fut: F) -> F::Output {
    match id {
        Some(id) => CURRENT.scope(id, fut).await,
        None => fut.await,
    }
}

/// Runs `f` with `id` as the current request id, for synchronous code such as a body's
/// `poll_frame` that polls work on behalf of a request.
pub fn sync_scope<R>(id: Option<&RequestId>, f: impl FnOnce() -> R) -> R {
    match id {
        Some(id) => CURRENT.sync_scope(id.clone(), f),
        None => f(),
    }
}

/// `fut` bound to the current request id and tracing span, to be run on another task.
pub fn in_current<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    scope(current(), fut).instrument(tracing::Span::current())
}

/// `tokio::spawn` that keeps the current request id and tracing span in the new task.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(in_current(fut))
}

/// The request id of an incoming request's [`HEADER`], when present and well formed.
pub fn from_headers(headers: &http::HeaderMap) -> Option<RequestId> {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(RequestId::new("0123ABCD").unwrap().as_str(), "0123ABCD");
        assert!(RequestId::new("cli-1.a_b").is_some());
        for bad in ["", "a b", "a\"b", "é", "x=1", &"A".repeat(65)] {
            assert!(RequestId::new(bad).is_none(), "{bad:?}");
        }
        let id = RequestId::generate();
        assert_eq!(id.as_str().len(), 16);
        assert!(RequestId::new(id.as_str()).is_some());
    }

    #[tokio::test]
    async fn crosses_spawn_only_when_asked() {
        assert_eq!(current(), None);
        let id = RequestId::new("ABC").unwrap();
        let (kept, lost) = scope(Some(id.clone()), async {
            let kept = spawn(async { current() }).await.unwrap();
            let lost = tokio::spawn(async { current() }).await.unwrap();
            (kept, lost)
        })
        .await;
        assert_eq!(kept, Some(id.clone()));
        assert_eq!(lost, None);
        assert_eq!(sync_scope(Some(&id), current), Some(id));
    }

    #[test]
    fn read_from_headers() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(from_headers(&headers), None);
        headers.insert(HEADER, http::HeaderValue::from_static("not valid!"));
        assert_eq!(from_headers(&headers), None);
        headers.insert(HEADER, http::HeaderValue::from_static("0A1B"));
        assert_eq!(from_headers(&headers).unwrap().as_str(), "0A1B");
    }
}

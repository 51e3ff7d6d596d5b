//! The accept loop every daemon serves with, and the limits it puts on clients: a client must
//! send a request's headers within [`ServeLimits::header_timeout`] of connecting or of its
//! previous answer (so a client that trickles header bytes, or holds an idle keep-alive
//! connection, is cut off), and at most [`ServeLimits::max_connections`] connections are served
//! at once: one more gets a 503 and is closed at once instead of tying up a descriptor.

use super::Body;
use crate::RpcError;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Time to send a request's headers, and the longest idle keep-alive.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once when the descriptor limit is unknown.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// What a server tolerates of its clients.
#[derive(Clone, Debug)]
pub struct ServeLimits {
    /// Time a client has to send a request's headers, counted from the connection's start or
    /// from the end of the previous answer: also the idle keep-alive timeout.
    pub header_timeout: Duration,
    /// Connections served at once; one more is answered [`busy`](Self::busy) and closed.
    pub max_connections: usize,
    /// The whole HTTP/1.1 response written to a connection over the limit.
    pub busy: Bytes,
}

impl Default for ServeLimits {
    /// For the internal RPC servers: the refusal is an `Unavailable` RPC error, which clients
    /// retry.
    fn default() -> Self {
        let err = RpcError::unavailable(
            "too many connections to this daemon; try again (raise its descriptor limit, \
             LimitNOFILE, to serve more)",
        );
        let body = serde_json::to_vec(&err).unwrap_or_default();
        ServeLimits::with_busy_body("application/json", &body)
    }
}

impl ServeLimits {
    /// The default limits, refusing with a 503 whose body is `body` of `content_type`. The
    /// connection limit is half the process's descriptor limit: the other half stays for the
    /// files and the database.
    pub fn with_busy_body(content_type: &str, body: &[u8]) -> Self {
        let mut busy = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        busy.extend_from_slice(body);
        ServeLimits {
            header_timeout: HEADER_TIMEOUT,
            max_connections: descriptor_limit()
                .map_or(DEFAULT_MAX_CONNECTIONS, |n| (n / 2).max(64)),
            busy: Bytes::from(busy),
        }
    }
}

/// Whether a warning logged at most once a second, last at `last_ms`, is due at `now_ms`;
/// records `now_ms` when it is. Only a warning given moves the mark: a refusal every few
/// milliseconds must still be logged once a second, not never again.
fn warning_due(last_ms: &AtomicU64, now_ms: u64) -> bool {
    last_ms
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            (now_ms.saturating_sub(last) >= 1000).then_some(now_ms)
        })
        .is_ok()
}

/// The soft limit on open descriptors, if the system tells.
fn descriptor_limit() -> Option<usize> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit.current.and_then(|n| usize::try_from(n).ok())
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, within `limits`. Each connection
/// runs on its own task; `handler` answers every request.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: ServeLimits,
    handler: H,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(hyper::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = hyper::Response<Body>> + Send + 'static,
{
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let last_warning_ms = AtomicU64::new(0);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Running out of file descriptors must not end the server: wait and go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // The answer is small enough for the socket's buffer: written without waiting.
            let _ = stream.try_write(&limits.busy);
            if warning_due(&last_warning_ms, crate::auth::unix_now_ms()) {
                tracing::warn!(
                    %peer,
                    limit = limits.max_connections,
                    "too many connections: refusing new ones with 503"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, std::convert::Infallible>(handler(req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// A server answering 200 "ok" to everything, with `limits`; returns its address.
    async fn server(limits: ServeLimits) -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handler = |_req| async { hyper::Response::new(super::super::full("ok")) };
        tokio::spawn(serve(listener, limits, handler, async move {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    /// Reads until the server closes the connection (bounded, so a server that never closes
    /// fails the test instead of hanging it).
    async fn read_to_close(stream: &mut TcpStream) -> String {
        let mut text = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut text))
            .await
            .expect("the server closes the connection")
            .unwrap();
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Under a steady flood of refusals the warning still comes once a second.
    #[test]
    fn a_steady_flood_is_still_logged_once_a_second() {
        let last = AtomicU64::new(0);
        let start = 1_800_000_000_000;
        let warned: Vec<u64> = (0..3_000u64)
            .map(|ms| start + ms)
            .filter(|now| warning_due(&last, *now))
            .collect();
        assert_eq!(warned, [start, start + 1_000, start + 2_000]);
    }

    fn short_timeout() -> ServeLimits {
        ServeLimits {
            header_timeout: Duration::from_millis(300),
            ..ServeLimits::default()
        }
    }

    #[tokio::test]
    async fn a_client_trickling_its_headers_is_cut_off() {
        let (addr, _stop) = server(short_timeout()).await;
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        // The headers never end: the server gives up without answering the request.
        let text = read_to_close(&mut stream).await;
        assert!(!text.contains("200 OK"), "{text}");
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed() {
        let (addr, _stop) = server(short_timeout()).await;
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let text = read_to_close(&mut stream).await;
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.ends_with("ok"), "{text}");
    }

    #[tokio::test]
    async fn connections_over_the_limit_get_a_clear_refusal() {
        let (addr, _stop) = server(ServeLimits {
            max_connections: 2,
            ..ServeLimits::default()
        })
        .await;
        let first = TcpStream::connect(&addr).await.unwrap();
        let mut second = TcpStream::connect(&addr).await.unwrap();
        // The second is served (the first holds the other slot).
        second
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 15];
        second.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 OK");
        let mut third = TcpStream::connect(&addr).await.unwrap();
        let text = read_to_close(&mut third).await;
        assert!(
            text.starts_with("HTTP/1.1 503 Service Unavailable"),
            "{text}"
        );
        let err: RpcError = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(err.code, crate::ErrorCode::Unavailable);
        assert!(err.message.contains("too many connections"), "{err}");
        // A slot freed is a slot to serve.
        drop((first, second));
        let mut again = None;
        for _ in 0..200 {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let text = read_to_close(&mut stream).await;
            if text.starts_with("HTTP/1.1 200 OK") {
                again = Some(text);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            again.is_some(),
            "no connection served after slots were freed"
        );
    }
}

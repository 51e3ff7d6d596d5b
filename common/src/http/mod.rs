//! HTTP plumbing shared by the daemons: body helpers, the accept loop, and the signed internal
//! client. HTTP/1.1 keep-alive with TCP_NODELAY everywhere: small answers must not wait for a
//! delayed ACK.

use crate::auth::{self, ClusterSecret};
use crate::request_id;
use crate::wire::Rpc;
use crate::{ErrorCode, ErrorDetail, RpcError};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

mod serve;
pub use serve::{serve, ServeLimits};

/// Error type carried inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every request and response we build.
pub type Body = BoxBody<Bytes, BoxError>;

/// Largest RPC body metad reads (a commit of a 100 GiB file lists ~13k chunks: well below this).
pub const MAX_RPC_BODY: usize = 64 * 1024 * 1024;
/// How long an RPC to metad may take before the caller gives up.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

/// A JSON response.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = Response::new(full(bytes));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => error_response(&RpcError::internal(format!("cannot encode answer: {e}"))),
    }
}

/// The response for an error: its code's status and the error as JSON.
pub fn error_response(err: &RpcError) -> Response<Body> {
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = serde_json::to_vec(err).unwrap_or_default();
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, RpcError>
where
    B: hyper::body::Body,
    B::Error: std::fmt::Display + Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(RpcError::invalid(format!("cannot read request body: {e}"))),
    }
}

/// Decodes a JSON body into `T`.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RpcError> {
    serde_json::from_slice(bytes).map_err(|e| RpcError::invalid(format!("malformed request: {e}")))
}

/// The header naming the version of the internal protocol a request speaks. Every internal
/// request carries it, so that a daemon refuses, with a clear error, a peer it does not
/// understand instead of misreading it. Not signed: it carries no authority.
pub const PROTOCOL_HEADER: &str = "x-dfs-proto";
/// The internal protocol version this build speaks. Raised only for a change an older daemon
/// would misread; fields added with a default do not raise it.
pub const PROTOCOL_VERSION: u32 = 1;

/// Refuses a request of another internal protocol version. A request without the header
/// comes from a daemon older than the header, which speaks version 1.
pub fn check_protocol<B>(req: &Request<B>) -> Result<(), RpcError> {
    let Some(value) = req.headers().get(PROTOCOL_HEADER) else {
        return Ok(());
    };
    match value.to_str().ok().and_then(|v| v.parse::<u32>().ok()) {
        Some(PROTOCOL_VERSION) => Ok(()),
        other => Err(RpcError::invalid(format!(
            "this daemon speaks internal protocol {PROTOCOL_VERSION} and the request speaks {}: \
             run the same dfs release on every daemon",
            other.map_or_else(|| format!("{value:?}"), |v| v.to_string())
        ))),
    }
}

/// Checks the internal protocol version ([`check_protocol`]) and the cluster signature of an
/// incoming request; `Unauthorized` when the signature does not hold.
pub fn check_signature<B>(secret: &ClusterSecret, req: &Request<B>) -> Result<(), RpcError> {
    check_protocol(req)?;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    secret
        .verify(
            req.method().as_str(),
            path_and_query,
            req.headers(),
            auth::unix_now(),
        )
        .map_err(|e| RpcError::new(ErrorCode::Unauthorized, e.to_string()))
}

/// An HTTP client that signs every request with the cluster secret. Cheap to clone: clones
/// share one connection pool.
#[derive(Clone, Debug)]
pub struct InternalClient {
    http: Client<HttpConnector, Body>,
    secret: ClusterSecret,
}

impl InternalClient {
    /// A client with a keep-alive pool.
    pub fn new(secret: ClusterSecret) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        // Idle connections are dropped well before servers close them (`serve::HEADER_TIMEOUT`),
        // so a request never goes out on a connection the server is closing.
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(32)
            .build(connector);
        InternalClient { http, secret }
    }

    /// Sends a signed request to `http://addr{path_and_query}` and returns the response,
    /// whatever its status. `content` is the body's descriptor (see [`crate::auth`]).
    pub async fn send(
        &self,
        method: Method,
        addr: &str,
        path_and_query: &str,
        content: &str,
        body: Body,
    ) -> Result<Response<Incoming>, RpcError> {
        self.send_with_headers(
            method,
            addr,
            path_and_query,
            content,
            http::HeaderMap::new(),
            body,
        )
        .await
    }

    /// Like [`send`](Self::send), with extra request headers such as `Range` for a chunk read.
    /// The extra headers are not covered by the signature: they must not carry authority.
    /// The id of the request being served ([`request_id::current`]), if any, goes along as
    /// [`request_id::HEADER`].
    pub async fn send_with_headers(
        &self,
        method: Method,
        addr: &str,
        path_and_query: &str,
        content: &str,
        headers: http::HeaderMap,
        body: Body,
    ) -> Result<Response<Incoming>, RpcError> {
        let time = auth::unix_now();
        let signature = self
            .secret
            .sign(method.as_str(), path_and_query, time, content);
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path_and_query}"))
            .header(auth::TIME_HEADER, time)
            .header(auth::CONTENT_HEADER, content)
            .header(auth::SIGNATURE_HEADER, signature)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .body(body)
            .map_err(|e| RpcError::invalid(format!("cannot build request to {addr}: {e}")))?;
        req.headers_mut().extend(headers);
        if let Some(id) = request_id::current() {
            if let Ok(value) = HeaderValue::from_str(id.as_str()) {
                req.headers_mut().insert(request_id::HEADER, value);
            }
        }
        self.http.request(req).await.map_err(|e| {
            // A failed connect means the request never left: safe to send again, whatever it
            // is. Any other transport failure may come after the server acted on it.
            let detail = if e.is_connect() {
                ErrorDetail::Unreachable
            } else {
                ErrorDetail::NoAnswer
            };
            RpcError::detailed(detail, format!("cannot reach {addr}: {}", error_chain(&e)))
        })
    }

    /// Like [`send`](Self::send), and turns a non-success status into the server's `RpcError`.
    pub async fn send_ok(
        &self,
        method: Method,
        addr: &str,
        path_and_query: &str,
        content: &str,
        body: Body,
    ) -> Result<Response<Incoming>, RpcError> {
        let resp = self
            .send(method, addr, path_and_query, content, body)
            .await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(error_from_response(resp).await)
        }
    }

    /// Calls a metad RPC at `addr`, with [`RPC_TIMEOUT`].
    pub async fn call<R: Rpc>(&self, addr: &str, req: &R) -> Result<R::Response, RpcError> {
        let body = serde_json::to_vec(req)
            .map_err(|e| RpcError::internal(format!("cannot encode request: {e}")))?;
        let content = auth::sha256_content(&body);
        let path = format!("/rpc/{}", R::METHOD);
        let work = async {
            let resp = self
                .send_ok(Method::POST, addr, &path, &content, full(body))
                .await?;
            let bytes = read_body(resp.into_body(), MAX_RPC_BODY).await?;
            serde_json::from_slice(&bytes).map_err(|e| {
                RpcError::internal(format!(
                    "malformed answer from {addr} to {}: {e}",
                    R::METHOD
                ))
            })
        };
        match tokio::time::timeout(RPC_TIMEOUT, work).await {
            Ok(result) => result,
            Err(_) => Err(RpcError::detailed(
                ErrorDetail::NoAnswer,
                format!(
                    "{} at {addr} did not answer within {} s",
                    R::METHOD,
                    RPC_TIMEOUT.as_secs()
                ),
            )),
        }
    }
}

/// Reads an error response into an `RpcError` (the JSON body if there is one, else the status).
pub async fn error_from_response(resp: Response<Incoming>) -> RpcError {
    let status = resp.status();
    let bytes = read_body(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    serde_json::from_slice::<RpcError>(&bytes).unwrap_or_else(|_| {
        let code = match status.as_u16() {
            404 => ErrorCode::NotFound,
            401 | 403 => ErrorCode::Unauthorized,
            503 => ErrorCode::Unavailable,
            400 => ErrorCode::InvalidArgument,
            _ => ErrorCode::Internal,
        };
        RpcError::new(
            code,
            format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
        )
    })
}

/// An error and its sources on one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(proto: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().uri("/rpc/status");
        if let Some(value) = proto {
            builder = builder.header(PROTOCOL_HEADER, value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn requests_of_another_protocol_version_are_refused() {
        assert!(
            check_protocol(&request(None)).is_ok(),
            "older peers send none"
        );
        assert!(check_protocol(&request(Some("1"))).is_ok());
        for other in ["2", "x"] {
            let err = check_protocol(&request(Some(other))).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidArgument);
            assert!(
                err.message.contains("internal protocol 1"),
                "{}",
                err.message
            );
        }
    }
}

//! A minimal S3 client for the benchmark: the few operations it needs, over the hyper-util
//! legacy client (keep-alive pool, TCP_NODELAY), signed with [`Signer`].
//!
//! Bodies are [`SliceBody`]s: slices of one shared buffer, sent in frames without copying or
//! allocating per request. Answers to GET are drained and counted, never kept.

use crate::sign::{Signer, UNSIGNED_PAYLOAD};
use bytes::Bytes;
use dfs_common::http::error_chain;
use dfs_s3auth::sigv4::{sha256_hex, uri_encode, EMPTY_SHA256};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, ETAG, HOST};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Size of the frames a body is cut into: large enough that per-frame overhead vanishes,
/// small enough that hyper interleaves flushes with the next slice.
const FRAME_SIZE: usize = 512 * 1024;
/// Bodies above this size are hashed (with `--signed-payload`) on a blocking thread, so that a
/// 64 MiB SHA-256 does not stall the other requests of the runtime thread.
const HASH_INLINE_MAX: usize = 1 << 20;
/// How much of an error answer is kept for the message.
const ERROR_BODY_MAX: usize = 4096;

/// Why a request failed.
#[derive(Debug)]
pub enum RequestError {
    /// The request could not be built or signed.
    Build(String),
    /// Connection, protocol or timeout failure.
    Transport(String),
    /// The endpoint answered with an unexpected status.
    Status {
        /// `METHOD /path`.
        request: String,
        /// The HTTP status.
        status: StatusCode,
        /// The S3 error code and message, when the body had them.
        detail: String,
    },
    /// The endpoint answered 2xx, but the answer is wrong (length, ETag, XML).
    BadAnswer(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Build(why) => write!(f, "cannot build the request: {why}"),
            RequestError::Transport(why) => write!(f, "{why}"),
            RequestError::Status {
                request,
                status,
                detail,
            } => write!(f, "{request} answered {status}: {detail}"),
            RequestError::BadAnswer(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// A request body: a slice of a shared buffer, handed out in [`FRAME_SIZE`] frames. Each frame
/// is a `Bytes` view of the same allocation (a reference count, no copy).
#[derive(Debug, Default)]
pub struct SliceBody {
    rest: Bytes,
}

impl SliceBody {
    /// A body sending `data`.
    pub fn new(data: Bytes) -> SliceBody {
        SliceBody { rest: data }
    }
}

impl Body for SliceBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.rest.len().min(FRAME_SIZE);
        Poll::Ready(Some(Ok(Frame::data(this.rest.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The keys of the page, in order.
    pub keys: Vec<String>,
    /// The token of the next page, when the listing is truncated.
    pub next_token: Option<String>,
}

/// An S3 endpoint with its credentials. Cheap to share behind an `Arc`; the connection pool
/// grows to the concurrency in use and keeps its connections alive between requests.
#[derive(Debug)]
pub struct S3Client {
    http: Client<HttpConnector, SliceBody>,
    /// `http://host:port`, without a trailing `/`.
    base: String,
    /// The `Host` header, as signed.
    host: HeaderValue,
    signer: Signer,
    signed_payload: bool,
    timeout: Duration,
}

impl S3Client {
    /// A client for `endpoint` (`http://host:port`; HTTPS is not supported). With
    /// `signed_payload`, PUT bodies are hashed and the hash signed; otherwise they are sent as
    /// `UNSIGNED-PAYLOAD`. Each request fails after `timeout`.
    pub fn new(
        endpoint: &str,
        signer: Signer,
        signed_payload: bool,
        timeout: Duration,
    ) -> Result<S3Client, RequestError> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|e| RequestError::Build(format!("endpoint {endpoint:?}: {e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(RequestError::Build(format!(
                "endpoint {endpoint:?} must start with http:// (HTTPS is not supported)"
            )));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(RequestError::Build(format!(
                "endpoint {endpoint:?} must have no path: http://host:port"
            )));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| RequestError::Build(format!("endpoint {endpoint:?} has no host")))?;
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|e| RequestError::Build(format!("endpoint {endpoint:?}: {e}")))?;
        let mut connector = HttpConnector::new();
        // Without it a small request or answer waits for a delayed ACK (DESIGN §8).
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            // Below the gateway's 30 s idle keep-alive timeout (dfs_common::http::serve).
            .pool_idle_timeout(Duration::from_secs(20))
            .build(connector);
        Ok(S3Client {
            http,
            base: format!("http://{authority}"),
            host,
            signer,
            signed_payload,
            timeout,
        })
    }

    /// Sends a signed request and returns the answer head and body, whatever the status.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Bytes,
        payload_hash: &str,
    ) -> Result<Response<Incoming>, RequestError> {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, self.host.clone());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .map_err(|_| RequestError::Build("the system clock is before 1970".into()))?;
        self.signer
            .sign(
                method.as_str(),
                path,
                query,
                &mut headers,
                payload_hash,
                now,
            )
            .map_err(RequestError::Build)?;
        // Not signed: proxies may rewrite it, and the gateway does not need it covered.
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        let target = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let mut request = Request::new(SliceBody::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = target
            .parse()
            .map_err(|e| RequestError::Build(format!("{target}: {e}")))?;
        *request.headers_mut() = headers;
        match tokio::time::timeout(self.timeout, self.http.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(RequestError::Transport(format!(
                "{target}: {}",
                error_chain(&e)
            ))),
            Err(_) => Err(RequestError::Transport(format!(
                "{target}: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// Checks the status; on an error, reads the start of the body for S3's code and message.
    async fn expect_success(
        request: String,
        response: Response<Incoming>,
    ) -> Result<Response<Incoming>, RequestError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = response.into_body();
        let mut text = Vec::new();
        while text.len() < ERROR_BODY_MAX {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        text.extend_from_slice(data);
                    }
                }
                _ => break,
            }
        }
        let text = String::from_utf8_lossy(&text);
        let detail = match (xml_field(&text, "Code"), xml_field(&text, "Message")) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code,
            _ => text.chars().take(200).collect(),
        };
        Err(RequestError::Status {
            request,
            status,
            detail,
        })
    }

    /// Reads a whole (small) answer body.
    async fn read_body(request: &str, response: Response<Incoming>) -> Result<Bytes, RequestError> {
        response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|e| RequestError::Transport(format!("{request}: {}", error_chain(&e))))
    }

    /// CreateBucket.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), RequestError> {
        self.bodiless(Method::PUT, &format!("/{bucket}")).await
    }

    /// DeleteBucket (the bucket must be empty).
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), RequestError> {
        self.bodiless(Method::DELETE, &format!("/{bucket}")).await
    }

    /// DeleteObject.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), RequestError> {
        self.bodiless(Method::DELETE, &object_path(bucket, key))
            .await
    }

    async fn bodiless(&self, method: Method, path: &str) -> Result<(), RequestError> {
        let request = format!("{method} {path}");
        let response = self
            .send(method, path, "", Bytes::new(), EMPTY_SHA256)
            .await?;
        let response = Self::expect_success(request.clone(), response).await?;
        Self::read_body(&request, response).await?;
        Ok(())
    }

    /// PutObject; returns the ETag answered, without quotes.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        data: Bytes,
    ) -> Result<String, RequestError> {
        let path = object_path(bucket, key);
        let payload_hash = if !self.signed_payload {
            UNSIGNED_PAYLOAD.to_owned()
        } else if data.len() <= HASH_INLINE_MAX {
            sha256_hex(&data)
        } else {
            let shared = data.clone();
            tokio::task::spawn_blocking(move || sha256_hex(&shared))
                .await
                .map_err(|e| RequestError::Build(format!("hashing the body failed: {e}")))?
        };
        let request = format!("PUT {path}");
        let response = self
            .send(Method::PUT, &path, "", data, &payload_hash)
            .await?;
        let response = Self::expect_success(request.clone(), response).await?;
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"').to_owned());
        Self::read_body(&request, response).await?;
        etag.ok_or_else(|| RequestError::BadAnswer(format!("{request}: no ETag in the answer")))
    }

    /// GetObject; drains the body and returns how many bytes it had.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<u64, RequestError> {
        let path = object_path(bucket, key);
        let request = format!("GET {path}");
        let response = self
            .send(Method::GET, &path, "", Bytes::new(), EMPTY_SHA256)
            .await?;
        let response = Self::expect_success(request.clone(), response).await?;
        let mut body = response.into_body();
        let mut received = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| RequestError::Transport(format!("{request}: {e}")))?;
            if let Some(data) = frame.data_ref() {
                received += data.len() as u64;
            }
        }
        Ok(received)
    }

    /// One page of ListObjectsV2 under `prefix` (at most 1000 keys).
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&str>,
    ) -> Result<ListPage, RequestError> {
        let path = format!("/{bucket}");
        let mut query = format!(
            "list-type=2&max-keys=1000&prefix={}",
            uri_encode(prefix.as_bytes(), false)
        );
        if let Some(token) = token {
            query.push_str("&continuation-token=");
            query.push_str(&uri_encode(token.as_bytes(), false));
        }
        let request = format!("GET {path}?{query}");
        let response = self
            .send(Method::GET, &path, &query, Bytes::new(), EMPTY_SHA256)
            .await?;
        let response = Self::expect_success(request.clone(), response).await?;
        let body = Self::read_body(&request, response).await?;
        parse_list_page(&String::from_utf8_lossy(&body))
            .map_err(|why| RequestError::BadAnswer(format!("{request}: {why}")))
    }
}

/// `/bucket/key`, the key URI-encoded with its `/` kept.
fn object_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", uri_encode(key.as_bytes(), true))
}

/// The unescaped text of the first `<name>…</name>` element of `xml`.
fn xml_field(xml: &str, name: &str) -> Option<String> {
    xml_fields(xml, name).next()
}

/// The unescaped texts of every `<name>…</name>` element of `xml`, in order. Enough for the
/// flat answers of S3 (no attributes on these elements, no CDATA).
fn xml_fields<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = String> + 'a {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let text = unescape_xml(&rest[start..start + len]);
        rest = &rest[start + len + close.len()..];
        Some(text)
    })
}

/// Replaces XML's predefined entities and character references.
fn unescape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads the keys and the continuation of a ListObjectsV2 answer.
fn parse_list_page(xml: &str) -> Result<ListPage, String> {
    if !xml.contains("<ListBucketResult") {
        return Err(format!(
            "the answer is not a ListBucketResult: {}",
            xml.chars().take(200).collect::<String>()
        ));
    }
    let keys = xml_fields(xml, "Key").collect();
    let truncated = xml_field(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next_token = if truncated {
        let token = xml_field(xml, "NextContinuationToken")
            .ok_or("the listing is truncated but has no NextContinuationToken")?;
        Some(token)
    } else {
        None
    };
    Ok(ListPage { keys, next_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_body_frames_without_copying() {
        let data = Bytes::from(vec![7u8; FRAME_SIZE * 2 + 10]);
        let mut body = SliceBody::new(data.clone());
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut lens = Vec::new();
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            let chunk = frame.into_data().unwrap();
            // The frame points into the original allocation.
            assert!(data.as_ptr_range().contains(&chunk.as_ptr()));
            lens.push(chunk.len());
        }
        assert_eq!(lens, [FRAME_SIZE, FRAME_SIZE, 10]);
        assert!(body.is_end_stream());
        assert!(SliceBody::default().is_end_stream());
    }

    #[test]
    fn list_pages() {
        let xml = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><Name>b</Name>\
                   <IsTruncated>true</IsTruncated><Contents><Key>small/1</Key><ETag>&quot;e&quot;</ETag>\
                   </Contents><Contents><Key>a&amp;b&#x41;&#66;</Key></Contents>\
                   <NextContinuationToken>t+/=&lt;</NextContinuationToken></ListBucketResult>";
        assert_eq!(
            parse_list_page(xml),
            Ok(ListPage {
                keys: vec!["small/1".into(), "a&bAB".into()],
                next_token: Some("t+/=<".into()),
            })
        );
        let last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(parse_list_page(last), Ok(ListPage::default()));
        assert!(parse_list_page("<ListBucketResult><IsTruncated>true</IsTruncated>").is_err());
        assert!(parse_list_page("<Error><Code>NoSuchBucket</Code></Error>").is_err());
    }

    #[test]
    fn xml_unescaping_never_panics() {
        assert_eq!(
            unescape_xml("a & b &bogus; &#xZZ; &"),
            "a & b &bogus; &#xZZ; &"
        );
        assert_eq!(unescape_xml("&#128512;"), "😀");
        assert_eq!(
            xml_field("<Code>NoSuchKey</Code>", "Code").as_deref(),
            Some("NoSuchKey")
        );
        assert_eq!(xml_field("<Code>NoSuchKey", "Code"), None);
    }

    #[test]
    fn endpoints() {
        let signer = || {
            Signer::new(crate::sign::Credentials {
                access_key_id: "AK".into(),
                secret_access_key: "s".into(),
                region: "us-east-1".into(),
            })
            .unwrap()
        };
        let timeout = Duration::from_secs(1);
        let ok = S3Client::new("http://127.0.0.1:9000", signer(), false, timeout).unwrap();
        assert_eq!(ok.base, "http://127.0.0.1:9000");
        assert_eq!(ok.host, "127.0.0.1:9000");
        assert!(S3Client::new("http://127.0.0.1:9000/", signer(), false, timeout).is_ok());
        for bad in [
            "https://s3.example.com",
            "127.0.0.1:9000",
            "http://h/x",
            "not a url",
        ] {
            assert!(
                S3Client::new(bad, signer(), false, timeout).is_err(),
                "{bad}"
            );
        }
        assert_eq!(object_path("b", "small/a b"), "/b/small/a%20b");
    }
}

//! Request metrics (OpenMetrics text on the admin port) and the one log line per request.
//!
//! A request is counted, and logged, when its response body has been sent completely or was
//! abandoned, not when its headers leave: only then are the bytes sent and the duration known,
//! and a GET that broke off mid-stream is told apart from one that finished.

use bytes::Bytes;
use dfs_common::http::{Body, BoxError};
use dfs_common::metrics::{latency_family, Counter, Family, Gauge, LatencyFamily, Registry, Unit};
use dfs_common::request_id::{self, RequestId};
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Labels of a request: its endpoint (S3 operation) and status class.
type RequestLabels = [(&'static str, &'static str); 2];

/// Counters of the S3 endpoint.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    in_flight: Gauge,
    bytes_received: Counter,
    bytes_sent: Counter,
    /// Requests by (endpoint name, status class such as `2xx`).
    requests: Family<RequestLabels, Counter>,
    /// Request latency, from arrival to the last byte of the response, by the same labels.
    latency: LatencyFamily<RequestLabels>,
    aborted: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "dfs_gateway_requests",
            "S3 requests answered, by operation and status class",
            requests.clone(),
        );
        let latency = latency_family::<RequestLabels>();
        registry.register_with_unit(
            "dfs_gateway_request_duration",
            "S3 request time, from arrival to the last byte of the response, by operation and status class",
            Unit::Seconds,
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "dfs_gateway_requests_in_flight",
            "S3 requests in progress",
            in_flight.clone(),
        );
        let aborted = Counter::default();
        registry.register(
            "dfs_gateway_responses_aborted",
            "Responses whose body broke off (backend error or client gone)",
            aborted.clone(),
        );
        let bytes_received = Counter::default();
        registry.register_with_unit(
            "dfs_gateway_received",
            "Object payload bytes received",
            Unit::Bytes,
            bytes_received.clone(),
        );
        let bytes_sent = Counter::default();
        registry.register_with_unit(
            "dfs_gateway_sent",
            "Response body bytes sent",
            Unit::Bytes,
            bytes_sent.clone(),
        );
        Metrics {
            registry,
            in_flight,
            bytes_received,
            bytes_sent,
            requests,
            latency,
            aborted,
        }
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    /// A request starts: counted in flight until its [`InFlight`] guard drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.inc();
        InFlight {
            metrics: self.clone(),
        }
    }

    /// Requests in progress (their response not yet completely sent).
    pub(crate) fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// Payload bytes received in request bodies.
    pub(crate) fn add_received(&self, bytes: u64) {
        self.bytes_received.inc_by(bytes);
    }

    fn finish(&self, endpoint: &'static str, status: u16, sent: u64, seconds: f64, aborted: bool) {
        self.bytes_sent.inc_by(sent);
        if aborted {
            self.aborted.inc();
        }
        let labels = [("endpoint", endpoint), ("status", status_class(status))];
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// The OpenMetrics text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        dfs_common::metrics::render(&self.registry)
    }
}

/// Keeps a request counted in flight while alive.
#[derive(Debug)]
pub(crate) struct InFlight {
    metrics: Arc<Metrics>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

/// What the log line of a request says besides the bytes sent.
#[derive(Debug)]
pub(crate) struct RequestLog {
    /// HTTP method.
    pub method: http::Method,
    /// The request path, as received.
    pub path: String,
    /// The endpoint's name (`GetObject`...).
    pub endpoint: &'static str,
    /// The response status.
    pub status: u16,
    /// The request id: the body is polled with it current, so chunk reads that happen while
    /// a GET streams send it along.
    pub request_id: RequestId,
    /// The request's span (with its id): the body is polled and the line logged inside it.
    pub span: tracing::Span,
    /// Payload bytes received.
    pub received: Arc<AtomicU64>,
    /// When the request arrived.
    pub started: Instant,
}

/// A response body that counts what it sends and, when it ends or is dropped, logs the request
/// and updates the metrics.
pub(crate) struct LoggedBody {
    inner: Body,
    sent: u64,
    finished: bool,
    log: Option<RequestLog>,
    metrics: Arc<Metrics>,
    _in_flight: InFlight,
}

impl LoggedBody {
    pub(crate) fn new(
        inner: Body,
        log: RequestLog,
        metrics: Arc<Metrics>,
        in_flight: InFlight,
    ) -> Self {
        LoggedBody {
            inner,
            sent: 0,
            finished: false,
            log: Some(log),
            metrics,
            _in_flight: in_flight,
        }
    }

    /// The request's one log line, with fields; inside the request's span, which carries the
    /// request id.
    fn emit(&mut self, aborted: bool) {
        let Some(log) = self.log.take() else { return };
        let elapsed = log.started.elapsed();
        let duration_ms = elapsed.as_millis() as u64;
        let received = log.received.load(Ordering::Relaxed);
        self.metrics.add_received(received);
        self.metrics.finish(
            log.endpoint,
            log.status,
            self.sent,
            elapsed.as_secs_f64(),
            aborted,
        );
        let _entered = log.span.enter();
        // `path` is written quoted and escaped: an object key cannot forge a line or a field.
        let (method, path, endpoint, status, sent) = (
            &log.method,
            log.path.as_str(),
            log.endpoint,
            log.status,
            self.sent,
        );
        if aborted {
            tracing::warn!(
                %method, path, %endpoint, status, received, sent, duration_ms,
                "request aborted"
            );
        } else {
            tracing::info!(
                %method, path, %endpoint, status, received, sent, duration_ms,
                "request"
            );
        }
    }
}

impl hyper::body::Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = match &this.log {
            Some(log) => {
                let _entered = log.span.enter();
                request_id::sync_scope(Some(&log.request_id), || {
                    Pin::new(&mut this.inner).poll_frame(cx)
                })
            }
            None => Pin::new(&mut this.inner).poll_frame(cx),
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => this.emit(true),
            Poll::Ready(None) => {
                this.finished = true;
                this.emit(false);
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        // hyper never polls an empty body (HEAD, 204, 304): that is a complete response. A
        // body with data left unsent was abandoned (client gone).
        let complete = self.finished || hyper::body::Body::is_end_stream(&self.inner);
        self.emit(!complete);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_text() {
        let metrics = Arc::new(Metrics::default());
        let guard = metrics.start();
        metrics.finish("GetObject", 200, 10, 0.002, false);
        metrics.finish("GetObject", 206, 5, 0.004, false);
        metrics.finish("PutObject", 503, 0, 0.5, true);
        metrics.add_received(7);
        let text = metrics.render();
        let has = |line: &str| assert!(text.contains(line), "no {line:?} in\n{text}");
        has("dfs_gateway_requests_total{endpoint=\"GetObject\",status=\"2xx\"} 2");
        has("dfs_gateway_requests_total{endpoint=\"PutObject\",status=\"5xx\"} 1");
        has("dfs_gateway_request_duration_seconds_count{endpoint=\"GetObject\",status=\"2xx\"} 2");
        has("dfs_gateway_requests_in_flight 1");
        has("dfs_gateway_sent_bytes_total 15");
        has("dfs_gateway_received_bytes_total 7");
        has("dfs_gateway_responses_aborted_total 1");
        drop(guard);
        assert_eq!(metrics.in_flight(), 0);
    }
}

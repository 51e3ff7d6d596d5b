//! What the daemons share for observability: the `/metrics`, `/health/live` and
//! `/health/ready` answers, and the latency histogram presets.
//!
//! Each daemon owns one [`Registry`] (not a process-wide one: `dfs dev` and the tests run
//! metad, several chunkds and a gateway in one process, and each must report only its own
//! figures). `/metrics` is OpenMetrics text, which Prometheus scrapes natively and which
//! `prometheus-client` writes; the probes answer `ok` or 503 with a one-line reason.
//!
//! Help texts end without a period: the encoder adds one.

use crate::http::{full, Body};
use http::{HeaderValue, Method, Response, StatusCode};
use std::time::Instant;

pub use prometheus_client;
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::{Registry, Unit};

/// The content type of [`metrics_response`]'s body.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bucket bounds (seconds) for the latency of requests, RPCs, commits and disk operations:
/// from 100 µs (an in-memory RPC, a page-cache read) to 30 s (a timed-out RPC), about three
/// buckets per decade. An fsync on this machine class takes 3-4 ms (DESIGN.md §8), right in
/// the densest part.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 30.0,
];

/// A histogram with the [`LATENCY_BUCKETS`].
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A family of latency histograms, one per label set (operation, outcome...).
pub type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// An empty [`LatencyFamily`].
pub fn latency_family<L>() -> LatencyFamily<L>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(latency_histogram)
}

/// Records the seconds elapsed since `started` in `histogram`.
pub fn observe_since(histogram: &Histogram, started: Instant) {
    histogram.observe(started.elapsed().as_secs_f64());
}

/// Observes the time from its creation to its drop into a histogram: put it in whatever
/// lives as long as the operation (a response body, a scope).
#[derive(Debug)]
pub struct Timer {
    histogram: Histogram,
    started: Instant,
}

impl Timer {
    /// Starts timing now.
    pub fn start(histogram: Histogram) -> Timer {
        Timer {
            histogram,
            started: Instant::now(),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        observe_since(&self.histogram, self.started);
    }
}

/// Renders `registry` as OpenMetrics text.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, registry) {
        // Writing into a String cannot fail; a metric that refuses to encode must not make
        // the endpoint fail either, so say so in the answer and the log.
        tracing::warn!("cannot encode metrics: {e}");
        text.push_str(&format!("# cannot encode metrics: {e}\n# EOF\n"));
    }
    text
}

/// The answer to `GET /metrics`.
pub fn metrics_response(registry: &Registry) -> Response<Body> {
    text_metrics_response(render(registry))
}

/// The answer to `GET /metrics` for text already [`render`]ed (off the async runtime, say).
pub fn text_metrics_response(text: String) -> Response<Body> {
    let mut resp = Response::new(full(text));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    resp
}

/// A probe's answer: 200 `ok`, or 503 with `not ready: <reason>` on one line.
pub fn ready_response(ready: Result<(), String>) -> Response<Body> {
    let (status, text) = match ready {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        // One line, whatever the reason's text holds.
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", reason.replace(['\r', '\n'], " ")),
        ),
    };
    let mut resp = Response::new(full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The observability endpoints every daemon serves without a signature (they reveal no data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `GET /metrics`.
    Metrics,
    /// `GET /health/live`: the process answers.
    Live,
    /// `GET /health/ready`: the daemon can do its work.
    Ready,
}

impl Probe {
    /// Which endpoint a request is for, if any. Only `GET` (and `HEAD`) qualify, so that no
    /// other method on these paths bypasses the signature check by accident.
    pub fn of(method: &Method, path: &str) -> Option<Probe> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        match path {
            "/metrics" => Some(Probe::Metrics),
            "/health/live" => Some(Probe::Live),
            "/health/ready" => Some(Probe::Ready),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_text(resp: Response<Body>) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn renders_a_labelled_histogram_as_openmetrics() {
        let mut registry = Registry::default();
        let family: LatencyFamily<[(&'static str, &'static str); 1]> = latency_family();
        registry.register_with_unit(
            "dfs_test_duration",
            "Test latency",
            Unit::Seconds,
            family.clone(),
        );
        let total = Counter::<u64>::default();
        registry.register("dfs_test_requests", "Test requests", total.clone());
        family.get_or_create(&[("method", "stat")]).observe(0.003);
        family.get_or_create(&[("method", "stat")]).observe(0.2);
        total.inc_by(2);
        let resp = metrics_response(&registry);
        assert_eq!(resp.headers()[http::header::CONTENT_TYPE], CONTENT_TYPE);
        let text = body_text(resp).await;
        assert!(
            text.contains("# TYPE dfs_test_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("# UNIT dfs_test_duration_seconds seconds"),
            "{text}"
        );
        assert!(
            text.contains("dfs_test_duration_seconds_count{method=\"stat\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("dfs_test_duration_seconds_bucket{le=\"0.005\",method=\"stat\"} 1")
                || text
                    .contains("dfs_test_duration_seconds_bucket{method=\"stat\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(text.contains("dfs_test_requests_total 2"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn timer_observes_on_drop() {
        let histogram = latency_histogram();
        drop(Timer::start(histogram.clone()));
        let mut registry = Registry::default();
        registry.register("dfs_t", "t", histogram);
        assert!(render(&registry).contains("dfs_t_count 1"));
    }

    #[tokio::test]
    async fn ready_answers_ok_or_one_line_503() {
        let ok = ready_response(Ok(()));
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(body_text(ok).await, "ok\n");
        let bad = ready_response(Err("disk\nfull".into()));
        assert_eq!(bad.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_text(bad).await, "not ready: disk full\n");
    }

    #[test]
    fn probes_are_get_only() {
        assert_eq!(Probe::of(&Method::GET, "/metrics"), Some(Probe::Metrics));
        assert_eq!(Probe::of(&Method::GET, "/health/ready"), Some(Probe::Ready));
        assert_eq!(Probe::of(&Method::HEAD, "/health/live"), Some(Probe::Live));
        assert_eq!(Probe::of(&Method::POST, "/metrics"), None);
        assert_eq!(Probe::of(&Method::GET, "/rpc/stat"), None);
    }
}

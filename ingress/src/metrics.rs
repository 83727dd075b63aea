//! The ingress's Prometheus metrics (`hookline_` prefix, base units, no tenant labels).
use std::time::Duration;

use prometheus::{
    register_histogram_vec_with_registry, register_int_counter_vec_with_registry,
    register_int_gauge_with_registry, Encoder, HistogramOpts, HistogramVec, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};

/// Handles to every metric; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    jwt_rejections: IntCounterVec,
    publish_confirm: HistogramVec,
    publish_failures: IntCounterVec,
    broker_connected: IntGauge,
    installs: IntCounterVec,
    events_accepted: IntCounterVec,
    events_ignored: IntCounterVec,
    bodies_too_large: IntCounterVec,
    events_overflowed: IntCounterVec,
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

impl Metrics {
    /// Creates every metric in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        // Registering a fresh, valid metric in a fresh registry cannot fail.
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register_int_counter_vec_with_registry!(Opts::new(name, help), labels, registry)
                .expect("a new metric registers")
        };
        let latency = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            register_histogram_vec_with_registry!(opts, labels, registry)
                .expect("a new metric registers")
        };
        Self {
            requests: counter(
                "hookline_http_requests_total",
                "HTTP requests by route and status",
                &["route", "status"],
            ),
            request_duration: latency(
                "hookline_http_request_duration_seconds",
                "HTTP request duration by route",
                &["route"],
            ),
            jwt_rejections: counter(
                "hookline_jwt_rejections_total",
                "Refused tokens (Connect JWTs, Forge invocation tokens) by protocol and reason",
                &["protocol", "reason"],
            ),
            publish_confirm: latency(
                "hookline_publish_confirm_duration_seconds",
                "Time from publish to broker confirm",
                &["outcome"],
            ),
            publish_failures: counter(
                "hookline_publish_failures_total",
                "Events not confirmed by the broker, by reason",
                &["reason"],
            ),
            installs: counter(
                "hookline_lifecycle_total",
                "Lifecycle callbacks by event and outcome",
                &["event", "outcome"],
            ),
            events_accepted: counter(
                "hookline_events_accepted_total",
                "Events confirmed by the broker, by product and protocol",
                &["product", "protocol"],
            ),
            events_ignored: counter(
                "hookline_events_ignored_total",
                "Verified events answered 2xx without being queued, by product and reason",
                &["product", "reason"],
            ),
            bodies_too_large: counter(
                "hookline_webhook_bodies_too_large_total",
                "Verified webhooks refused with 413 (the product does not retry them), by product and event",
                &["product", "event"],
            ),
            events_overflowed: counter(
                "hookline_events_overflowed_total",
                "Events sent to an overflow lane because their tenant was above its share, by product",
                &["product"],
            ),
            broker_connected: register_int_gauge_with_registry!(
                Opts::new(
                    "hookline_broker_connected",
                    "1 while the ingress has a confirmed channel to the broker",
                ),
                registry
            )
            .expect("a new metric registers"),
            registry,
        }
    }

    /// Counts a finished request.
    pub fn observe_request(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.request_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a refused Connect token.
    pub fn jwt_rejected(&self, reason: &str) {
        self.jwt_rejected_by("connect", reason);
    }

    /// Counts a refused token of `protocol` (`connect`, `forge`).
    pub fn jwt_rejected_by(&self, protocol: &str, reason: &str) {
        self.jwt_rejections
            .with_label_values(&[protocol, reason])
            .inc();
    }

    /// Records a publish and how long its confirm took.
    pub fn publish_finished(&self, outcome: Result<(), &str>, elapsed: Duration) {
        let label = match outcome {
            Ok(()) => "ack",
            Err(reason) => {
                self.publish_failures.with_label_values(&[reason]).inc();
                "failed"
            }
        };
        self.publish_confirm
            .with_label_values(&[label])
            .observe(elapsed.as_secs_f64());
    }

    /// Sets the broker connection gauge.
    pub fn set_broker_connected(&self, connected: bool) {
        self.broker_connected.set(i64::from(connected));
    }

    /// Counts a lifecycle callback.
    pub fn lifecycle(&self, event: &str, outcome: &str) {
        self.installs.with_label_values(&[event, outcome]).inc();
    }

    /// Counts an accepted event of `protocol` (`connect`, `forge`).
    pub fn event_accepted(&self, product: &str, protocol: &str) {
        self.events_accepted
            .with_label_values(&[product, protocol])
            .inc();
    }

    /// Counts a verified event answered without being queued (e.g. `self_generated`).
    pub fn event_ignored(&self, product: &str, reason: &str) {
        self.events_ignored
            .with_label_values(&[product, reason])
            .inc();
    }

    /// Creates the per-event series of every subscribed webhook (and the per-product ignored
    /// series) at 0, so that alerts see them before the first refusal (a series that appears
    /// at 1 shows no increase).
    pub fn expect_webhooks(&self, app: &common::config::AppSettings) {
        for product in app.products() {
            self.events_ignored
                .with_label_values(&[product.as_str(), "self_generated"]);
            self.events_overflowed
                .with_label_values(&[product.as_str()]);
            for event in app.events(product) {
                self.bodies_too_large
                    .with_label_values(&[product.as_str(), event]);
            }
        }
    }

    /// Counts a verified webhook refused for its size (an event lost unless recovered).
    pub fn body_too_large(&self, product: &str, event: &str) {
        self.bodies_too_large
            .with_label_values(&[product, event])
            .inc();
    }

    /// An event went to an overflow lane: its tenant sent above its share.
    pub fn event_overflowed(&self, product: &str) {
        self.events_overflowed.with_label_values(&[product]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(error) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

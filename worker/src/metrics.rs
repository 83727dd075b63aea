//! The worker's Prometheus metrics (`hookline_` prefix, base units, no tenant labels).
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
    consumed: IntCounterVec,
    processed: IntCounterVec,
    duration: HistogramVec,
    outbound: IntCounterVec,
    retries: IntCounterVec,
    dead_letters: IntCounterVec,
    duplicates: IntCounterVec,
    throttled: IntCounterVec,
    in_flight: IntGauge,
    broker_connected: IntGauge,
}

impl Metrics {
    /// Creates every metric in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        // Registering a fresh, valid metric in a fresh registry cannot fail.
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register_int_counter_vec_with_registry!(Opts::new(name, help), labels, registry)
                .expect("a new metric registers")
        };
        let gauge = |name: &str, help: &str| {
            register_int_gauge_with_registry!(Opts::new(name, help), registry)
                .expect("a new metric registers")
        };
        Self {
            consumed: counter(
                "hookline_events_consumed_total",
                "Events taken from the queue, by product and protocol",
                &["product", "protocol"],
            ),
            processed: counter(
                "hookline_events_processed_total",
                "Events finished, by outcome",
                &["outcome"],
            ),
            duration: register_histogram_vec_with_registry!(
                HistogramOpts::new(
                    "hookline_event_processing_duration_seconds",
                    "Time to process one event, by outcome",
                )
                .buckets(buckets),
                &["outcome"],
                registry
            )
            .expect("a new metric registers"),
            outbound: counter(
                "hookline_outbound_requests_total",
                "Calls to Jira/Confluence by product, protocol and status class",
                &["product", "protocol", "status_class"],
            ),
            retries: counter(
                "hookline_event_retries_total",
                "Events sent to a delay queue, by reason",
                &["reason"],
            ),
            dead_letters: counter(
                "hookline_dead_letters_total",
                "Events dead-lettered, by reason",
                &["reason"],
            ),
            duplicates: counter(
                "hookline_duplicate_effects_skipped_total",
                "Effects skipped because the ledger shows them done",
                &["product"],
            ),
            throttled: counter(
                "hookline_tenant_throttle_events_total",
                "A tenant was paused by 429/503 Retry-After (no tenant label)",
                &["product"],
            ),
            in_flight: gauge("hookline_events_in_flight", "Events being processed now"),
            broker_connected: gauge(
                "hookline_worker_broker_connected",
                "1 while the worker consumes from the broker",
            ),
            registry,
        }
    }

    /// An event was taken from the queue.
    pub fn consumed(&self, product: &str, protocol: &str) {
        self.consumed.with_label_values(&[product, protocol]).inc();
    }

    /// An event finished with `outcome` after `elapsed`.
    pub fn processed(&self, outcome: &str, elapsed: Duration) {
        self.processed.with_label_values(&[outcome]).inc();
        self.duration
            .with_label_values(&[outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// A call to the product, the `protocol` way (`connect`, `forge`), answered `status` (0
    /// for no answer).
    pub fn outbound(&self, product: &str, protocol: &str, status: u16) {
        let class = match status {
            0 => "error",
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            429 => "429",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.outbound
            .with_label_values(&[product, protocol, class])
            .inc();
    }

    /// An event went to a delay queue.
    pub fn retried(&self, reason: &str) {
        self.retries.with_label_values(&[reason]).inc();
    }

    /// An event was dead-lettered.
    pub fn dead_lettered(&self, reason: &str) {
        self.dead_letters.with_label_values(&[reason]).inc();
    }

    /// An effect was skipped as already done.
    pub fn duplicate_skipped(&self, product: &str) {
        self.duplicates.with_label_values(&[product]).inc();
    }

    /// A tenant was paused.
    pub fn tenant_throttled(&self, product: &str) {
        self.throttled.with_label_values(&[product]).inc();
    }

    /// The in-flight gauge.
    pub fn in_flight(&self) -> &IntGauge {
        &self.in_flight
    }

    /// Sets the broker gauge.
    pub fn set_broker_connected(&self, up: bool) {
        self.broker_connected.set(i64::from(up));
    }

    /// The registry, for collectors owned elsewhere (the queue poller's gauges).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// A low-cardinality label from a free-text reason: its first word (`403`, `tenant`, ...).
pub fn reason_label(reason: &str) -> &str {
    reason
        .split([' ', ':'])
        .next()
        .filter(|w| !w.is_empty())
        .unwrap_or("other")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

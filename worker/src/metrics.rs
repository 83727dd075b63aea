//! The worker's Prometheus metrics (`hookline_` prefix, base units, no tenant labels).
use std::time::Duration;

use prometheus::{
    register_histogram_vec_with_registry, register_int_counter_vec_with_registry,
    register_int_counter_with_registry, register_int_gauge_with_registry, Encoder, HistogramOpts,
    HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
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
    budget_waits: IntCounterVec,
    moved_to_overflow: IntCounterVec,
    in_flight: IntGauge,
    broker_connected: IntGauge,
    held: IntCounterVec,
    released: IntCounter,
    held_now: IntGauge,
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
            budget_waits: per_product(counter(
                "hookline_tenant_budget_waits_total",
                "An action waited for its tenant's call budget (no tenant label)",
                &["product"],
            )),
            moved_to_overflow: per_product(counter(
                "hookline_events_moved_to_overflow_total",
                "Events moved from the main lane to their tenant's overflow lane, out of call budget",
                &["product"],
            )),
            in_flight: gauge("hookline_events_in_flight", "Events being processed now"),
            broker_connected: gauge(
                "hookline_worker_broker_connected",
                "1 while the worker consumes from the broker",
            ),
            held: per_product(counter(
                "hookline_events_held_total",
                "Events of paused tenants held instead of acted on, by product",
                &["product"],
            )),
            released: register_int_counter_with_registry!(
                Opts::new(
                    "hookline_events_released_total",
                    "Held events put back into the queue once their tenant was resumed",
                ),
                registry
            )
            .expect("a new metric registers"),
            held_now: gauge(
                "hookline_events_held",
                "Events held for paused tenants now, all tenants together",
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

    /// An action waited for its tenant's call budget.
    pub fn budget_waited(&self, product: &str) {
        self.budget_waits.with_label_values(&[product]).inc();
    }

    /// An event left the main lane for its tenant's overflow lane.
    pub fn moved_to_overflow(&self, product: &str) {
        self.moved_to_overflow.with_label_values(&[product]).inc();
    }

    /// An event of a paused tenant was held.
    pub fn held(&self, product: &str) {
        self.held.with_label_values(&[product]).inc();
    }

    /// `count` held events were put back into the queue.
    pub fn released(&self, count: u64) {
        self.released.inc_by(count);
    }

    /// Sets the gauge of events held now.
    pub fn set_held_now(&self, count: u64) {
        self.held_now.set(i64::try_from(count).unwrap_or(i64::MAX));
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

/// `counter` with a series for each product from the start (at 0), so that a dashboard or an
/// alert never sees it absent.
fn per_product(counter: IntCounterVec) -> IntCounterVec {
    for product in ["jira", "confluence"] {
        counter.with_label_values(&[product]);
    }
    counter
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

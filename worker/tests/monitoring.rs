//! The worker's real `/metrics`, after events that succeed, retry, are throttled, dead-lettered
//! and delivered twice, passes `promtool check metrics` and holds every worker metric the alerts,
//! dashboard and runbook use; the queue poller reads depth from the broker and head age from
//! the management API.
#[path = "../../monitoring/tests/support.rs"]
mod ops;
mod support;

use std::time::Duration;

use common::amqp::Brokers;
use common::tenant::ProductType;
use common::testing::amqp_url;
use serde_json::json;
use simulator::{Endpoint, Fault, FaultKind};
use support::{comment_rule, event, issue_created, spawn_worker, TestWorker};
use tokio_util::sync::CancellationToken;
use warp::Filter;
use worker::metrics::Metrics;
use worker::queue_metrics::{ManagementApi, QueueMonitor};

const WAIT: Duration = Duration::from_secs(30);
/// How old the fake management API says the work queue's head is.
const HEAD_AGE_SECS: i64 = 42;

/// A stand-in for the RabbitMQ management API that answers every queue with a head timestamp,
/// and only to the right credentials.
fn fake_management_api() -> String {
    let queue = warp::path!("api" / "queues" / String / String)
        .and(warp::header::<String>("authorization"))
        .map(|vhost: String, queue: String, auth: String| {
            let expected = format!("Basic {}", "Z3Vlc3Q6Z3Vlc3Q="); // guest:guest
            if auth != expected || !vhost.eq_ignore_ascii_case("%2F") {
                return warp::reply::with_status(
                    warp::reply::json(&json!({"error": "not_authorised"})),
                    warp::http::StatusCode::UNAUTHORIZED,
                );
            }
            let head = chrono::Utc::now().timestamp() - HEAD_AGE_SECS;
            warp::reply::with_status(
                warp::reply::json(&json!({"name": queue, "head_message_timestamp": head})),
                warp::http::StatusCode::OK,
            )
        });
    let (address, server) = warp::serve(queue).bind_ephemeral(([127, 0, 0, 1], 0));
    tokio::spawn(server);
    format!("http://{address}")
}

/// Sends events of every outcome through the worker and waits until each shows in `/metrics`.
async fn traffic(worker: &TestWorker) {
    let retry_after = FaultKind::RetryAfter {
        status: 429,
        seconds: 1,
    };
    // 500 three times: the quick in-process retries fail, so the event also goes through a
    // delay queue; 429 once pauses the tenant; 403 always is permanent.
    let faults = [
        ("tenant-ok", None),
        ("tenant-flaky", Some((FaultKind::Status(500), 3))),
        ("tenant-slow", Some((retry_after, 1))),
        ("tenant-denied", Some((FaultKind::Status(403), u32::MAX))),
    ];
    for (tenant, fault) in faults {
        worker.add_tenant(tenant, "secret", ProductType::Jira).await;
        worker.add_rule(tenant, &comment_rule("seen")).await;
        if let Some((kind, times)) = fault {
            worker
                .sim
                .inject(tenant, Fault::times(Endpoint::Comment, kind, times));
        }
        let envelope = event(
            tenant,
            ProductType::Jira,
            "jira:issue_created",
            "wh-1",
            &issue_created("KAN-1"),
        );
        worker.publish(&envelope).await;
        if tenant == "tenant-ok" {
            assert!(
                worker
                    .metric_reaches("hookline_events_processed_total{outcome=\"done\"}", WAIT)
                    .await
            );
            // Jira delivering the same webhook again: the ledger skips the effect.
            worker.publish(&envelope).await;
        }
    }
    for line in [
        "hookline_duplicate_effects_skipped_total",
        "hookline_outbound_requests_total{product=\"jira\",protocol=\"connect\",status_class=\"5xx\"}",
        "hookline_outbound_requests_total{product=\"jira\",protocol=\"connect\",status_class=\"429\"}",
        "hookline_tenant_throttle_events_total",
        "hookline_event_retries_total",
        "hookline_dead_letters_total",
        "hookline_queue_messages{queue=\"work\"}",
    ] {
        assert!(
            worker.metric_reaches(line, WAIT).await,
            "{line} shows in the worker's /metrics"
        );
    }
}

/// A second poller over the worker's queues, quick and with a management API, so the head
/// age is exported too; returns its registry once it has seen the dead letter.
async fn poller_output(worker: &TestWorker) -> String {
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let management = ManagementApi::new(&fake_management_api(), "guest", "guest", "/");
    QueueMonitor::new(worker.topology.clone(), &metrics)
        .expect("the gauges register")
        .with_management(management)
        .every(Duration::from_millis(200))
        .spawn(
            Brokers::one(&amqp_url()),
            "hookline-test-queue-metrics",
            shutdown.clone(),
        );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = metrics.render();
        if text.contains("hookline_queue_messages{queue=\"dead\"} 1") {
            shutdown.cancel();
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poller never saw the dead letter:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn value(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} in\n{exposition}"))
}

#[tokio::test]
async fn the_real_metrics_pass_promtool_and_cover_every_worker_metric_the_monitoring_uses() {
    let worker = spawn_worker().await;
    traffic(&worker).await;
    let polled = poller_output(&worker).await;
    let served = reqwest::get(&worker.metrics_url)
        .await
        .expect("the worker serves /metrics")
        .text()
        .await
        .expect("metrics text");

    assert!(value(&polled, "hookline_queue_consumers{queue=\"work\"}") >= 1.0);
    let age = value(
        &polled,
        "hookline_queue_oldest_message_age_seconds{queue=\"work\"}",
    );
    assert!(
        (HEAD_AGE_SECS as f64..HEAD_AGE_SECS as f64 + 5.0).contains(&age),
        "head age {age}"
    );
    ops::promtool_check_metrics("worker", &served);
    ops::promtool_check_metrics("worker's queue poller", &polled);
    // The worker exports the queue gauges itself; the head age needs a management API that
    // reports it, which the test broker lacks, so the poller's output stands in for it.
    ops::assert_monitoring_names_are_exported("worker", &format!("{served}{polled}"));
    worker.stop().await;
}

#[tokio::test]
async fn without_a_management_api_the_poller_exports_depth_only() {
    let worker = spawn_worker().await;
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let closed = ManagementApi::new("http://127.0.0.1:1", "guest", "guest", "/");
    QueueMonitor::new(worker.topology.clone(), &metrics)
        .expect("the gauges register")
        .with_management(closed)
        .every(Duration::from_millis(200))
        .spawn(
            Brokers::one(&amqp_url()),
            "hookline-test-queue-metrics",
            shutdown.clone(),
        );
    let polled = support::eventually(WAIT, || {
        metrics
            .render()
            .contains("hookline_queue_messages{queue=\"dead\"} 0")
    })
    .await;
    assert!(polled, "depth is exported:\n{}", metrics.render());
    assert!(!metrics
        .render()
        .contains("hookline_queue_oldest_message_age_seconds{"));
    shutdown.cancel();
    worker.stop().await;
}

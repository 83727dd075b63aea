//! End-to-end throughput of ONE worker: events pre-published to the work queue, a comment
//! rule per tenant, and the Connect simulator standing in for Jira, answering in 0 ms and in
//! 100 ms. Reports events per second from the first delivery to the last comment.
//!
//! Run with `cargo bench -p worker --bench throughput` (real PostgreSQL and RabbitMQ, as the
//! test suite finds them). `HOOKLINE_BENCH_EVENTS` sets the number of events (default 3000).
use std::time::{Duration, Instant};

use chrono::Utc;
use common::amqp::Topology;
use common::config::Settings;
use common::envelope::{EventEnvelope, QueueMessage};
use common::rules::RuleSpec;
use common::tenant::{ClientKey, InstallPayload, ProductType, TenantId, TenantState};
use common::testing::{amqp_url, unique_prefix, BrokerCleanup, TestDatabase};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::BasicProperties;
use serde_json::{json, value::RawValue};
use simulator::ProductSim;
use tokio_util::sync::CancellationToken;
use worker::startup::Worker;

const TENANTS: usize = 10;

struct Run {
    latency_ms: u64,
    prefetch: u16,
    events: usize,
    seconds: f64,
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` asks for a list; there is nothing to test here.
    }
    let events = std::env::var("HOOKLINE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut runs = Vec::new();
    for (latency_ms, prefetch) in [(0, 64), (100, 64), (100, 256)] {
        runs.push(run(events, latency_ms, prefetch).await);
    }
    let baseline = runs[0].events as f64 / runs[0].seconds;
    println!(
        "\n| Jira latency | prefetch | events | seconds | events/s | vs 0 ms | vs serial bound |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &runs {
        let rate = r.events as f64 / r.seconds;
        let serial = if r.latency_ms == 0 {
            "-".to_owned()
        } else {
            format!("{:.0}x", rate / (1000.0 / r.latency_ms as f64))
        };
        println!(
            "| {} ms | {} | {} | {:.2} | {:.0} | {:.2} | {} |",
            r.latency_ms,
            r.prefetch,
            r.events,
            r.seconds,
            rate,
            rate / baseline,
            serial
        );
    }
}

async fn run(events: usize, latency_ms: u64, prefetch: u16) -> Run {
    let db = TestDatabase::postgres().await;
    let prefix = unique_prefix();
    let vars = [
        ("HOOKLINE_DATABASE__URL", db.url.clone()),
        ("HOOKLINE_DATABASE__MAX_CONNECTIONS", "32".to_owned()),
        ("HOOKLINE_AMQP__URL", amqp_url()),
        ("HOOKLINE_AMQP__PREFIX", prefix.clone()),
        ("HOOKLINE_WORKER__PREFETCH", prefetch.to_string()),
        ("HOOKLINE_WORKER__METRICS_PORT", "0".to_owned()),
        ("HOOKLINE_APP__BASE_URL", "https://hookline.test".to_owned()),
        (
            "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
            "127.0.0.1".to_owned(),
        ),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            "bench=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
        ("HOOKLINE_LOG__LEVEL", "warn".to_owned()),
    ];
    let settings =
        Settings::load_from(None, vars.map(|(k, v)| (k.to_owned(), v))).expect("settings");
    let topology = Topology::new(&prefix, &settings.amqp.retry_delays_secs);
    let _cleanup = BrokerCleanup {
        topology: topology.clone(),
    };
    let sim = ProductSim::start().await;
    sim.set_latency(Duration::from_millis(latency_ms));
    let shutdown = CancellationToken::new();
    let worker = Worker::build(settings, shutdown.clone())
        .await
        .expect("worker");
    let dispatcher = worker.dispatcher().clone();
    let rule: RuleSpec = serde_json::from_value(json!({"name": "c", "event": "jira:issue_created",
        "action": {"type": "jira_comment", "template": "Seen {{ issue.key }}"}}))
    .expect("rule");
    for t in 0..TENANTS {
        let client_key = format!("bench-{t}");
        let base_url = sim.add_tenant(&client_key, "bench-secret", ProductType::Jira, "hookline");
        let payload: InstallPayload = serde_json::from_value(json!({"key": "hookline", "clientKey": client_key,
            "sharedSecret": "bench-secret", "baseUrl": base_url, "productType": "jira", "eventType": "installed"})).expect("payload");
        dispatcher
            .tenants
            .save_install(&payload)
            .await
            .expect("install");
        let key = ClientKey::parse(&client_key).expect("key");
        dispatcher
            .tenants
            .set_state(&key, TenantState::Enabled)
            .await
            .expect("enable");
        dispatcher.rules.add(&key, &rule).await.expect("rule");
    }
    let task = tokio::spawn(worker.run_until_stopped());
    let payload =
        include_str!("../../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json");
    let started = Instant::now();
    publish(&topology, events, payload).await;
    let deadline = started + Duration::from_secs(600);
    let total = || {
        (0..TENANTS)
            .map(|t| sim.comments(&format!("bench-{t}")).len())
            .sum::<usize>()
    };
    while total() < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(total(), events, "every event produced its comment");
    assert_eq!(sim.rejected_requests(), 0);
    shutdown.cancel();
    let _ = task.await;
    eprintln!("{latency_ms} ms Jira, prefetch {prefetch}: {events} events in {seconds:.2} s");
    Run {
        latency_ms,
        prefetch,
        events,
        seconds,
    }
}

/// Publishes `events` issue-created events (distinct webhook ids and issue keys) with confirms.
async fn publish(topology: &Topology, events: usize, payload: &str) {
    let connection = common::amqp::connect(&amqp_url(), "hookline-bench-publisher")
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let mut confirms = Vec::with_capacity(events);
    for i in 0..events {
        let body = payload.replacen("\"KAN-22\"", &format!("\"KAN-{i}\""), 1);
        let event = EventEnvelope {
            event_id: uuid::Uuid::new_v4(),
            tenant: TenantId::Connect(
                ClientKey::parse(&format!("bench-{}", i % TENANTS)).expect("a client key"),
            ),
            product: ProductType::Jira,
            event: "jira:issue_created".into(),
            webhook_id: Some(format!("wh-{i}")),
            retry: 0,
            flow: None,
            received_at: Utc::now(),
            payload: RawValue::from_string(body).expect("json"),
        };
        let properties = BasicProperties::default().with_delivery_mode(2);
        let confirm = channel
            .basic_publish(
                &topology.events_exchange(),
                &event.routing_key(),
                BasicPublishOptions::default(),
                &QueueMessage::encode_event(&event).expect("encodes"),
                properties,
            )
            .await
            .expect("publish");
        confirms.push(confirm);
    }
    for confirm in confirms {
        assert!(confirm.await.expect("confirm").is_ack());
    }
    let _ = connection.close(200, "done").await;
}

//! Pausing a site on real processes (one ingress, workers, a private RabbitMQ node and
//! PostgreSQL): while it is paused its webhooks are answered 2xx and held, through a broker
//! restart and a SIGKILLed worker; nothing takes effect before `hookline tenants resume`, and
//! after it every accepted webhook has exactly one comment. Another site runs meanwhile.
//!
//! It restarts services, so it runs on its own, like the chaos test:
//! `cargo build -p hookline && cargo test -p tests --test pause_chaos -- --ignored`
//! (scripts/test runs it after the suite).
use std::collections::HashMap;
use std::time::{Duration, Instant};

use simulator::{payloads, ProductSim, SendOptions, SimTenant};
use tests::chaos::Cluster;

/// Webhooks of the paused site before the broker restart, and after it.
const BEFORE: usize = 10;
const AFTER: usize = 10;
/// How long a pause takes to reach every worker (they read the paused sites every second).
const PAUSE_REACHES_WORKERS: Duration = Duration::from_millis(1500);
/// How long RabbitMQ stays down.
const OUTAGE: Duration = Duration::from_secs(3);
/// How long the paused site is watched for an effect that must not come.
const WATCH: Duration = Duration::from_secs(3);
/// How long resumed events may take to show their comments.
const DRAIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts services: cargo test -p tests --test pause_chaos -- --ignored"]
async fn a_paused_sites_events_are_held_through_a_broker_restart_and_a_worker_kill() {
    let mut cluster = Cluster::start(1).await.expect("the cluster starts");
    let paused = cluster
        .jira_site_with_echo_rule("site-paused")
        .await
        .expect("the paused site installs");
    let running = cluster
        .jira_site_with_echo_rule("site-running")
        .await
        .expect("the running site installs");
    let said = cluster
        .hookline(&["tenants", "pause", "site-paused"])
        .await
        .expect("hookline tenants pause");
    assert!(said.contains("paused"), "the CLI says so: {said}");
    tokio::time::sleep(PAUSE_REACHES_WORKERS).await;

    let mut accepted = send(&cluster, &paused, "HELD", 0..BEFORE).await;
    let others = send(&cluster, &running, "RUN", 0..5).await;
    wait_for(&cluster.product, &running, others.len()).await;
    assert_no_comments(&cluster.product, &paused).await;

    // The broker goes away and comes back; Jira retries what got 503 meanwhile.
    cluster.rabbit.stop_app().expect("RabbitMQ stops");
    tokio::time::sleep(OUTAGE).await;
    cluster.rabbit.start_app().await.expect("RabbitMQ starts");
    accepted.extend(send(&cluster, &paused, "HELD", BEFORE..BEFORE + AFTER).await);

    // A worker dies without a goodbye; another takes its place.
    let victim = cluster.workers.remove(0);
    victim.kill().await.expect("the worker is killed");
    cluster.start_worker().await.expect("a new worker starts");
    assert_no_comments(&cluster.product, &paused).await;

    let said = cluster
        .hookline(&["tenants", "resume", "site-paused"])
        .await
        .expect("hookline tenants resume");
    assert!(said.contains("resumed"), "the CLI says so: {said}");
    wait_for(&cluster.product, &paused, accepted.len()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut per_issue: HashMap<String, usize> = HashMap::new();
    for comment in cluster.product.comments(&paused.client_key) {
        *per_issue.entry(comment.target).or_default() += 1;
    }
    let lost = accepted
        .iter()
        .filter(|k| !per_issue.contains_key(*k))
        .count();
    let duplicates: usize = per_issue.values().map(|n| n - 1).sum();
    println!(
        "pause: {} accepted while paused, broker restarted, a worker killed; after resume lost {lost}, duplicates {duplicates}",
        accepted.len()
    );
    assert_eq!((lost, duplicates), (0, 0));
    assert_eq!(
        accepted.len(),
        BEFORE + AFTER,
        "every webhook was accepted in the end"
    );
    assert!(cluster.exited().is_empty(), "{:?}", cluster.exited());
}

/// Sends `jira:issue_created` on issues `{prefix}-{n}` for `numbers`, with Jira's retries;
/// returns the issue keys the ingress accepted.
async fn send(
    cluster: &Cluster,
    site: &SimTenant,
    prefix: &str,
    numbers: std::ops::Range<usize>,
) -> Vec<String> {
    let mut accepted = Vec::new();
    for n in numbers {
        let key = format!("{prefix}-{n}");
        let payload = payloads::jira_issue_created(&key, "paused", prefix);
        let options = SendOptions {
            max_attempts: Some(10),
            backoff: Some(Duration::from_millis(500)),
            ..SendOptions::default()
        };
        let report = cluster
            .connect
            .send_webhook(site, "jira:issue_created", &payload, options)
            .await
            .expect("the webhook is sent");
        if report.accepted {
            accepted.push(key);
        }
    }
    accepted
}

async fn wait_for(product: &ProductSim, site: &SimTenant, expected: usize) {
    let started = Instant::now();
    while product.comments(&site.client_key).len() < expected {
        assert!(
            started.elapsed() < DRAIN,
            "{} has {} of {expected} comments after {DRAIN:?}",
            site.client_key,
            product.comments(&site.client_key).len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_no_comments(product: &ProductSim, site: &SimTenant) {
    tokio::time::sleep(WATCH).await;
    assert!(
        product.comments(&site.client_key).is_empty(),
        "a paused site's event took effect: {:?}",
        product.comments(&site.client_key)
    );
}

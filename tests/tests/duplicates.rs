//! One effect per delivery: repeated deliveries (as Jira retries send them) and the worker's
//! own retries after product failures leave exactly one comment.
use std::time::Duration;

use common::ledger::LedgerStatus;
use simulator::{payloads, Endpoint, Fault, FaultKind, SendOptions};
use tests::{in_both_modes, E2e, Mode};

in_both_modes!(
    the_same_webhook_id_delivered_twice_makes_one_comment,
    a_jira_retry_racing_the_first_delivery_makes_one_comment,
    product_failures_make_the_worker_retry_and_still_one_comment,
);

/// How long the slow comment call takes: far longer than processing a delivery.
const SLOW_JIRA: Duration = Duration::from_secs(2);

/// Counts deliveries whose effect the ledger showed done already.
const DUPLICATES_SKIPPED: &str = "hookline_duplicate_effects_skipped_total{product=\"jira\"}";

fn same_delivery(webhook_id: &str) -> SendOptions {
    SendOptions {
        webhook_id: Some(webhook_id.to_owned()),
        ..SendOptions::default()
    }
}

async fn the_same_webhook_id_delivered_twice_makes_one_comment(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = app.jira_site_with_echo_rule("jira-site").await;
    let payload = payloads::jira_issue_created("KAN-1", "Delivered twice", "KAN");
    let first = app
        .send_with(&jira, "jira:issue_created", &payload, same_delivery("wh-1"))
        .await;
    assert_eq!(first.attempts, [202]);
    let comments = app.settled_comments(&jira, 1).await;

    // Jira delivers it again (it never saw our 202, say) after the first was processed; the
    // racing case is the next scenario.
    let again = app
        .send_with(&jira, "jira:issue_created", &payload, same_delivery("wh-1"))
        .await;
    assert_eq!(again.attempts, [202]);
    app.wait_for_metric(DUPLICATES_SKIPPED, 1.0).await;
    let row = app
        .ledger_entry(&jira, "wh-1", |row| row.status == LedgerStatus::Done)
        .await;
    assert_eq!(app.settled_comments(&jira, 1).await, comments);
    assert_eq!(row.result_id.as_deref(), Some(comments[0].id.as_str()));
    assert_eq!(app.product.requests(&jira.client_key).len(), 1);
    app.stop().await;
}

async fn a_jira_retry_racing_the_first_delivery_makes_one_comment(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = app.jira_site_with_echo_rule("jira-site").await;
    // Jira answers the first comment call slowly: the first delivery's comment is in flight
    // when the repeated delivery (as Jira sends after a timeout on its side) is processed.
    app.product.inject(
        &jira.client_key,
        Fault::once(Endpoint::Comment, FaultKind::Latency(SLOW_JIRA)),
    );
    let payload = payloads::jira_issue_created("KAN-1", "Retried while in flight", "KAN");
    let first = app
        .send_with(&jira, "jira:issue_created", &payload, same_delivery("wh-1"))
        .await;
    assert_eq!(first.attempts, [202]);
    app.ledger_entry(&jira, "wh-1", |row| {
        row.status == LedgerStatus::Pending && row.attempts == 1
    })
    .await;

    let retry = app
        .send_with(&jira, "jira:issue_created", &payload, same_delivery("wh-1"))
        .await;
    assert_eq!(retry.attempts, [202]);

    tokio::time::sleep(SLOW_JIRA).await;
    let comments = app.settled_comments(&jira, 1).await;
    assert_eq!(comments[0].target, "KAN-1");
    app.stop().await;
}

async fn product_failures_make_the_worker_retry_and_still_one_comment(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = app.jira_site_with_echo_rule("jira-site").await;
    // More failures than one attempt absorbs (the call is tried 3 times), so the event goes
    // through the delay queue and comes back.
    app.product.inject(
        &jira.client_key,
        Fault::times(Endpoint::Comment, FaultKind::Status(500), 4),
    );
    let payload = payloads::jira_issue_created("KAN-1", "Jira is having a bad day", "KAN");
    let report = app.deliver(&jira, "jira:issue_created", &payload).await;

    let comments = app.settled_comments(&jira, 1).await;
    assert_eq!(comments[0].target, "KAN-1");
    let failed = app
        .product
        .requests(&jira.client_key)
        .iter()
        .filter(|r| r.status == 500)
        .count();
    assert_eq!(failed, 4, "{}", app.snapshot(&jira));
    let row = app
        .ledger_entry(&jira, &report.webhook_id, |row| {
            row.status == LedgerStatus::Done
        })
        .await;
    assert_eq!(row.attempts, 2, "one delivery failed, the next one posted");
    app.stop().await;
}

//! The crash window and giving up: what happens when the worker dies mid-effect, and when a
//! product keeps failing.
mod support;

use std::time::Duration;

use common::ledger::{LedgerKey, LedgerStatus, Receipt};
use common::tenant::{ClientKey, ProductType};
use simulator::{Endpoint, Fault, FaultKind};
use support::{comment_rule, event, issue_created, spawn_worker};
use worker::actions::{perform, ActionContext};
use worker::dispatch::Outcome;

#[tokio::test]
async fn a_comment_created_just_before_a_crash_is_found_and_not_posted_again() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    let rule = worker
        .add_rule("tenant-a", &comment_rule("once only"))
        .await;
    let payload = issue_created("KAN-1");
    let envelope = event(
        "tenant-a",
        ProductType::Jira,
        "jira:issue_created",
        "wh-1",
        &payload,
    );
    let client_key = ClientKey::parse("tenant-a").expect("key");
    let key = LedgerKey {
        client_key: client_key.clone(),
        delivery_id: "wh-1".into(),
        rule_id: rule.id,
    };

    // The first attempt: the ledger row is begun and Jira accepts the comment, then the
    // process dies before the ledger records it.
    let receipt = Receipt {
        event_id: "first",
        event: "jira:issue_created",
        product: ProductType::Jira,
        subject: Some("KAN-1"),
    };
    worker
        .dispatcher
        .ledger
        .begin(&key, receipt)
        .await
        .expect("begun");
    let tenant = worker
        .dispatcher
        .tenants
        .find_by_client_key(&client_key)
        .await
        .expect("store")
        .expect("tenant");
    let marker = format!("wh-1#{}", rule.id);
    let context = ActionContext {
        tenant: &tenant,
        event: "jira:issue_created",
        payload: &payload,
        subject: "KAN-1",
        marker: &marker,
        may_exist: false,
    };
    let created = perform(&worker.dispatcher.client, &rule.spec.action, &context)
        .await
        .expect("posted")
        .expect("an id");
    assert_eq!(worker.sim.comments("tenant-a").len(), 1);

    // The broker redelivers the unacknowledged message to another worker.
    let outcome = worker.dispatcher.dispatch(&envelope, 1).await;

    assert_eq!(outcome, Outcome::Done);
    assert_eq!(
        worker.sim.comments("tenant-a").len(),
        1,
        "no second comment"
    );
    let entry = worker
        .dispatcher
        .ledger
        .find(&key)
        .await
        .expect("ledger")
        .expect("row");
    assert_eq!(entry.status, LedgerStatus::Done);
    assert_eq!(entry.result_id, Some(created));
    worker.stop().await;
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_after_the_last_attempt() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    let rule = worker.add_rule("tenant-a", &comment_rule("hi")).await;
    worker.sim.inject(
        "tenant-a",
        Fault {
            endpoint: Endpoint::Comment,
            kind: FaultKind::Status(502),
            times: u32::MAX,
        },
    );

    worker
        .publish(&event(
            "tenant-a",
            ProductType::Jira,
            "jira:issue_created",
            "wh-1",
            &issue_created("KAN-1"),
        ))
        .await;

    // Attempts 1..4 with delays of 1, 2 and 4 s between them.
    let mut dead = Vec::new();
    for _ in 0..300 {
        dead = worker.dead_letters().await;
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 1, "dead-lettered once");
    let attempts = worker
        .sim
        .requests("tenant-a")
        .iter()
        .filter(|r| r.status == 502)
        .count();
    assert_eq!(attempts, 4 * 3, "4 attempts of 3 quick tries each");
    let key = LedgerKey {
        client_key: ClientKey::parse("tenant-a").expect("key"),
        delivery_id: "wh-1".into(),
        rule_id: rule.id,
    };
    let entry = worker
        .dispatcher
        .ledger
        .find(&key)
        .await
        .expect("ledger")
        .expect("row");
    assert_eq!(entry.status, LedgerStatus::Dead);
    assert!(
        entry
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("gave up after 4 attempts"),
        "{:?}",
        entry.error
    );
    assert!(worker.sim.comments("tenant-a").is_empty());
    worker.stop().await;
}

//! The crash window and giving up: what happens when the worker dies mid-effect, and when a
//! product keeps failing.
mod support;

use common::subject::{Subject, SubjectKind};
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
    // A short lease stands for one that ran out after the crash.
    worker
        .dispatcher
        .ledger
        .begin(&key, receipt, Duration::from_millis(1))
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
        payload: &std::sync::Arc::new(payload.clone()),
        subject: &Subject::new(SubjectKind::Issue, "KAN-1"),
        marker: &marker,
        may_exist: false,
    };
    let created = perform(&worker.dispatcher.client, &rule.spec.action, &context)
        .await
        .expect("posted")
        .expect("an id");
    assert_eq!(worker.sim.comments("tenant-a").len(), 1);

    // The broker redelivers the unacknowledged message to another worker once the lease ends.
    tokio::time::sleep(Duration::from_millis(20)).await;
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
        Fault::always(Endpoint::Comment, FaultKind::Status(502)),
    );

    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;

    // Attempts 1..4 with delays of 1, 2 and 4 s between them.
    let dead = worker.wait_for_dead_letters(Duration::from_secs(30)).await;
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

#[tokio::test]
async fn a_copy_of_a_delivery_arriving_while_the_first_is_acting_waits_instead_of_acting() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    let rule = worker.add_rule("tenant-a", &comment_rule("once")).await;
    let envelope = event(
        "tenant-a",
        ProductType::Jira,
        "jira:issue_created",
        "wh-1",
        &issue_created("KAN-1"),
    );
    let key = LedgerKey {
        client_key: ClientKey::parse("tenant-a").expect("key"),
        delivery_id: "wh-1".into(),
        rule_id: rule.id,
    };
    let receipt = Receipt {
        event_id: "first",
        event: "jira:issue_created",
        product: ProductType::Jira,
        subject: Some("KAN-1"),
    };
    // Another worker holds the pair right now.
    worker
        .dispatcher
        .ledger
        .begin(&key, receipt, Duration::from_secs(60))
        .await
        .expect("begun");

    let outcome = worker.dispatcher.dispatch(&envelope, 1).await;
    // Waiting for the holder is no attempt of this copy: even at the last attempt it is
    // deferred, never dead-lettered (the holder may be a crashed worker whose lease runs out).
    let at_the_last = worker
        .dispatcher
        .dispatch(&envelope, worker.dispatcher.max_attempts)
        .await;

    assert!(matches!(outcome, Outcome::Defer { .. }), "{outcome:?}");
    assert_eq!(outcome.next_attempt(1), 1);
    assert!(
        matches!(at_the_last, Outcome::Defer { .. }),
        "{at_the_last:?}"
    );
    assert!(
        worker.sim.requests("tenant-a").is_empty(),
        "no call while the pair is held"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_reinstall_handled_by_another_process_is_picked_up_after_one_refused_call() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "old-secret", ProductType::Jira)
        .await;
    worker.add_rule("tenant-a", &comment_rule("hi")).await;
    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;
    assert!(
        support::eventually(Duration::from_secs(20), || worker
            .sim
            .comments("tenant-a")
            .len()
            == 1)
        .await
    );

    // The ingress (another process, another cache) stores a re-install with a new secret.
    let other_process = common::tenant::TenantStore::new(
        worker.dispatcher_db(),
        std::sync::Arc::new(worker.settings.keyring().expect("keyring")),
        Duration::from_secs(60),
    );
    let mut payload = worker.install_payload("tenant-a", "new-secret", ProductType::Jira);
    payload.shared_secret = Some(common::connect::SharedSecret::new("new-secret"));
    other_process
        .save_install(&payload)
        .await
        .expect("re-installed");
    other_process
        .set_state(&payload.client_key, common::tenant::TenantState::Enabled)
        .await
        .expect("enabled");
    worker.sim.set_secret("tenant-a", "new-secret");

    worker
        .publish_issue_created("tenant-a", "wh-2", "KAN-2")
        .await;

    assert!(
        support::eventually(Duration::from_secs(20), || worker
            .sim
            .comments("tenant-a")
            .len()
            == 2)
        .await,
        "the event was not lost"
    );
    let refused = worker
        .sim
        .requests("tenant-a")
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(
        refused, 1,
        "one call with the cached secret, then the new one"
    );
    assert!(worker.dead_letters().await.is_empty());
    worker.stop().await;
}

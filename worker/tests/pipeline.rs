//! The worker end to end: broker in, signed calls out to the simulator (which verifies every
//! JWT and qsh), with retries, throttling, dead letters and no duplicate effects.
mod support;

use std::time::Duration;

use common::amqp::headers;
use common::ledger::{LedgerKey, LedgerStatus};
use common::tenant::{ClientKey, ProductType};
use lapin::types::AMQPValue;
use serde_json::json;
use simulator::{Endpoint, Fault, FaultKind};
use support::{comment_rule, event, eventually, issue_created, page_created, spawn_worker};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn an_event_matching_a_rule_produces_exactly_one_signed_comment() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    let rule = worker
        .add_rule(
            "tenant-a",
            &comment_rule("Created {{ issue.key }}: {{ issue.fields.summary }}"),
        )
        .await;

    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;

    assert!(
        eventually(WAIT, || worker.sim.comments("tenant-a").len() == 1).await,
        "one comment"
    );
    let comment = &worker.sim.comments("tenant-a")[0];
    assert_eq!(comment.target, "KAN-1");
    assert_eq!(comment.body["body"], "Created KAN-1: Login fails");
    assert_eq!(
        worker.sim.rejected_requests(),
        0,
        "every call was correctly signed"
    );
    let key = LedgerKey {
        client_key: ClientKey::parse("tenant-a").expect("key"),
        delivery_id: "wh-1".into(),
        rule_id: rule.id,
    };
    let ledger = worker.dispatcher.ledger.clone();
    let mut entry = None;
    for _ in 0..100 {
        entry = ledger
            .find(&key)
            .await
            .expect("ledger")
            .filter(|e| e.status == LedgerStatus::Done);
        if entry.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entry = entry.expect("the ledger records the effect");
    assert_eq!(entry.result_id.as_deref(), Some(comment.id.as_str()));
    assert_eq!(entry.subject.as_deref(), Some("KAN-1"));
    worker.stop().await;
}

#[tokio::test]
async fn server_errors_then_success_produce_one_comment() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    worker.add_rule("tenant-a", &comment_rule("hello")).await;
    // More failures than the quick in-process retries, so the event also goes through a delay queue.
    worker.sim.inject(
        "tenant-a",
        Fault::times(Endpoint::Comment, FaultKind::Status(500), 4),
    );

    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;

    assert!(
        eventually(WAIT, || worker.sim.comments("tenant-a").len() == 1).await,
        "the comment arrives"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        worker.sim.comments("tenant-a").len(),
        1,
        "exactly one comment"
    );
    let failed = worker
        .sim
        .requests("tenant-a")
        .iter()
        .filter(|r| r.status == 500)
        .count();
    assert_eq!(failed, 4);
    worker.stop().await;
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_that_tenant_only() {
    let worker = spawn_worker().await;
    for tenant in ["slow", "fast"] {
        worker.add_tenant(tenant, "secret", ProductType::Jira).await;
        worker.add_rule(tenant, &comment_rule("hi")).await;
    }
    worker.sim.inject(
        "slow",
        Fault::once(
            Endpoint::Comment,
            FaultKind::RetryAfter {
                status: 429,
                seconds: 2,
            },
        ),
    );

    worker.publish_issue_created("slow", "wh-s", "KAN-1").await;
    assert!(
        eventually(WAIT, || worker
            .sim
            .requests("slow")
            .iter()
            .any(|r| r.status == 429))
        .await
    );
    worker.publish_issue_created("fast", "wh-f", "KAN-1").await;

    assert!(
        eventually(WAIT, || worker.sim.comments("slow").len() == 1
            && worker.sim.comments("fast").len() == 1)
        .await
    );
    let throttled_at = worker
        .sim
        .requests("slow")
        .iter()
        .find(|r| r.status == 429)
        .map(|r| r.at)
        .expect("429");
    let slow_done = worker.sim.comments("slow")[0].at;
    let fast_done = worker.sim.comments("fast")[0].at;
    assert!(
        slow_done.duration_since(throttled_at) >= Duration::from_secs(2),
        "waited at least Retry-After"
    );
    assert!(fast_done < slow_done, "the other tenant was not held up");
    assert!(fast_done.duration_since(throttled_at) < Duration::from_secs(2));
    worker.stop().await;
}

#[tokio::test]
async fn a_403_dead_letters_the_event_with_its_reason() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    let rule = worker.add_rule("tenant-a", &comment_rule("hi")).await;
    worker.sim.inject(
        "tenant-a",
        Fault::always(Endpoint::Comment, FaultKind::Status(403)),
    );

    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;

    let dead = worker.wait_for_dead_letters(Duration::from_secs(20)).await;
    assert_eq!(dead.len(), 1, "one dead letter");
    let reason = dead[0]
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(headers::DEAD_REASON).cloned());
    let Some(AMQPValue::LongString(reason)) = reason else {
        panic!("a reason header: {reason:?}")
    };
    assert!(reason.to_string().contains("lacks permission"), "{reason}");
    assert!(worker.sim.comments("tenant-a").is_empty());
    let forbidden = worker
        .sim
        .requests("tenant-a")
        .iter()
        .filter(|r| r.status == 403)
        .count();
    assert_eq!(forbidden, 1, "a 403 is not retried");
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
    worker.stop().await;
}

#[tokio::test]
async fn redelivery_of_the_same_event_posts_no_second_comment() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    worker.add_rule("tenant-a", &comment_rule("once")).await;
    let payload = issue_created("KAN-1");

    // The same delivery published three times (a Jira retry and two broker redeliveries).
    for _ in 0..3 {
        worker
            .publish(&event(
                "tenant-a",
                ProductType::Jira,
                "jira:issue_created",
                "wh-same",
                &payload,
            ))
            .await;
    }
    assert!(eventually(WAIT, || worker.sim.comments("tenant-a").len() == 1).await);
    let skipped = worker
        .metric_reaches(
            "hookline_duplicate_effects_skipped_total{product=\"jira\"} 2",
            WAIT,
        )
        .await;
    assert!(skipped, "two duplicates were skipped");
    assert_eq!(worker.sim.comments("tenant-a").len(), 1);
    worker.stop().await;
}

#[tokio::test]
async fn the_same_issue_key_in_two_tenants_never_mixes() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    worker
        .add_tenant("tenant-b", "secret-b", ProductType::Jira)
        .await;
    worker.add_rule("tenant-a", &comment_rule("from A")).await;
    worker.add_rule("tenant-b", &comment_rule("from B")).await;

    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;
    worker
        .publish_issue_created("tenant-b", "wh-1", "KAN-1")
        .await;

    assert!(
        eventually(WAIT, || worker.sim.comments("tenant-a").len() == 1
            && worker.sim.comments("tenant-b").len() == 1)
        .await
    );
    assert_eq!(worker.sim.comments("tenant-a")[0].body["body"], "from A");
    assert_eq!(worker.sim.comments("tenant-b")[0].body["body"], "from B");
    assert_eq!(worker.sim.rejected_requests(), 0);
    worker.stop().await;
}

#[tokio::test]
async fn confluence_comments_go_under_wiki_with_the_qsh_computed_without_it() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("space-a", "secret-c", ProductType::Confluence)
        .await;
    let spec = serde_json::from_value(json!({
        "name": "page", "event": "page_created",
        "conditions": [{"type": "space_key", "key": "ENG"}],
        "action": {"type": "confluence_comment", "template": "<p>New page {{ page.title }}</p>"}
    }))
    .expect("rule");
    worker.add_rule("space-a", &spec).await;

    worker
        .publish(&event(
            "space-a",
            ProductType::Confluence,
            "page_created",
            "wh-1",
            &page_created(194347009),
        ))
        .await;

    assert!(eventually(WAIT, || worker.sim.comments("space-a").len() == 1).await);
    let comment = &worker.sim.comments("space-a")[0];
    assert_eq!(comment.target, "194347009");
    assert_eq!(
        comment.body["body"]["value"], "<p>New page Release &lt;notes&gt;</p>",
        "values are HTML-escaped"
    );
    let request = worker
        .sim
        .requests("space-a")
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("a POST");
    assert!(
        request.path.ends_with("/wiki/api/v2/footer-comments"),
        "{}",
        request.path
    );
    assert_eq!(request.jwt, Ok(()));
    assert_eq!(worker.sim.rejected_requests(), 0);
    worker.stop().await;
}

#[tokio::test]
async fn labels_and_properties_are_set_on_both_products() {
    let worker = spawn_worker().await;
    worker.add_tenant("jira-a", "s1", ProductType::Jira).await;
    worker
        .add_tenant("wiki-a", "s2", ProductType::Confluence)
        .await;
    for (tenant, event_name, actions) in [
        (
            "jira-a",
            "jira:issue_created",
            vec![
                json!({"type": "jira_label", "label": "triaged"}),
                json!({"type": "jira_property", "key": "hookline.seen", "value": {"ok": true}}),
            ],
        ),
        (
            "wiki-a",
            "page_created",
            vec![
                json!({"type": "confluence_label", "label": "reviewed"}),
                json!({"type": "confluence_property", "key": "hookline-seen", "value": {"ok": true}}),
            ],
        ),
    ] {
        for action in actions {
            let spec =
                serde_json::from_value(json!({"name": "r", "event": event_name, "action": action}))
                    .expect("rule");
            worker.add_rule(tenant, &spec).await;
        }
    }
    worker
        .publish_issue_created("jira-a", "wh-1", "KAN-9")
        .await;
    worker
        .publish(&event(
            "wiki-a",
            ProductType::Confluence,
            "page_created",
            "wh-2",
            &page_created(42),
        ))
        .await;

    assert!(
        eventually(WAIT, || {
            worker.sim.labels("jira-a").len() == 1
                && worker.sim.properties("jira-a").len() == 1
                && worker.sim.labels("wiki-a").len() == 1
                && worker.sim.properties("wiki-a").len() == 1
        })
        .await
    );
    assert_eq!(worker.sim.labels("jira-a")[0].label, "triaged");
    assert_eq!(worker.sim.labels("wiki-a")[0].target, "42");
    assert_eq!(
        worker.sim.properties("jira-a")[0].value,
        json!({"ok": true})
    );
    assert_eq!(worker.sim.rejected_requests(), 0);
    worker.stop().await;
}

#[tokio::test]
async fn events_of_a_disabled_tenant_are_acknowledged_not_processed() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    worker.add_rule("tenant-a", &comment_rule("hi")).await;
    let key = ClientKey::parse("tenant-a").expect("key");
    worker
        .dispatcher
        .tenants
        .set_state(&key, common::tenant::TenantState::Disabled)
        .await
        .expect("disabled");

    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;
    let skipped = worker
        .metric_reaches(
            "hookline_events_processed_total{outcome=\"skipped\"} 1",
            WAIT,
        )
        .await;
    assert!(skipped);
    assert!(worker.sim.requests("tenant-a").is_empty());
    assert!(worker.dead_letters().await.is_empty());
    worker.stop().await;
}

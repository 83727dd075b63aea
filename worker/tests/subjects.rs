//! What an event acts on: a Confluence comment's page or blog post (`comment.parent`, as the
//! real webhooks carry it), blog posts through their own REST paths, and an event that names
//! nothing to act on, recorded as skipped with its reason rather than dropped or dead-lettered.
mod support;

use std::time::Duration;

use common::ledger::{LedgerStatus, NO_RULE};
use common::tenant::{ClientKey, ProductType};
use serde_json::json;
use simulator::payloads::{self, CommentedOn};
use support::{event, spawn_worker};
use worker::dispatch::Outcome;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_confluence_comment_acts_on_the_page_it_was_made_on() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("wiki-a", "secret", ProductType::Confluence)
        .await;
    let spec = serde_json::from_value(json!({
        "name": "reply", "event": "comment_created",
        "action": {"type": "confluence_comment",
            "template": "<p>Thanks for commenting on {{ comment.parent.title }}</p>"}
    }))
    .expect("rule");
    worker.add_rule("wiki-a", &spec).await;
    let payload =
        payloads::confluence_comment_created(901, CommentedOn::Page, 458719502, "Runbook", "OPS");
    let envelope = event(
        "wiki-a",
        ProductType::Confluence,
        "comment_created",
        "wh-c1",
        &payload,
    );
    assert_eq!(
        worker.dispatcher.dispatch(&envelope, 1).await,
        Outcome::Done
    );

    let comments = worker.sim.comments("wiki-a");
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].target, "458719502");
    assert_eq!(comments[0].body["pageId"], "458719502");
    assert_eq!(
        comments[0].body["body"]["value"],
        "<p>Thanks for commenting on Runbook</p>"
    );
    assert_eq!(worker.sim.rejected_requests(), 0);
    worker.stop().await;
}

#[tokio::test]
async fn blog_posts_are_acted_on_like_pages_through_their_own_paths() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("wiki-b", "secret", ProductType::Confluence)
        .await;
    for (event_name, action) in [
        (
            "comment_created",
            json!({"type": "confluence_comment", "template": "<p>Seen</p>"}),
        ),
        (
            "blog_created",
            json!({"type": "confluence_property", "key": "hookline-seen", "value": {"ok": true}}),
        ),
    ] {
        let spec =
            serde_json::from_value(json!({"name": "r", "event": event_name, "action": action}))
                .expect("rule");
        worker.add_rule("wiki-b", &spec).await;
    }
    let on_blog =
        payloads::confluence_comment_created(902, CommentedOn::BlogPost, 77, "News", "OPS");
    let created = payloads::confluence_blog_created(78, "More news", "OPS");
    for (name, id, payload) in [
        ("comment_created", "wh-b1", on_blog),
        ("blog_created", "wh-b2", created),
    ] {
        let envelope = event("wiki-b", ProductType::Confluence, name, id, &payload);
        assert_eq!(
            worker.dispatcher.dispatch(&envelope, 1).await,
            Outcome::Done
        );
    }

    let comments = worker.sim.comments("wiki-b");
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body["blogPostId"], "77");
    assert!(comments[0].body.get("pageId").is_none());
    let properties = worker.sim.properties("wiki-b");
    assert_eq!(properties.len(), 1);
    assert_eq!(properties[0].target, "78");
    let paths: Vec<String> = worker
        .sim
        .requests("wiki-b")
        .into_iter()
        .map(|request| request.path)
        .collect();
    assert!(
        paths
            .iter()
            .any(|path| path.ends_with("/wiki/api/v2/blogposts/78/properties")),
        "{paths:?}"
    );
    assert_eq!(worker.sim.rejected_requests(), 0);
    worker.stop().await;
}

#[tokio::test]
async fn an_event_naming_nothing_to_act_on_is_recorded_as_skipped_with_its_reason() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("wiki-c", "secret", ProductType::Confluence)
        .await;
    let spec = serde_json::from_value(json!({
        "name": "label", "event": "comment_created",
        "action": {"type": "confluence_label", "label": "discussed"}
    }))
    .expect("rule");
    let rule = worker.add_rule("wiki-c", &spec).await;
    // A comment on an attachment: its parent is neither a page nor a blog post.
    let mut payload =
        payloads::confluence_comment_created(903, CommentedOn::Page, 5, "Diagram", "OPS");
    payload["comment"]["parent"]["contentType"] = json!("attachment");
    let envelope = event(
        "wiki-c",
        ProductType::Confluence,
        "comment_created",
        "wh-none",
        &payload,
    );

    let outcome = worker.dispatcher.dispatch(&envelope, 1).await;

    assert_eq!(outcome, Outcome::Skipped("no subject"));
    assert!(worker.sim.requests("wiki-c").is_empty());
    let client_key = ClientKey::parse("wiki-c").expect("a key");
    let activity = worker
        .dispatcher
        .ledger
        .activity(&client_key, None, 10)
        .await
        .expect("the ledger");
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].rule_id, rule.id);
    assert_ne!(activity[0].rule_id, NO_RULE);
    assert_eq!(activity[0].status, LedgerStatus::Skipped);
    assert_eq!(activity[0].subject, None);
    assert!(
        activity[0]
            .error
            .as_deref()
            .is_some_and(|reason| reason.contains("no issue, page or blog post")),
        "{activity:?}"
    );
    // Published through the broker, it is acknowledged, not dead-lettered.
    worker.publish(&envelope).await;
    let skipped = r#"hookline_events_processed_total{outcome="skipped"} 1"#;
    assert!(worker.metric_reaches(skipped, WAIT).await);
    assert!(
        worker.dead_letters().await.is_empty(),
        "a skipped event is no dead letter"
    );
    worker.stop().await;
}

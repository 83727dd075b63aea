//! Verified webhooks end up as exactly one persistent message; bad ones get the right status.
mod support;

use std::time::Duration;

use common::amqp::headers;
use common::envelope::QueueMessage;
use lapin::types::AMQPValue;
use support::{hs_token, spawn_app};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../fixtures/payloads/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn header<'a>(message: &'a lapin::message::BasicGetMessage, name: &str) -> Option<&'a AMQPValue> {
    message.properties.headers().as_ref()?.inner().get(name)
}

#[tokio::test]
async fn a_verified_webhook_becomes_exactly_one_persistent_message_with_its_headers() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let body = fixture("jira_issue_created__sirajju_skill-sync.json");

    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, &body, Some("wh-1"))
        .await;
    assert_eq!(response.status(), 202);

    let messages = app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let properties = &message.properties;
    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
    assert_eq!(
        properties.message_id().as_ref().map(|id| id.as_str()),
        Some("wh-1")
    );
    assert_eq!(
        properties.app_id().as_ref().map(|id| id.as_str()),
        Some("hookline")
    );
    let text = |name| match header(message, name) {
        Some(AMQPValue::LongString(value)) => value.to_string(),
        other => panic!("header {name}: {other:?}"),
    };
    assert_eq!(text(headers::CLIENT_KEY), "tenant-a");
    assert_eq!(text(headers::PRODUCT), "jira");
    assert_eq!(text(headers::EVENT), "jira:issue_created");
    let QueueMessage::EventV1(envelope) =
        QueueMessage::from_bytes(&message.data).expect("an envelope");
    assert_eq!(envelope.tenant.to_string(), "tenant-a");
    assert_eq!(envelope.webhook_id.as_deref(), Some("wh-1"));
    assert_eq!(
        envelope.payload.get().as_bytes(),
        body.as_slice(),
        "payload kept byte for byte"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_without_identifier_gets_the_body_hash_as_message_id() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, br#"{"a":1}"#, None)
        .await;
    assert_eq!(response.status(), 202);
    let messages = app.drain_work_queue(Duration::from_secs(5)).await;
    let id = messages[0]
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.to_string());
    assert_eq!(id, Some(common::envelope::body_hash(br#"{"a":1}"#)));
    app.stop().await;
}

#[tokio::test]
async fn bad_webhooks_get_their_documented_status_and_enqueue_nothing() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;

    // Not JSON → 400.
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"not json", None)
        .await;
    assert_eq!(response.status(), 400);
    // Unknown event or product → 404.
    let response = app
        .post_webhook(
            "tenant-a",
            "secret-a",
            "/webhooks/jira/jira:nonsense",
            b"{}",
            None,
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = app
        .post_webhook(
            "tenant-a",
            "secret-a",
            "/webhooks/bitbucket/repo:push",
            b"{}",
            None,
        )
        .await;
    assert_eq!(response.status(), 404);
    // Wrong secret → 401 naming the check.
    let response = app
        .post_webhook("tenant-a", "wrong-secret", ISSUE_CREATED, b"{}", None)
        .await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["code"], "jwt_bad_signature");
    // A token for another URL → 401 qsh mismatch.
    let token = hs_token(
        "tenant-a",
        "secret-a",
        "POST",
        "/webhooks/jira/comment_created",
    );
    let response = app
        .client
        .post(app.url(ISSUE_CREATED))
        .header("Authorization", format!("JWT {token}"))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["code"], "jwt_qsh_mismatch");
    assert!(
        !body.to_string().contains(&token),
        "the token is never echoed"
    );
    // No token → 401.
    let response = app
        .client
        .post(app.url(ISSUE_CREATED))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 401);

    assert!(app
        .drain_work_queue(Duration::from_millis(300))
        .await
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_token_in_the_jwt_query_parameter_is_accepted_and_binds_the_query() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let target = format!("{ISSUE_CREATED}?user_id=admin&issue=ABC-1");
    let token = hs_token("tenant-a", "secret-a", "POST", &target);

    let response = app
        .client
        .post(app.url(&format!("{target}&jwt={token}")))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 202);

    // The same token on another query is refused: the query is part of the qsh.
    let response = app
        .client
        .post(app.url(&format!(
            "{ISSUE_CREATED}?user_id=someone-else&issue=ABC-1&jwt={token}"
        )))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["code"], "jwt_qsh_mismatch");

    assert_eq!(app.drain_work_queue(Duration::from_secs(5)).await.len(), 1);
    app.stop().await;
}

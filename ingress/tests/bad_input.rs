//! Hostile and malformed webhooks: each is refused with its documented status and a JSON body
//! `{code, message}` that never echoes the token, and none of them enqueues anything.
mod support;

use std::time::Duration;

use common::amqp::headers;
use common::connect::{CanonicalRequest, Claims};
use common::envelope::QueueMessage;
use lapin::types::AMQPValue;
use support::{
    assert_error, hs_token, hs_token_with, now, spawn_app, spawn_app_with, TestApp, TestOptions,
};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";

/// Claims as Jira signs them for `POST ISSUE_CREATED`, to be altered by each case.
fn webhook_claims(client_key: &str) -> Claims {
    Claims {
        iss: Some(client_key.to_owned()),
        iat: Some(now()),
        exp: Some(now() + 180),
        qsh: Some(
            CanonicalRequest::new("POST", ISSUE_CREATED, "")
                .qsh()
                .to_string(),
        ),
        ..Claims::default()
    }
}

/// Sends `body` to `path` with `token` and asserts the refusal; the body never holds the token.
async fn assert_refused(
    app: &TestApp,
    path: &str,
    token: &str,
    extra_headers: &[(&str, &str)],
    body: Vec<u8>,
    status: u16,
    code: &str,
) {
    let response = app.post_bytes(path, Some(token), extra_headers, body).await;
    let text = assert_error(response, status, code).await;
    assert!(!text.contains(token), "the token is never echoed: {text}");
    let signature = token.rsplit('.').next().unwrap_or_default();
    assert!(
        signature.len() < 16 || !text.contains(signature),
        "nor its signature: {text}"
    );
}

async fn assert_nothing_enqueued(app: &TestApp) {
    let messages = app.drain_work_queue(Duration::from_millis(300)).await;
    assert!(
        messages.is_empty(),
        "{} refused request(s) were enqueued",
        messages.len()
    );
}

fn client_key_header(message: &lapin::message::BasicGetMessage) -> String {
    let headers = message.properties.headers().as_ref().expect("headers");
    match headers.inner().get(headers::CLIENT_KEY) {
        Some(AMQPValue::LongString(value)) => value.to_string(),
        other => panic!("client_key header: {other:?}"),
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_with_a_json_error() {
    let app = spawn_app_with(TestOptions {
        body_limit_bytes: Some(1024),
        ..TestOptions::default()
    })
    .await;
    app.install_tenant("tenant-a", "secret-a").await;
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let big = format!(r#"{{"padding":"{}"}}"#, "x".repeat(2048)).into_bytes();
    assert_refused(&app, ISSUE_CREATED, &token, &[], big, 413, "body_too_large").await;

    // The limit covers the lifecycle callbacks too.
    let mut body = support::install_body("tenant-b", "secret-b");
    body["description"] = "x".repeat(2048).into();
    let token = support::signed_install_token("tenant-b", "/installed");
    let response = app.post("/installed", Some(&token), &body).await;
    assert_error(response, 413, "body_too_large").await;
    assert!(app.tenant("tenant-b").await.is_none());

    // Just under the limit is fine.
    let small = format!(r#"{{"padding":"{}"}}"#, "x".repeat(900)).into_bytes();
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, &small, None)
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        app.drain_work_queue(Duration::from_secs(5)).await.len(),
        1,
        "only the accepted webhook is queued"
    );
    app.stop().await;
}

#[tokio::test]
async fn bodies_that_are_not_one_json_object_are_bad_requests() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    for body in [
        b"not json".to_vec(),
        b" ".to_vec(),
        b"[1]".to_vec(),
        b"\"a string\"".to_vec(),
        b"42".to_vec(),
        b"null".to_vec(),
        b"{\"a\":1} trailing".to_vec(),
        b"{\"a\":\"\xff\xfe\"}".to_vec(),
        b"\xef\xbb\xbf{\"bom\":true}".to_vec(),
    ] {
        assert_refused(&app, ISSUE_CREATED, &token, &[], body, 400, "invalid_json").await;
    }
    assert_nothing_enqueued(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_products_and_events_are_not_found() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    for path in [
        "/webhooks/jira/jira:nonsense",
        "/webhooks/bitbucket/repo:push",
        "/webhooks/jira/page_created",
        "/webhooks/confluence/jira:issue_created",
    ] {
        let token = hs_token("tenant-a", "secret-a", "POST", path);
        assert_refused(
            &app,
            path,
            &token,
            &[],
            b"{}".to_vec(),
            404,
            "unknown_event",
        )
        .await;
    }
    let response = app.get("/no/such/route").await;
    assert_error(response, 404, "not_found").await;
    assert_nothing_enqueued(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let claims = Claims {
        iat: Some(now() - 600),
        exp: Some(now() - 420),
        ..webhook_claims("tenant-a")
    };
    let token = hs_token_with(&claims, "secret-a");
    assert_refused(
        &app,
        ISSUE_CREATED,
        &token,
        &[],
        b"{}".to_vec(),
        401,
        "jwt_expired",
    )
    .await;
    assert_nothing_enqueued(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    // The claims segment of a genuine token, under an unsigned header.
    let genuine = hs_token_with(&webhook_claims("tenant-a"), "secret-a");
    let claims = genuine.split('.').nth(1).expect("a claims segment");
    for header in [
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", // {"alg":"none","typ":"JWT"}
        "eyJhbGciOiJOb25lIiwidHlwIjoiSldUIn0", // {"alg":"None","typ":"JWT"}
    ] {
        let token = format!("{header}.{claims}.");
        assert_refused(
            &app,
            ISSUE_CREATED,
            &token,
            &[],
            b"{}".to_vec(),
            401,
            "jwt_algorithm",
        )
        .await;
    }
    assert_nothing_enqueued(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_context_qsh_token_is_refused_on_a_webhook() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let claims = Claims {
        qsh: Some("context-qsh".into()),
        sub: Some("557058:user".into()),
        ..webhook_claims("tenant-a")
    };
    let token = hs_token_with(&claims, "secret-a");
    let body = b"{}".to_vec();
    assert_refused(
        &app,
        ISSUE_CREATED,
        &token,
        &[],
        body,
        401,
        "jwt_context_qsh",
    )
    .await;
    assert_nothing_enqueued(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_token_without_qsh_or_with_a_malformed_shape_is_refused() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let no_qsh = hs_token_with(
        &Claims {
            qsh: None,
            ..webhook_claims("tenant-a")
        },
        "secret-a",
    );
    assert_refused(
        &app,
        ISSUE_CREATED,
        &no_qsh,
        &[],
        b"{}".to_vec(),
        401,
        "jwt_missing_qsh",
    )
    .await;
    for garbage in ["abc", "a.b", "a.b.c.d", "%%%.%%%.%%%"] {
        assert_refused(
            &app,
            ISSUE_CREATED,
            garbage,
            &[],
            b"{}".to_vec(),
            401,
            "jwt_malformed",
        )
        .await;
    }
    let huge = "a".repeat(9 * 1024);
    assert_refused(
        &app,
        ISSUE_CREATED,
        &huge,
        &[],
        b"{}".to_vec(),
        401,
        "jwt_too_large",
    )
    .await;
    assert_nothing_enqueued(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_tenants_token_only_ever_speaks_for_that_tenant() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    app.install_tenant("tenant-b", "secret-b").await;

    // B's token claiming to be A fails A's signature check.
    let forged = hs_token_with(&webhook_claims("tenant-a"), "secret-b");
    let body = b"{}".to_vec();
    assert_refused(
        &app,
        ISSUE_CREATED,
        &forged,
        &[],
        body,
        401,
        "jwt_bad_signature",
    )
    .await;
    // A token naming an unknown site is refused too.
    let stranger = hs_token("tenant-x", "secret-b", "POST", ISSUE_CREATED);
    let body = b"{}".to_vec();
    assert_refused(
        &app,
        ISSUE_CREATED,
        &stranger,
        &[],
        body,
        401,
        "jwt_unknown_iss",
    )
    .await;
    assert_nothing_enqueued(&app).await;

    // B's valid token is accepted, as B and only as B.
    let response = app
        .post_webhook("tenant-b", "secret-b", ISSUE_CREATED, b"{}", Some("wh-b"))
        .await;
    assert_eq!(response.status(), 202);
    let messages = app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(client_key_header(&messages[0]), "tenant-b");
    let QueueMessage::EventV1(envelope) =
        QueueMessage::from_bytes(&messages[0].data).expect("an envelope");
    assert_eq!(envelope.tenant.to_string(), "tenant-b");
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_webhook_identifier_is_a_bad_request() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let too_long = "x".repeat(129);
    for id in [too_long.as_str(), "has space", ""] {
        let headers = [("X-Atlassian-Webhook-Identifier", id)];
        let body = b"{}".to_vec();
        assert_refused(
            &app,
            ISSUE_CREATED,
            &token,
            &headers,
            body,
            400,
            "invalid_webhook_id",
        )
        .await;
    }
    assert_nothing_enqueued(&app).await;

    // Exactly 128 characters is accepted.
    let longest = "y".repeat(128);
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", Some(&longest))
        .await;
    assert_eq!(response.status(), 202);
    let messages = app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str()),
        Some(longest.as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_product_mismatch_is_forbidden() {
    let app = spawn_app().await;
    // tenant-a is a Jira site; it may not send Confluence events.
    app.install_tenant("tenant-a", "secret-a").await;
    let path = "/webhooks/confluence/page_created";
    let token = hs_token("tenant-a", "secret-a", "POST", path);
    assert_refused(
        &app,
        path,
        &token,
        &[],
        b"{}".to_vec(),
        403,
        "product_mismatch",
    )
    .await;
    assert_nothing_enqueued(&app).await;
    app.stop().await;
}

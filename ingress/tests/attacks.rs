//! Attacks on the ingress not covered by `bad_input.rs`, `webhooks.rs` and `lifecycle_signed.rs`:
//! each asserts the documented answer, that nothing was enqueued for it, and that the ingress
//! still answers `/healthz` afterwards.
mod support;

use std::time::{Duration, Instant};

use common::amqp::headers;
use common::connect::{CanonicalRequest, Claims};
use common::envelope::QueueMessage;
use lapin::types::AMQPValue;
use support::{
    assert_error, hs_token, hs_token_with, install_body, now, signed_install_token, spawn_app,
    TestApp,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";

async fn assert_nothing_enqueued(app: &TestApp) {
    let messages = app.drain_work_queue(Duration::from_millis(300)).await;
    assert!(
        messages.is_empty(),
        "{} refused request(s) were enqueued",
        messages.len()
    );
}

async fn assert_healthy(app: &TestApp) {
    let response = tokio::time::timeout(Duration::from_secs(5), app.get("/healthz"))
        .await
        .expect("/healthz answers within 5 s");
    assert_eq!(response.status(), 200, "/healthz after the attack");
}

fn header_string(message: &lapin::message::BasicGetMessage, name: &str) -> String {
    let headers = message.properties.headers().as_ref().expect("headers");
    match headers.inner().get(name) {
        Some(AMQPValue::LongString(value)) => value.to_string(),
        other => panic!("{name} header: {other:?}"),
    }
}

/// `127.0.0.1:port` of the app, for raw TCP connections.
fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// The head of a signed `POST ISSUE_CREATED` for `tenant-a` announcing `content_length` bytes.
fn request_head(app: &TestApp, content_length: usize, webhook_id: &str) -> String {
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    format!(
        "POST {ISSUE_CREATED} HTTP/1.1\r\nHost: {}\r\nAuthorization: JWT {token}\r\n\
         Content-Type: application/json\r\nX-Atlassian-Webhook-Identifier: {webhook_id}\r\n\
         Content-Length: {content_length}\r\n",
        socket_address(app)
    )
}

/// The status code of a raw HTTP/1.1 answer, if any was read.
fn status_of(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    let line = text.lines().next()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `{"a":[[[...]]]}` with `depth` nested arrays.
fn deeply_nested(depth: usize) -> Vec<u8> {
    let mut body = b"{\"a\":".to_vec();
    body.extend(std::iter::repeat_n(b'[', depth));
    body.extend(std::iter::repeat_n(b']', depth));
    body.push(b'}');
    body
}

/// What holds today: a 100,000-deep body neither crashes the ingress nor gets a 5xx.
#[tokio::test]
async fn a_deeply_nested_body_does_not_crash_the_ingress() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let response = app
        .post_bytes(ISSUE_CREATED, Some(&token), &[], deeply_nested(100_000))
        .await;
    assert!(
        !response.status().is_server_error(),
        "got {}",
        response.status()
    );
    assert_healthy(&app).await;
    app.stop().await;
}

/// Reading the body as raw JSON skips nested values without serde_json's recursion limit (127
/// levels), which the worker's full parse has: the ingress checks the body with the same
/// parser and refuses deeper bodies with 400 `invalid_json`, enqueueing nothing.
#[tokio::test]
async fn a_deeply_nested_body_is_a_bad_request_and_the_ingress_survives() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let body = deeply_nested(100_000);
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let response = app.post_bytes(ISSUE_CREATED, Some(&token), &[], body).await;
    let text = assert_error(response, 400, "invalid_json").await;
    assert!(!text.contains(&token), "the token is never echoed");
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_token_issued_far_in_the_future_is_refused() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let year = 365 * 24 * 3600;
    let token = hs_token_with(
        &Claims {
            iss: Some("tenant-a".to_owned()),
            iat: Some(now() + year),
            exp: Some(now() + year + 180),
            qsh: Some(
                CanonicalRequest::new("POST", ISSUE_CREATED, "")
                    .qsh()
                    .to_string(),
            ),
            ..Claims::default()
        },
        "secret-a",
    );
    let response = app
        .post_bytes(ISSUE_CREATED, Some(&token), &[], b"{}".to_vec())
        .await;
    let text = assert_error(response, 401, "jwt_iat_future").await;
    assert!(!text.contains(&token), "the token is never echoed");
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_large_headers_is_refused_without_enqueueing() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let mut request = request_head(&app, 2, "wh-flood");
    let value = "a".repeat(8 * 1024);
    for i in 0..200 {
        request.push_str(&format!("X-Flood-{i}: {value}\r\n"));
    }
    request.push_str("\r\n{}");

    let mut stream = TcpStream::connect(socket_address(&app))
        .await
        .expect("connects");
    // The server may close the connection before it has read everything: that is a refusal.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    if let Some(status) = status_of(&answer) {
        assert!(
            (400..500).contains(&status),
            "a 4xx (431 or 400) or a closed connection, got {status}"
        );
    }
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_slow_body_gets_no_2xx_and_other_clients_are_served_meanwhile() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let mut slow = TcpStream::connect(socket_address(&app))
        .await
        .expect("connects");
    let head = format!("{}\r\n{{\"a\":\"", request_head(&app, 1000, "wh-slow"));
    slow.write_all(head.as_bytes()).await.expect("head sent");

    for second in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        slow.write_all(b"xx").await.expect("a trickle of bytes");
        if second == 2 {
            let started = Instant::now();
            let response = app
                .post_webhook(
                    "tenant-a",
                    "secret-a",
                    ISSUE_CREATED,
                    b"{}",
                    Some("wh-fast"),
                )
                .await;
            assert_eq!(response.status(), 202, "the normal client is served");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "the normal client waited {:?}",
                started.elapsed()
            );
        }
    }
    // The slow request is incomplete: whatever the server said so far is not a 2xx.
    let mut answer = vec![0; 1024];
    if let Ok(Ok(read)) =
        tokio::time::timeout(Duration::from_millis(300), slow.read(&mut answer)).await
    {
        if let Some(status) = status_of(&answer[..read]) {
            assert!(!(200..300).contains(&status), "slow body answered {status}");
        }
    }
    drop(slow);

    // Only the normal webhook reached the queue.
    let messages = app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1, "only the complete webhook is enqueued");
    assert_eq!(
        messages[0]
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string()),
        Some("wh-fast".to_owned())
    );
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

/// A client that announces a body and then stalls is answered 408 and its connection closed
/// once `server.read_timeout_secs` (10 s by default) has passed; nothing is enqueued.
#[tokio::test]
async fn a_stalled_body_is_cut_off_within_a_bounded_time() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let mut slow = TcpStream::connect(socket_address(&app))
        .await
        .expect("connects");
    let head = format!("{}\r\n{{\"a\":\"", request_head(&app, 1000, "wh-stalled"));
    slow.write_all(head.as_bytes()).await.expect("head sent");
    let mut answer = Vec::new();
    let outcome =
        tokio::time::timeout(Duration::from_secs(60), slow.read_to_end(&mut answer)).await;
    assert!(
        outcome.is_ok(),
        "the server still holds a stalled upload open after 60 s"
    );
    assert_eq!(
        status_of(&answer),
        Some(408),
        "a stalled upload is a request timeout: {}",
        String::from_utf8_lossy(&answer)
    );
    assert!(String::from_utf8_lossy(&answer).contains("request_timeout"));
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

/// A client that stalls halfway through its headers has its connection closed after the same
/// bounded time, without an answer (there is no request to answer yet).
#[tokio::test]
async fn stalled_headers_are_cut_off_within_a_bounded_time() {
    let app = spawn_app().await;
    let mut slow = TcpStream::connect(socket_address(&app))
        .await
        .expect("connects");
    let head = format!(
        "POST {ISSUE_CREATED} HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
        socket_address(&app)
    );
    slow.write_all(head.as_bytes())
        .await
        .expect("partial head sent");
    let mut answer = Vec::new();
    let outcome =
        tokio::time::timeout(Duration::from_secs(60), slow.read_to_end(&mut answer)).await;
    assert!(
        outcome.is_ok(),
        "the server still holds a connection with stalled headers after 60 s"
    );
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_cannot_tag_its_event_as_another_tenant() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    app.install_tenant("tenant-b", "secret-b").await;

    // B signs its own request (iss = B) but names A everywhere it can: query, headers, body.
    let target = format!("{ISSUE_CREATED}?clientKey=tenant-a&client_key=tenant-a");
    let token = hs_token("tenant-b", "secret-b", "POST", &target);
    let body =
        br#"{"clientKey":"tenant-a","client_key":"tenant-a","webhookEvent":"jira:issue_created"}"#;
    let response = app
        .post_bytes(
            &target,
            Some(&token),
            &[
                ("X-Atlassian-Webhook-Identifier", "wh-b-as-a"),
                ("client_key", "tenant-a"),
                ("X-Client-Key", "tenant-a"),
            ],
            body.to_vec(),
        )
        .await;
    assert_eq!(response.status(), 202);

    let messages = app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(header_string(&messages[0], headers::CLIENT_KEY), "tenant-b");
    let QueueMessage::EventV1(envelope) =
        QueueMessage::from_bytes(&messages[0].data).expect("an envelope");
    assert_eq!(
        envelope.tenant.to_string(),
        "tenant-b",
        "the verified iss, always"
    );
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn installs_pointing_at_internal_or_look_alike_hosts_are_refused() {
    let app = spawn_app().await;
    for base_url in [
        "http://localhost",
        "https://localhost",
        "http://[::1]",
        "https://[::1]",
        "https://10.0.0.1",
        "https://127.0.0.1",
        "https://169.254.169.254",
        "https://evil.atlassian.net.attacker.com",
        "https://evil.atlassian.net@attacker.com",
    ] {
        let mut body = install_body("tenant-a", "secret-a");
        body["baseUrl"] = base_url.into();
        let token = signed_install_token("tenant-a", "/installed");
        let response = app.post("/installed", Some(&token), &body).await;
        let text = assert_error(response, 403, "base_url_not_allowed").await;
        assert!(!text.contains("secret-a"), "{base_url}: no secret echoed");
        assert!(app.tenant("tenant-a").await.is_none(), "{base_url} stored");
    }
    assert_nothing_enqueued(&app).await;
    assert_healthy(&app).await;
    app.stop().await;
}

//! Request bodies as real clients send them: chunked (proxies, tunnels, HTTP/2 front ends and
//! Node send bodies without `Content-Length`), large (Jira sends up to 25 MB and never
//! retries a 413), refused early on a kept-alive connection, and many large ones at once.
mod support;

use std::time::Duration;

use common::connect::{Claims, Qsh};
use serde_json::{json, Value};
use support::raw_http::{Body, KeepAliveClient, Request, Response};
use support::{hs_token, hs_token_with, now, spawn_app_with, TestApp, TestOptions};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";
const FIXTURE: &str =
    include_str!("../../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json");

fn address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// A signed `POST ISSUE_CREATED` of tenant-a with `body`.
fn webhook(webhook_id: &str, body: Body) -> Request {
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let authorization = format!("JWT {token}");
    Request::post(
        ISSUE_CREATED,
        &[
            ("Authorization", &authorization),
            ("Content-Type", "application/json"),
            ("X-Atlassian-Webhook-Identifier", webhook_id),
        ],
        body,
    )
}

/// The real issue-created capture with its description grown to at least `size` bytes.
fn issue_created_of_size(size: usize) -> Vec<u8> {
    let mut payload: Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    payload["issue"]["fields"]["description"] = json!("Steps to reproduce. ".repeat(size / 20));
    serde_json::to_vec(&payload).expect("serialises")
}

fn assert_status(response: &Response, status: u16, code: Option<&str>) {
    assert_eq!(response.status, status, "answer: {}", response.text());
    if let Some(code) = code {
        let body: Value = serde_json::from_slice(&response.body).expect("a JSON error body");
        assert_eq!(body["code"], code, "answer: {}", response.text());
    }
}

async fn app_with(limit: Option<u64>, extra_env: Vec<(&'static str, String)>) -> TestApp {
    let app = spawn_app_with(TestOptions {
        body_limit_bytes: limit,
        extra_env,
        ..TestOptions::default()
    })
    .await;
    app.install_tenant("tenant-a", "secret-a").await;
    app
}

#[tokio::test]
async fn a_chunked_webhook_is_accepted_and_queued_byte_for_byte() {
    let app = app_with(None, Vec::new()).await;
    let mut client = KeepAliveClient::new(&address(&app));
    let payload = FIXTURE.as_bytes();
    let parts = payload.chunks(700).map(<[u8]>::to_vec).collect();
    let response = client
        .send(&webhook("wh-chunked", Body::Chunked(parts)))
        .await
        .expect("an answer");
    assert_status(&response, 202, None);
    let queued = app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(queued.len(), 1);
    let message: Value = serde_json::from_slice(&queued[0].data).expect("JSON");
    let sent: Value = serde_json::from_slice(payload).expect("JSON");
    assert_eq!(message["event.v1"]["payload"], sent);
    app.stop().await;
}

#[tokio::test]
async fn chunked_lifecycle_and_api_bodies_are_read_too() {
    let app = app_with(None, Vec::new()).await;
    let mut client = KeepAliveClient::new(&address(&app));
    let install = serde_json::to_vec(&support::install_body("tenant-b", "secret-b")).expect("json");
    let authorization = format!(
        "JWT {}",
        support::signed_install_token("tenant-b", "/installed")
    );
    let parts = install.chunks(50).map(<[u8]>::to_vec).collect();
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Content-Type", "application/json"),
    ];
    let response = client
        .send(&Request::post("/installed", &headers, Body::Chunked(parts)))
        .await
        .expect("an answer");
    assert_status(&response, 204, None);
    assert!(app.tenant("tenant-b").await.is_some());

    let claims = Claims {
        iss: Some("tenant-a".into()),
        iat: Some(now()),
        exp: Some(now() + 180),
        qsh: Some(Qsh::CONTEXT.into()),
        ..Claims::default()
    };
    let authorization = format!("JWT {}", hs_token_with(&claims, "secret-a"));
    let preview = json!({"template": "Hi {{ issue.key }}", "event": "jira:issue_created"});
    let preview = serde_json::to_vec(&preview).expect("json");
    let parts = preview.chunks(10).map(<[u8]>::to_vec).collect();
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Content-Type", "application/json"),
    ];
    let response = client
        .send(&Request::post(
            "/api/rules/preview",
            &headers,
            Body::Chunked(parts),
        ))
        .await
        .expect("an answer");
    assert_status(&response, 200, None);
    assert_eq!(client.connections, 1, "both kept one connection alive");
    app.stop().await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_off_with_413_and_counted() {
    let app = app_with(Some(4096), Vec::new()).await;
    let mut client = KeepAliveClient::new(&address(&app));
    let parts = vec![vec![b' '; 3000], vec![b' '; 3000]];
    let response = client
        .send(&webhook("wh-too-big", Body::Chunked(parts)))
        .await
        .expect("an answer");
    assert_status(&response, 413, Some("body_too_large"));
    assert!(response.closes(), "the rest of the body is unread");
    assert!(app
        .drain_work_queue(Duration::from_millis(300))
        .await
        .is_empty());
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"hookline_webhook_bodies_too_large_total{event="jira:issue_created",product="jira"} 1"#
        ),
        "{metrics}"
    );
    app.stop().await;
}

/// The request after an early answer on a kept-alive connection must succeed: 413 on an
/// announced length, 401 before the body was read, 404 for an unknown route with a body.
#[tokio::test]
async fn the_request_after_an_early_answer_on_a_kept_alive_connection_succeeds() {
    let app = app_with(Some(16_384), Vec::new()).await;
    let mut client = KeepAliveClient::new(&address(&app));
    let small = FIXTURE.as_bytes().to_vec();
    let cases = [
        (
            webhook("wh-early-1", Body::Length(issue_created_of_size(32_768))),
            413,
        ),
        (
            Request::post(
                ISSUE_CREATED,
                &[("Authorization", "JWT not.a.token")],
                Body::Length(small.clone()),
            ),
            401,
        ),
        (
            Request::post("/no/such/route", &[], Body::Length(small.clone())),
            404,
        ),
    ];
    for (n, (early, status)) in cases.iter().enumerate() {
        let response = client.send(early).await.expect("an answer");
        assert_status(&response, *status, None);
        let next = client
            .send(&webhook(
                &format!("wh-next-{n}"),
                Body::Length(small.clone()),
            ))
            .await
            .unwrap_or_else(|e| panic!("the request after a {status} failed: {e}"));
        assert_status(&next, 202, None);
    }
    assert_eq!(app.drain_work_queue(Duration::from_secs(5)).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_two_mebibyte_issue_created_is_accepted_with_the_default_limit() {
    let app = app_with(None, Vec::new()).await;
    let payload = issue_created_of_size(2 * 1024 * 1024);
    assert!(payload.len() > 2 * 1024 * 1024);
    let response = app
        .post_webhook(
            "tenant-a",
            "secret-a",
            ISSUE_CREATED,
            &payload,
            Some("wh-big"),
        )
        .await;
    assert_eq!(response.status(), 202);
    let queued = app.drain_work_queue(Duration::from_secs(10)).await;
    assert_eq!(queued.len(), 1);
    assert!(queued[0].data.len() > payload.len());
    app.stop().await;
}

/// With one large-body slot, a second large body waits until the first lets go of it (here:
/// when its stalled upload is cut off), while small bodies never wait.
#[tokio::test]
async fn a_large_body_waits_for_the_slot_of_another_and_small_ones_do_not() {
    let env = vec![
        ("HOOKLINE_SERVER__LARGE_BODY_BYTES", "16384".to_owned()),
        ("HOOKLINE_SERVER__LARGE_BODIES_AT_ONCE", "1".to_owned()),
        ("HOOKLINE_SERVER__READ_TIMEOUT_SECS", "3".to_owned()),
    ];
    let app = app_with(None, env).await;
    // A large upload that stalls after its first 20 KB holds the only slot.
    let mut stalled = tokio::net::TcpStream::connect(address(&app))
        .await
        .expect("connects");
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let head = format!(
        "POST {ISSUE_CREATED} HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {token}\r\nContent-Length: 100000\r\n\r\n{{\"a\":\"{}",
        "x".repeat(20_000)
    );
    tokio::io::AsyncWriteExt::write_all(&mut stalled, head.as_bytes())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let large = tokio::spawn({
        let address = address(&app);
        async move {
            let mut client = KeepAliveClient::new(&address);
            let large = webhook("wh-large", Body::Length(issue_created_of_size(32_768)));
            client.send(&large).await.expect("an answer")
        }
    });
    let mut client = KeepAliveClient::new(&address(&app));
    let small = client
        .send(&webhook(
            "wh-small",
            Body::Length(FIXTURE.as_bytes().to_vec()),
        ))
        .await
        .expect("an answer");
    assert_status(&small, 202, None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !large.is_finished(),
        "the second large body did not wait for the slot"
    );

    let mut answer = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stalled, &mut answer).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"));
    let large = large.await.expect("the large request's task");
    assert_status(&large, 202, None);
    assert_eq!(app.drain_work_queue(Duration::from_secs(5)).await.len(), 2);
    app.stop().await;
}

/// The read timeout applies to chunked bodies as it does to announced ones.
#[tokio::test]
async fn a_stalled_chunked_body_times_out_with_408() {
    let env = vec![("HOOKLINE_SERVER__READ_TIMEOUT_SECS", "2".to_owned())];
    let app = app_with(None, env).await;
    let mut stream = tokio::net::TcpStream::connect(address(&app))
        .await
        .expect("connects");
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let head = format!(
        "POST {ISSUE_CREATED} HTTP/1.1\r\nHost: x\r\nAuthorization: JWT {token}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"a\":"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .expect("sent");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer),
    )
    .await;
    assert!(read.is_ok(), "the stalled upload was not cut off");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    app.stop().await;
}

//! The table behind the `attacks_jwt_*.rs` tests: forged and malformed webhook JWTs against the
//! running ingress. Every case is a valid Jira webhook (the real `jira:issue_created` fixture, a
//! unique `X-Atlassian-Webhook-Identifier`) whose token differs from a valid one in exactly one
//! way. Each case names the status and JSON error `code` the ingress answers (see
//! `common/src/connect/error.rs` for the codes and `ingress/src/errors.rs` for the statuses:
//! every refused token is 401, only lookup or key trouble on our side is 503). A refused case
//! must enqueue nothing, an accepted one exactly its own message; at the end the queue is empty
//! and `/healthz` answers.
//!
//! The cases are split by kind of attack, each file running its own table against its own
//! ingress: `attacks_jwt_alg.rs` (alg none, algorithm confusion, header fields),
//! `attacks_jwt_claims.rs` (secrets of two tenants, `iss`, `aud`, `exp`, `iat`),
//! `attacks_jwt_qsh.rs` (the controls, `qsh`, replay elsewhere) and `attacks_jwt_malformed.rs`
//! (malformed tokens, schemes, headers and the query parameter, a body that is not UTF-8).
#![allow(dead_code)] // each test file uses a different subset

pub mod tokens;

use std::time::{Duration, Instant};

use common::amqp::headers;
use common::envelope::QueueMessage;
use lapin::types::AMQPValue;
use serde_json::Value;

use crate::support::{spawn_app, TestApp};

pub const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";
pub const ISSUE_UPDATED: &str = "/webhooks/jira/jira:issue_updated";
pub const COMMENT_CREATED: &str = "/webhooks/jira/comment_created";
pub const TENANT_A: &str = "tenant-a";
pub const SECRET_A: &str = "secret-a-0123456789abcdef";
pub const TENANT_B: &str = "tenant-b";
pub const SECRET_B: &str = "secret-b-0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// One request of a case: where it goes, its `Authorization` values (in order), and its body
/// (`None`: the fixture).
pub struct Attempt {
    pub target: String,
    pub authorization: Vec<String>,
    pub body: Option<Vec<u8>>,
}

impl Attempt {
    /// `POST ISSUE_CREATED` with `Authorization: JWT <token>`.
    pub fn jwt(token: String) -> Self {
        Self::to(ISSUE_CREATED, token)
    }

    /// `POST target` with `Authorization: JWT <token>`.
    pub fn to(target: &str, token: String) -> Self {
        Self::authorization(target, vec![format!("JWT {token}")])
    }

    /// `POST target` with these `Authorization` header values (none, one or several).
    pub fn authorization(target: &str, values: Vec<String>) -> Self {
        Self {
            target: target.to_owned(),
            authorization: values,
            body: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// 202 and exactly this case's message on the work queue.
    Accepted,
    /// This status and JSON error code, and nothing enqueued.
    Refused(u16, &'static str),
}

pub struct Case {
    name: String,
    build: Box<dyn Fn() -> Attempt>,
    expect: Expect,
}

pub fn case(
    name: impl Into<String>,
    expect: Expect,
    build: impl Fn() -> Attempt + 'static,
) -> Case {
    Case {
        name: name.into(),
        build: Box::new(build),
        expect,
    }
}

pub fn unauthorized(code: &'static str) -> Expect {
    Expect::Refused(401, code)
}

// ---------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------

pub fn fixture() -> Vec<u8> {
    std::fs::read(format!(
        "{}/../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `Err` unless the work queue is empty.
pub async fn nothing_enqueued(app: &TestApp) -> Result<(), String> {
    match app.drain_work_queue(Duration::from_millis(300)).await.len() {
        0 => Ok(()),
        n => Err(format!("{n} message(s) left on the work queue at the end")),
    }
}

/// `Err` unless `/healthz` answers 200 within 5 s.
pub async fn healthy(app: &TestApp) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(5), app.get("/healthz")).await {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(response) => Err(format!("/healthz answered {}", response.status())),
        Err(_) => Err("/healthz did not answer within 5 s".to_owned()),
    }
}

pub fn client_key_header(message: &lapin::message::BasicGetMessage) -> Option<String> {
    let headers = message.properties.headers().as_ref()?;
    match headers.inner().get(headers::CLIENT_KEY) {
        Some(AMQPValue::LongString(value)) => Some(value.to_string()),
        _ => None,
    }
}

/// Sends one case and checks the answer and the queue; `Err` says what went wrong.
pub async fn run(app: &TestApp, case: &Case, webhook_id: &str) -> Result<String, String> {
    let attempt = (case.build)();
    let mut headers = vec![("X-Atlassian-Webhook-Identifier", webhook_id)];
    headers.extend(
        attempt
            .authorization
            .iter()
            .map(|v| ("Authorization", v.as_str())),
    );
    let body = attempt.body.unwrap_or_else(fixture);
    let response = app.post_bytes(&attempt.target, None, &headers, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = json["code"].as_str().unwrap_or_default().to_owned();
    let observed = format!("{status} {code}");

    for value in &attempt.authorization {
        let token = value.split_once(' ').map_or("", |(_, token)| token.trim());
        if token.len() >= 16 && text.contains(token) {
            return Err(format!("{observed}: the answer echoes the token"));
        }
    }
    match case.expect {
        Expect::Accepted => {
            if status != 202 || json["eventId"].as_str().is_none() {
                return Err(format!(
                    "expected 202 with an eventId, got {status}: {text}"
                ));
            }
            let messages = app.drain_work_queue(Duration::from_secs(5)).await;
            let ids: Vec<Option<String>> = messages
                .iter()
                .map(|m| m.properties.message_id().as_ref().map(|id| id.to_string()))
                .collect();
            if ids != [Some(webhook_id.to_owned())] {
                return Err(format!("accepted, but the queue held {ids:?}"));
            }
            let QueueMessage::EventV1(envelope) = QueueMessage::from_bytes(&messages[0].data)
                .map_err(|e| format!("accepted, but the message is no envelope: {e}"))?;
            let header = client_key_header(&messages[0]);
            if envelope.tenant.to_string() != TENANT_A || header.as_deref() != Some(TENANT_A) {
                return Err(format!(
                    "accepted as {:?} (header {header:?}), not as {TENANT_A}",
                    envelope.tenant
                ));
            }
            Ok("202".to_owned())
        }
        Expect::Refused(want_status, want_code) => {
            // Publishing is confirmed before any 2xx, so a leak is on the queue by now.
            let leaked = app.drain_work_queue(Duration::ZERO).await.len();
            if status != want_status || code != want_code {
                return Err(format!(
                    "expected {want_status} {want_code}, got {status}: {text}{}",
                    if leaked > 0 {
                        format!(" and {leaked} message(s) enqueued")
                    } else {
                        String::new()
                    }
                ));
            }
            if json["message"].as_str().unwrap_or_default().is_empty() {
                return Err(format!("{observed}: the error body has no message: {text}"));
            }
            if leaked > 0 {
                return Err(format!("{observed}, but {leaked} message(s) were enqueued"));
            }
            Ok(observed)
        }
    }
}

/// Runs `cases` against a fresh ingress with tenants A and B installed, as the table of the
/// test file of this `kind` of attack (its webhook ids are `attack-jwt-<kind>-<index>`), and
/// asserts that every case got its documented answer, nothing was left on the work queue and
/// `/healthz` still answers.
pub async fn run_cases(kind: &str, cases: Vec<Case>) {
    let app = spawn_app().await;
    app.install_tenant(TENANT_A, SECRET_A).await;
    app.install_tenant(TENANT_B, SECRET_B).await;

    let started = Instant::now();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let webhook_id = format!("attack-jwt-{kind}-{i:03}");
        match run(&app, case, &webhook_id).await {
            Ok(observed) => println!("ok   {observed:<28} {}", case.name),
            Err(problem) => {
                println!("FAIL {:<28} {}", "", case.name);
                failures.push(format!("case {i} `{}`: {problem}", case.name));
            }
        }
    }
    println!("{} cases in {:?}", cases.len(), started.elapsed());
    // Checked whatever the cases did, and reported with them.
    for check in [nothing_enqueued(&app).await, healthy(&app).await] {
        if let Err(problem) = check {
            failures.push(format!("after the cases: {problem}"));
        }
    }
    app.stop().await;
    assert!(
        failures.is_empty(),
        "{} problem(s) in {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

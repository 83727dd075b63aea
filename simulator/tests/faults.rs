//! Fault injection: failures, rate limits, latency and dropped connections, per tenant.
mod support;

use std::time::{Duration, Instant};

use common::tenant::ProductType;
use serde_json::json;
use simulator::{Endpoint, Fault, FaultKind, ProductSim};
use support::TestTenant;

const COMMENT: &str = "/rest/api/2/issue/KAN-1/comment";

fn comment() -> Option<serde_json::Value> {
    Some(json!({ "body": "hello" }))
}

#[tokio::test]
async fn a_500_fault_fails_one_request_then_the_retry_succeeds() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    sim.inject(
        "jira-1",
        Fault::once(Endpoint::Comment, FaultKind::Status(500)),
    );

    let failed = jira.send("POST", COMMENT, comment()).await;
    let retried = jira.send("POST", COMMENT, comment()).await;

    assert_eq!(
        (failed.status().as_u16(), retried.status().as_u16()),
        (500, 201)
    );
    assert_eq!(sim.comments("jira-1").len(), 1);
    let statuses: Vec<u16> = sim.requests("jira-1").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 201]);
}

#[tokio::test]
async fn a_rate_limit_fault_answers_429_with_retry_after_and_is_recorded() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let rate_limit = FaultKind::RetryAfter {
        status: 429,
        seconds: 7,
    };
    sim.inject("jira-1", Fault::once(Endpoint::Any, rate_limit));

    let response = jira.send("POST", COMMENT, comment()).await;

    assert_eq!(response.status(), 429);
    let header = |name| {
        response
            .headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("retry-after"), "7");
    assert_eq!(header("x-ratelimit-remaining"), "0");
    assert!(response.headers().contains_key("x-ratelimit-reset"));
    assert!(sim.comments("jira-1").is_empty());
    let requests = sim.requests("jira-1");
    assert_eq!((requests[0].status, requests[0].jwt.clone()), (429, Ok(())));
}

#[tokio::test]
async fn a_fault_only_hits_its_endpoint_and_clear_faults_removes_it() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    sim.inject(
        "jira-1",
        Fault::always(Endpoint::Label, FaultKind::Status(503)),
    );
    let labels = Some(json!({ "update": { "labels": [{ "add": "x" }] } }));

    let comment_status = jira.send("POST", COMMENT, comment()).await.status();
    let label_status = jira
        .send("PUT", "/rest/api/2/issue/KAN-1", labels.clone())
        .await
        .status();
    sim.clear_faults("jira-1");
    let cleared_status = jira
        .send("PUT", "/rest/api/2/issue/KAN-1", labels)
        .await
        .status();

    assert_eq!(
        [
            comment_status.as_u16(),
            label_status.as_u16(),
            cleared_status.as_u16()
        ],
        [201, 503, 204]
    );
}

#[tokio::test]
async fn a_latency_fault_delays_the_answer() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let delay = Duration::from_millis(300);
    sim.inject(
        "jira-1",
        Fault::once(Endpoint::Comment, FaultKind::Latency(delay)),
    );

    let started = Instant::now();
    let response = jira.send("POST", COMMENT, comment()).await;

    assert!(started.elapsed() >= delay);
    assert_eq!(response.status(), 201);
    assert_eq!(sim.comments("jira-1").len(), 1);
}

#[tokio::test]
async fn the_global_latency_delays_every_tenant() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let wiki = TestTenant::add(&sim, "wiki-1", ProductType::Confluence);
    sim.set_latency(Duration::from_millis(150));

    let started = Instant::now();
    jira.send("GET", COMMENT, None).await;
    wiki.send("GET", "/api/v2/pages/1/footer-comments", None)
        .await;

    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_dropped_connection_makes_the_client_fail_and_changes_nothing() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    sim.inject(
        "jira-1",
        Fault::once(Endpoint::Comment, FaultKind::DropConnection),
    );
    let token = jira.token("POST", COMMENT);

    let dropped = jira
        .try_send_with("POST", COMMENT, comment(), Some(&token))
        .await;
    let next = jira.send("POST", COMMENT, comment()).await;

    let error = dropped.expect_err("the connection is dropped without an answer");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    assert_eq!(next.status(), 201);
    assert_eq!(sim.comments("jira-1").len(), 1);
    let statuses: Vec<u16> = sim.requests("jira-1").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 201]);
}

#[tokio::test]
async fn a_fault_is_not_consumed_by_a_request_with_a_bad_token() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    sim.inject(
        "jira-1",
        Fault::once(Endpoint::Comment, FaultKind::Status(500)),
    );
    let bad = jira.token_with_secret("POST", COMMENT, "wrong");

    let refused = jira.send_with("POST", COMMENT, comment(), Some(&bad)).await;
    let faulted = jira.send("POST", COMMENT, comment()).await;

    assert_eq!(
        (refused.status().as_u16(), faulted.status().as_u16()),
        (401, 500)
    );
}

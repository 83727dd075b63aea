//! What operators rely on: health and readiness, Prometheus metrics without tenant labels, the
//! descriptor, and a shutdown that drains in-flight requests.
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{
    assert_error, eventually, hs_token, spawn_app, spawn_app_with, TestOptions, APP_BASE_URL,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";

/// The value of the sample `name{labels}` (exactly as rendered), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Every label value of every sample.
fn label_values(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| Some(line.split_once('{')?.1.rsplit_once('}')?.0))
        .flat_map(|labels| labels.split("\","))
        .filter_map(|pair| pair.split_once("=\""))
        .map(|(_, value)| value.trim_end_matches('"').to_owned())
        .collect()
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_with_the_database_and_broker_up() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"status": "ready", "database": "up", "broker": "up"})
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_documented_series_and_no_tenant_labels() {
    let app = spawn_app().await;
    app.install_tenant("tenant-secretive", "secret-a").await;
    let response = app
        .post_webhook("tenant-secretive", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_eq!(response.status(), 202);
    let response = app
        .post_webhook("tenant-secretive", "wrong", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 401, "jwt_bad_signature").await;

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    let metrics = response.text().await.expect("text");

    let expect = |series: &str, at_least: f64| {
        let value = sample(&metrics, series)
            .unwrap_or_else(|| panic!("{series} is missing from\n{metrics}"));
        assert!(
            value >= at_least,
            "{series} = {value}, expected ≥ {at_least}"
        );
    };
    expect(
        r#"hookline_http_requests_total{route="webhook",status="202"}"#,
        1.0,
    );
    expect(
        r#"hookline_http_requests_total{route="webhook",status="401"}"#,
        1.0,
    );
    expect(
        r#"hookline_http_requests_total{route="installed",status="204"}"#,
        1.0,
    );
    expect(
        r#"hookline_jwt_rejections_total{protocol="connect",reason="jwt_bad_signature"}"#,
        1.0,
    );
    expect(
        r#"hookline_publish_confirm_duration_seconds_count{outcome="ack"}"#,
        1.0,
    );
    expect(
        r#"hookline_lifecycle_total{event="installed",outcome="ok"}"#,
        1.0,
    );
    expect(
        r#"hookline_lifecycle_total{event="enabled",outcome="ok"}"#,
        1.0,
    );
    expect(
        r#"hookline_events_accepted_total{product="jira",protocol="connect"}"#,
        1.0,
    );
    assert_eq!(sample(&metrics, "hookline_broker_connected"), Some(1.0));
    assert!(metrics.contains("# TYPE hookline_publish_confirm_duration_seconds histogram"));

    assert!(!label_values(&metrics).is_empty());
    for value in label_values(&metrics) {
        assert!(
            !value.contains("tenant"),
            "a label holds a clientKey: {value}"
        );
    }
    assert!(
        !metrics.contains("tenant-secretive") && !metrics.contains("secret-a"),
        "no clientKey or secret anywhere in the metrics"
    );
    app.stop().await;
}

#[tokio::test]
async fn each_product_has_its_descriptor_and_every_url_it_hands_out_is_served() {
    let app = spawn_app().await;
    for (product, webhook_count) in [("jira", 4), ("confluence", 4)] {
        let response = app.get(&format!("/{product}/atlassian-connect.json")).await;
        assert_eq!(response.status(), 200);
        let descriptor: Value = response.json().await.expect("json");
        assert_eq!(descriptor["key"], "hookline");
        assert_eq!(descriptor["baseUrl"], APP_BASE_URL);
        assert_eq!(descriptor["authentication"]["type"], "jwt");
        let lifecycle = |event: &str| format!("/{product}/{event}");
        assert_eq!(
            descriptor["lifecycle"],
            json!({
                "installed": lifecycle("installed"),
                "uninstalled": lifecycle("uninstalled"),
                "enabled": lifecycle("enabled"),
                "disabled": lifecycle("disabled"),
            })
        );
        assert_eq!(descriptor["apiMigrations"]["signed-install"], true);
        assert_eq!(descriptor["scopes"], json!(["READ", "WRITE"]));
        let webhooks = descriptor["modules"]["webhooks"]
            .as_array()
            .expect("webhook modules");
        assert_eq!(webhooks.len(), webhook_count, "{webhooks:?}");
        // Every URL the descriptor hands out is served: webhooks answer 401 without a token,
        // lifecycle callbacks 400 for an empty body, never 404.
        for webhook in webhooks {
            let url = webhook["url"].as_str().expect("a url");
            assert!(url.starts_with(&format!("/webhooks/{product}/")), "{url}");
            let response = app.post_bytes(url, None, &[], b"{}".to_vec()).await;
            assert_error(response, 401, "jwt_missing").await;
        }
        for event in ["installed", "uninstalled", "enabled", "disabled"] {
            let url = descriptor["lifecycle"][event].as_str().expect("a url");
            let response = app.post_bytes(url, None, &[], b"{}".to_vec()).await;
            assert_error(response, 400, "invalid_payload").await;
        }
    }
    // With both products served, the unscoped descriptor says where each one is.
    let response = app.get("/atlassian-connect.json").await;
    let text = assert_error(response, 404, "descriptor_per_product").await;
    assert!(text.contains("/jira/atlassian-connect.json") && text.contains("/confluence/"));
    app.stop().await;
}

#[tokio::test]
async fn a_deployment_for_one_product_keeps_the_plain_descriptor_url() {
    let app = spawn_app_with(TestOptions {
        extra_env: vec![(
            "HOOKLINE_APP__WEBHOOKS",
            "jira:jira:issue_created,jira:comment_created".to_owned(),
        )],
        ..TestOptions::default()
    })
    .await;
    let plain: Value = app
        .get("/atlassian-connect.json")
        .await
        .json()
        .await
        .expect("json");
    let jira: Value = app
        .get("/jira/atlassian-connect.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(plain, jira);
    assert_eq!(
        plain["modules"]["webhooks"].as_array().map(Vec::len),
        Some(2)
    );
    let response = app.get("/confluence/atlassian-connect.json").await;
    assert_error(response, 404, "product_not_served").await;
    app.stop().await;
}

#[tokio::test]
async fn an_install_through_a_products_descriptor_must_come_from_that_product() {
    let app = spawn_app().await;
    // A Jira site's signed install, sent to the Confluence descriptor's lifecycle URL.
    let token = support::signed_install_token("tenant-a", "/confluence/installed");
    let body = support::install_body("tenant-a", "secret-a");
    let response = app.post("/confluence/installed", Some(&token), &body).await;
    assert_error(response, 403, "product_mismatch").await;
    assert!(app.tenant("tenant-a").await.is_none());
    let token = support::signed_install_token("tenant-a", "/jira/installed");
    let response = app.post("/jira/installed", Some(&token), &body).await;
    assert_eq!(response.status(), 204);
    assert!(app.tenant("tenant-a").await.is_some());
    app.stop().await;
}

/// Reads from `stream` until `needle` has arrived (or the peer closes), within 10 s.
async fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0_u8; 4096];
        while !String::from_utf8_lossy(&received).contains(needle) {
            let n = stream.read(&mut buffer).await.expect("read");
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server answers within 10 s");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn shutdown_drains_an_in_flight_webhook_then_refuses_new_connections_and_stops() {
    let mut app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let token = hs_token("tenant-a", "secret-a", "POST", ISSUE_CREATED);
    let body = br#"{"webhookEvent":"jira:issue_created"}"#;

    // Headers first, with `Expect: 100-continue`: the server answers `100 Continue` once the
    // handler starts reading the body, so the request is provably in flight.
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST {ISSUE_CREATED} HTTP/1.1\r\nHost: {address}\r\nAuthorization: JWT {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let interim = read_until(&mut stream, "\r\n\r\n").await;
    assert!(interim.starts_with("HTTP/1.1 100"), "got {interim:?}");

    app.shutdown.cancel();
    eventually(
        "the listener refuses new connections",
        Duration::from_secs(10),
        || {
            let address = address.clone();
            async move { TcpStream::connect(&address).await.is_err().then_some(()) }
        },
    )
    .await;

    stream.write_all(body).await.expect("write the body");
    let answer = read_until(&mut stream, "}").await;
    assert!(
        answer.starts_with("HTTP/1.1 202"),
        "the in-flight webhook completes: {answer}"
    );
    assert!(
        app.stopped_within(Duration::from_secs(10)).await,
        "run_until_stopped returns once the in-flight request is done"
    );
    let queued = app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(queued.len(), 1, "the drained webhook was enqueued");
    app.stop().await;
}

/// Runs `sql` on the admin database (the one test databases are created from).
async fn admin(sql: &str) {
    use sea_orm::ConnectionTrait;
    let admin = sea_orm::Database::connect(common::testing::admin_url())
        .await
        .expect("the admin database");
    admin.execute_unprepared(sql).await.expect(sql);
    let _ = admin.close().await;
}

#[tokio::test]
async fn a_database_outage_answers_503_never_401_and_readiness_follows_it() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    app.install_tenant("tenant-b", "secret-b").await;
    // tenant-a's webhook puts it in the tenant cache; tenant-b is only in the database.
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_eq!(response.status(), 202);

    let name = &app.database_name;
    admin(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
    ))
    .await;
    admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;

    let body: Value = eventually(
        "readiness reports the database down",
        Duration::from_secs(30),
        || async {
            let response = app.get("/readyz").await;
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            (status == 503).then_some(body)
        },
    )
    .await;
    assert_eq!(body["database"], "down");
    assert_eq!(body["broker"], "up");

    let response = app
        .post_webhook("tenant-b", "secret-b", ISSUE_CREATED, b"{}", None)
        .await;
    assert!(response.headers().contains_key("retry-after"));
    let text = assert_error(response, 503, "tenant_lookup_failed").await;
    assert!(!text.contains("secret"), "{text}");
    // A cached tenant keeps flowing: verifying and publishing need no database.
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_eq!(response.status(), 202);

    admin(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")).await;
    eventually("readiness is back", Duration::from_secs(30), || async {
        (app.get("/readyz").await.status() == 200).then_some(())
    })
    .await;
    let response = app
        .post_webhook("tenant-b", "secret-b", ISSUE_CREATED, b"{}", None)
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(app.drain_work_queue(Duration::from_secs(5)).await.len(), 3);
    app.stop().await;
}

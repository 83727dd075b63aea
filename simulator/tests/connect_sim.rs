//! ConnectSim against the real ingress (PostgreSQL, RabbitMQ): descriptor, signed and legacy
//! installs, webhooks onto the work queue, refusal after uninstall. Retries are in
//! `connect_retries.rs`.
mod connect_support;

use std::time::Duration;

use common::tenant::ProductType;
use connect_support::{fast, spawn_ingress};
use simulator::payloads::{self, FIXTURES};
use simulator::{ConnectSim, InstallMode};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn the_descriptor_of_the_real_ingress_is_fetched() {
    let app = spawn_ingress(true).await;

    let descriptor = app.sim.fetch_descriptor(ProductType::Jira).await.unwrap();

    assert_eq!(descriptor["key"], "hookline");
    assert_eq!(descriptor["baseUrl"], app.sim.app_base_url());
    assert_eq!(descriptor["lifecycle"]["installed"], "/jira/installed");
    assert_eq!(descriptor["apiMigrations"]["signed-install"], true);
}

#[tokio::test]
async fn a_signed_install_and_enable_let_a_webhook_through_to_the_work_queue() {
    let app = spawn_ingress(true).await;
    let tenant = app
        .sim
        .install("jira-signed-1", ProductType::Jira, InstallMode::Signed)
        .await
        .unwrap();
    app.sim.enable(&tenant).await.unwrap();
    assert!(
        app.sim.key_fetches() >= 1,
        "the ingress fetched the install key"
    );
    assert_eq!(
        app.product.base_url("jira-signed-1"),
        Some(tenant.base_url.clone())
    );

    let payload = payloads::jira_issue_created("KAN-1", "Hello", "KAN");
    let report = app
        .sim
        .send_webhook(&tenant, "jira:issue_created", &payload, fast())
        .await
        .unwrap();

    assert_eq!(report.attempts, [202]);
    assert!(report.accepted);
    let events = app.drain_work_queue(WAIT).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.tenant.to_string(), "jira-signed-1");
    assert_eq!(event.event, "jira:issue_created");
    assert_eq!(
        event.webhook_id.as_deref(),
        Some(report.webhook_id.as_str())
    );
    assert_eq!((event.retry, event.flow.as_deref()), (0, Some("Primary")));
    let received: serde_json::Value = serde_json::from_str(event.payload.get()).unwrap();
    assert_eq!(received, payload);
}

#[tokio::test]
async fn every_captured_payload_flows_through_to_the_work_queue() {
    let app = spawn_ingress(true).await;
    let mut tenants = Vec::new();
    for (client_key, product) in [
        ("jira-all", ProductType::Jira),
        ("conf-all", ProductType::Confluence),
    ] {
        let tenant = app
            .sim
            .install(client_key, product, InstallMode::Signed)
            .await
            .unwrap();
        app.sim.enable(&tenant).await.unwrap();
        tenants.push(tenant);
    }
    assert!(tenants[1].base_url.ends_with("/wiki"));

    for (file, product, event) in FIXTURES {
        let tenant = tenants
            .iter()
            .find(|t| t.product.as_str() == *product)
            .unwrap();
        let payload = payloads::fixture(file).unwrap();
        let report = app
            .sim
            .send_webhook(tenant, event, &payload, fast())
            .await
            .unwrap();
        assert_eq!(report.attempts, [202], "{file}");
    }

    let mut events = Vec::new();
    while events.len() < FIXTURES.len() {
        let batch = app.drain_work_queue(WAIT).await;
        assert!(!batch.is_empty(), "only {} events arrived", events.len());
        events.extend(batch);
    }
    for (_, product, event) in FIXTURES {
        assert!(events
            .iter()
            .any(|e| e.product.as_str() == *product && e.event == *event));
    }
}

#[tokio::test]
async fn a_legacy_install_then_a_legacy_reinstall_are_accepted() {
    let app = spawn_ingress(false).await;
    let first = app
        .sim
        .install("jira-legacy-1", ProductType::Jira, InstallMode::Legacy)
        .await
        .unwrap();
    app.sim.enable(&first).await.unwrap();

    let second = app
        .sim
        .reinstall(&first, InstallMode::Legacy)
        .await
        .unwrap();

    assert_ne!(second.shared_secret, first.shared_secret);
    let payload = payloads::jira_issue_created("KAN-2", "After re-install", "KAN");
    let event = "jira:issue_created";
    let report = app
        .sim
        .send_webhook(&second, event, &payload, fast())
        .await
        .unwrap();
    assert_eq!(report.attempts, [202]);
    let stale = app
        .sim
        .send_webhook(&first, event, &payload, fast())
        .await
        .unwrap();
    assert_eq!(
        stale.attempts,
        [401],
        "the old secret is retired and a 401 is not retried"
    );
    // `install` of a client key installed before is a re-install, signed with its secret.
    let third = app
        .sim
        .install("jira-legacy-1", ProductType::Jira, InstallMode::Legacy)
        .await
        .unwrap();
    assert_ne!(third.shared_secret, second.shared_secret);
}

#[tokio::test]
async fn an_unsigned_legacy_install_of_a_known_client_key_is_refused_as_a_takeover() {
    let app = spawn_ingress(false).await;
    app.sim
        .install("jira-legacy-2", ProductType::Jira, InstallMode::Legacy)
        .await
        .unwrap();
    // Another "Atlassian" that never installed this site sends a first install without JWT.
    let intruder = ConnectSim::start(app.sim.app_base_url(), app.product.clone()).await;

    let error = intruder
        .install("jira-legacy-2", ProductType::Jira, InstallMode::Legacy)
        .await
        .unwrap_err()
        .to_string();

    assert!(
        error.contains("403") && error.contains("install_takeover"),
        "{error}"
    );
}

#[tokio::test]
async fn after_uninstall_a_webhook_gets_403_and_jira_does_not_retry_it() {
    let app = spawn_ingress(true).await;
    let tenant = app
        .sim
        .install("jira-gone-1", ProductType::Jira, InstallMode::Signed)
        .await
        .unwrap();
    app.sim.enable(&tenant).await.unwrap();
    app.sim
        .uninstall(&tenant, InstallMode::Signed)
        .await
        .unwrap();

    let payload = payloads::jira_comment_created("KAN-3", "anyone?");
    let report = app
        .sim
        .send_webhook(&tenant, "comment_created", &payload, fast())
        .await
        .unwrap();

    assert_eq!(report.attempts, [403]);
    assert!(!report.accepted);
    assert!(app
        .drain_work_queue(Duration::from_millis(500))
        .await
        .is_empty());
}

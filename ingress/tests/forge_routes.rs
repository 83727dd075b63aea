//! The Forge routes as Forge calls them (docs/forge.md §4–§6): lifecycle events register the
//! installation as a tenant, product events are queued under it (flat or wrapped), the
//! scheduled trigger keeps its system token fresh, preUninstall stops it, a reinstall on the
//! same site brings the same tenant back, and what hookline does not handle gets a clear answer.
mod support;

use std::time::Duration;

use common::forge::InstallationId;
use common::tenant::{ProductType, Tenant, TenantState};
use serde_json::{json, Value};
use simulator::forge::payloads;
use simulator::{ForgeSendOptions, ForgeSite};
use support::assert_error;
use support::forge::{spawn_forge_app, spawn_forge_app_with, ForgeTestApp};
use support::TestOptions;

const QUEUE_WAIT: Duration = Duration::from_secs(5);

async fn tenant(app: &ForgeTestApp, site: &ForgeSite) -> Option<Tenant> {
    let installation = InstallationId::parse(&site.installation_id).expect("an installation id");
    app.app
        .state
        .stores
        .tenants
        .find_forge(&installation, site.product)
        .await
        .expect("the tenant store answers")
}

fn fast(app: &ForgeTestApp) {
    app.forge.set_lifecycle_options(ForgeSendOptions::fast());
}

#[tokio::test]
async fn installed_registers_the_installation_as_a_tenant_with_its_token() {
    let app = spawn_forge_app().await;
    fast(&app);
    let (site, delivery) = app
        .forge
        .install("acme", ProductType::Jira)
        .await
        .expect("installs");
    assert_eq!(delivery.attempts, [200]);
    let tenant = tenant(&app, &site).await.expect("registered");
    assert_eq!(
        tenant.client_key.as_str(),
        format!("forge:{}:jira", site.cloud_id)
    );
    assert_eq!(tenant.state, TenantState::Enabled);
    assert!(
        !tenant.has_connect(),
        "no sharedSecret: a Forge-only tenant"
    );
    let forge = tenant.forge.expect("a Forge identity");
    assert_eq!(forge.cloud_id.as_str(), site.cloud_id);
    assert_eq!(forge.api_base_url, site.api_base_url);
    let token = forge.token.expect("the system token was kept");
    assert_eq!(token.expose(), app.forge.system_token(&site));
    app.app.stop().await;
}

#[tokio::test]
async fn a_product_event_is_queued_flat_or_wrapped_even_before_installed_arrives() {
    let app = spawn_forge_app().await;
    // `installed` may come minutes after the first events: the first event registers too.
    let site = app.site("acme", ProductType::Jira);
    for wrapped in [true, false] {
        let options = ForgeSendOptions {
            wrapped,
            ..ForgeSendOptions::fast()
        };
        let payload = payloads::jira_issue_created("KAN-1", "A", "KAN");
        let delivery = app
            .forge
            .send_event(&site, payload, options)
            .await
            .expect("delivers");
        assert_eq!(delivery.attempts, [202], "wrapped: {wrapped}");
    }
    let queued = app.app.drain_work_queue(QUEUE_WAIT).await;
    assert_eq!(queued.len(), 2);
    assert!(tenant(&app, &site).await.is_some());
    let metrics = app.app.metrics().await;
    assert!(
        metrics.contains("hookline_events_accepted_total{product=\"jira\",protocol=\"forge\"} 2"),
        "{metrics}"
    );
    app.app.stop().await;
}

#[tokio::test]
async fn the_scheduled_trigger_keeps_the_fresher_token_only() {
    let app = spawn_forge_app().await;
    fast(&app);
    let (site, _) = app
        .forge
        .install("acme", ProductType::Confluence)
        .await
        .expect("installs");
    let first = app.forge.system_token(&site);
    // A token minted a second later expires a second later: the fresher one.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let fresh = app.forge.rotate_system_token(&site);
    assert_ne!(first, fresh);
    let delivery = app.forge.refresh(&site).await.expect("refreshes");
    assert_eq!(delivery.attempts, [200]);
    let stored = tenant(&app, &site)
        .await
        .and_then(|t| t.forge?.token)
        .expect("a token");
    assert_eq!(stored.expose(), fresh);

    // A late call with the older token does not bring it back.
    let fit = app.forge.mint_fit(&site, &app.forge.app().refresh_key);
    let response = app
        .app
        .client
        .post(app.app.url("/forge/refresh"))
        .bearer_auth(&fit)
        .header("x-forge-oauth-system", &first)
        .json(&json!({}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let stored = tenant(&app, &site)
        .await
        .and_then(|t| t.forge?.token)
        .expect("a token");
    assert_eq!(stored.expose(), fresh);
    app.app.stop().await;
}

#[tokio::test]
async fn pre_uninstall_stops_the_tenant_and_a_reinstall_brings_it_back() {
    let app = spawn_forge_app().await;
    fast(&app);
    let (site, _) = app
        .forge
        .install("acme", ProductType::Jira)
        .await
        .expect("installs");
    let before = tenant(&app, &site).await.expect("registered");
    let delivery = app.forge.pre_uninstall(&site).await.expect("calls");
    assert_eq!(delivery.attempts, [200]);
    assert_eq!(
        tenant(&app, &site).await.expect("kept").state,
        TenantState::Uninstalled
    );
    let response = app
        .event(&site, &payloads::jira_issue_created("KAN-1", "A", "KAN"))
        .await;
    assert_error(response, 403, "tenant_inactive").await;

    // The admin installs the app again: a new installation on the same site keeps the tenant
    // (and its rules), active again.
    let (again, delivery) = app.forge.reinstall(&site).await.expect("reinstalls");
    assert_eq!(delivery.attempts, [200]);
    assert_ne!(again.installation_id, site.installation_id);
    let after = tenant(&app, &again).await.expect("registered");
    assert_eq!(after.client_key, before.client_key);
    assert_eq!(after.state, TenantState::Enabled);
    let response = app
        .event(&again, &payloads::jira_issue_created("KAN-2", "B", "KAN"))
        .await;
    assert_eq!(response.status(), 202);
    app.app.stop().await;
}

#[tokio::test]
async fn hooklines_own_confluence_comment_coming_back_is_answered_and_not_queued() {
    let app = spawn_forge_app().await;
    let site = app.site("acme", ProductType::Confluence);
    let mut event = payloads::confluence_comment_created("9001", "4242", "page", "Notes", "ENG");
    event["selfGenerated"] = json!(true);
    let response = app.event(&site, &event).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"status": "ignored", "reason": "self_generated"})
    );
    assert!(app
        .app
        .drain_work_queue(Duration::from_millis(500))
        .await
        .is_empty());
    let metrics = app.app.metrics().await;
    assert!(
        metrics.contains(
            "hookline_events_ignored_total{product=\"confluence\",reason=\"self_generated\"} 1"
        ),
        "{metrics}"
    );
    app.app.stop().await;
}

#[tokio::test]
async fn events_hookline_cannot_take_get_a_clear_error() {
    let options = TestOptions {
        body_limit_bytes: Some(64 * 1024),
        ..TestOptions::default()
    };
    let app = spawn_forge_app_with(options).await;
    let site = app.site("acme", ProductType::Jira);
    let cases = [
        (
            json!({"eventType": "avi:jira:mentioned:comment"}),
            400,
            "unknown_event",
        ),
        (json!({"payload": [1, 2]}), 400, "invalid_event"),
        (json!({"issue": {"key": "KAN-1"}}), 400, "invalid_event"),
        // Mapped, but not among app.webhooks (deleted issues are not subscribed by default).
        (payloads::jira_issue_deleted("KAN-1"), 404, "unknown_event"),
    ];
    for (body, status, code) in cases {
        let response = app.event(&site, &body).await;
        assert_error(response, status, code).await;
    }
    let mut large = payloads::jira_issue_created("KAN-1", "A", "KAN");
    large["issue"]["fields"]["description"] = json!("x".repeat(128 * 1024));
    assert_error(app.event(&site, &large).await, 413, "body_too_large").await;
    assert!(app
        .app
        .drain_work_queue(Duration::from_millis(500))
        .await
        .is_empty());
    app.app.stop().await;
}

#[tokio::test]
async fn a_connect_install_cannot_take_a_forge_tenants_key() {
    let app = spawn_forge_app().await;
    let response = app
        .app
        .install("forge:2b2d6a7c:jira", "a-shared-secret-that-is-long-enough")
        .await;
    assert_eq!(
        response.status(),
        400,
        "{}",
        response.text().await.unwrap_or_default()
    );
    app.app.stop().await;
}

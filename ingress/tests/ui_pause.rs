//! Pausing and resuming a site from its admin pages: `POST /api/pause|resume` (a Connect
//! context token) and `POST /forge/ui/pause|resume` (a Forge Invocation Token), for site
//! admins only; the site-wide activity says whether the site is paused and how many events
//! are held; and a paused site's webhooks are still accepted and published.
mod support;
mod ui_support;

use std::time::Duration;

use common::envelope::{EventEnvelope, QueueMessage};
use common::tenant::{ClientKey, ProductType};
use reqwest::Method;
use serde_json::{json, Value};
use simulator::{ForgeSendOptions, ForgeSite};
use support::assert_error;
use support::forge::{spawn_forge_app, ForgeTestApp};
use ui_support::{spawn_ui_app, ADMIN, USER};

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "answer: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, got {text:?}"))
}

fn ck(raw: &str) -> ClientKey {
    ClientKey::parse(raw).expect("a client key")
}

#[tokio::test]
async fn a_site_admin_pauses_and_resumes_the_site_and_its_webhooks_are_still_accepted() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let other = ui.install("jira-b", "secret-b", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    ui.sim.set_admins("jira-b", &[ADMIN]);
    let admin = site.context_token(Some(ADMIN));
    let user = site.context_token(Some(USER));

    let activity = json_of(
        ui.api(Method::GET, "/api/activity", Some(&user), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        activity["pause"],
        json!({"paused": false, "pausedAt": null, "held": 0})
    );

    // Only a site admin, with a token the product signed for this very API.
    let refused = ui.api(Method::POST, "/api/pause", Some(&user), None).await;
    assert_error(refused, 403, "not_admin").await;
    let anonymous = site.context_token(None);
    let refused = ui
        .api(Method::POST, "/api/pause", Some(&anonymous), None)
        .await;
    assert_error(refused, 403, "no_user").await;
    let refused = ui.api(Method::POST, "/api/pause", None, None).await;
    assert_error(refused, 401, "jwt_missing").await;
    let page_load = site.page_token("/pages/activity", Some(ADMIN));
    let refused = ui
        .api(Method::POST, "/api/pause", Some(&page_load), None)
        .await;
    assert_error(refused, 401, "jwt_qsh_mismatch").await;
    let tenants = &ui.app.state.stores.tenants;
    assert_eq!(tenants.paused_since(&ck("jira-a")).await.unwrap(), None);

    let paused = json_of(
        ui.api(Method::POST, "/api/pause", Some(&admin), None).await,
        200,
    )
    .await;
    assert_eq!(
        (&paused["paused"], &paused["held"]),
        (&json!(true), &json!(0))
    );
    let since = tenants
        .paused_since(&ck("jira-a"))
        .await
        .unwrap()
        .expect("paused");
    assert_eq!(paused["pausedAt"], json!(since));
    assert_eq!(
        tenants.paused_since(&ck("jira-b")).await.unwrap(),
        None,
        "only the caller's site"
    );
    let again = json_of(
        ui.api(Method::POST, "/api/pause", Some(&admin), None).await,
        200,
    )
    .await;
    assert_eq!(
        again["pausedAt"],
        json!(since),
        "pausing twice changes nothing"
    );

    // The webhook path is unchanged: accepted and published, for the worker to hold.
    let body = br#"{"webhookEvent": "jira:issue_created", "issue": {"key": "KAN-1"}}"#;
    let accepted = ui
        .app
        .post_webhook(
            "jira-a",
            "secret-a",
            "/webhooks/jira/jira:issue_created",
            body,
            Some("wh-paused-1"),
        )
        .await;
    assert_eq!(
        accepted.status(),
        202,
        "a paused site's webhooks are accepted"
    );
    let published = ui.app.drain_work_queue(Duration::from_secs(5)).await;
    assert_eq!(published.len(), 1, "and published");
    let QueueMessage::EventV1(event) =
        QueueMessage::from_bytes(&published[0].delivery.data).expect("a queue message");
    hold(&ui.app.state.stores.held, &event).await;

    let activity = json_of(
        ui.api(Method::GET, "/api/activity", Some(&user), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        activity["pause"],
        json!({"paused": true, "pausedAt": since, "held": 1})
    );
    let panel = json_of(
        ui.api(
            Method::GET,
            "/api/activity?issueKey=KAN-1",
            Some(&user),
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(
        panel.get("pause").is_none(),
        "only the site-wide answer: {panel}"
    );

    let other_admin = other.context_token(Some(ADMIN));
    let resumed_b = json_of(
        ui.api(Method::POST, "/api/resume", Some(&other_admin), None)
            .await,
        200,
    )
    .await;
    assert_eq!(resumed_b["paused"], false);
    assert!(
        tenants.paused_since(&ck("jira-a")).await.unwrap().is_some(),
        "another site's admin cannot resume this one"
    );

    let refused = ui.api(Method::POST, "/api/resume", Some(&user), None).await;
    assert_error(refused, 403, "not_admin").await;
    let resumed = json_of(
        ui.api(Method::POST, "/api/resume", Some(&admin), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        resumed,
        json!({"paused": false, "pausedAt": null, "held": 1}),
        "resumed, its held event waiting for the releaser"
    );
    assert_eq!(tenants.paused_since(&ck("jira-a")).await.unwrap(), None);
    ui.app.stop().await;
}

/// Holds `event` as a worker would (the ingress runs none).
async fn hold(held: &common::held::HeldEvents, event: &EventEnvelope) {
    let client_key = ck(&event.tenant.to_string());
    held.hold(&client_key, event).await.expect("held");
}

/// A site whose installation hookline registered, with `ADMIN`.
async fn installed(app: &ForgeTestApp, name: &str) -> ForgeSite {
    app.forge.set_lifecycle_options(ForgeSendOptions::fast());
    let (site, delivery) = app
        .forge
        .install(name, ProductType::Jira)
        .await
        .expect("installs");
    assert_eq!(delivery.attempts, [200], "installed is registered");
    app.forge.product().set_admins(&site.site_key, &[ADMIN]);
    site
}

#[tokio::test]
async fn a_forge_site_admin_pauses_and_resumes_through_the_custom_ui_api() {
    let app = spawn_forge_app().await;
    let site = installed(&app, "acme").await;

    let refused = app
        .ui(Method::POST, "/forge/ui/pause", &site, Some(USER), None)
        .await;
    assert_error(refused, 403, "not_admin").await;
    let anonymous = app
        .ui(Method::POST, "/forge/ui/pause", &site, None, None)
        .await;
    assert_error(anonymous, 403, "no_user").await;
    let tenants = &app.app.state.stores.tenants;
    assert!(tenants.paused_client_keys().await.unwrap().is_empty());

    let paused = json_of(
        app.ui(Method::POST, "/forge/ui/pause", &site, Some(ADMIN), None)
            .await,
        200,
    )
    .await;
    assert_eq!(paused["paused"], true);
    let keys = tenants.paused_client_keys().await.unwrap();
    assert_eq!(keys.len(), 1, "the installation's tenant: {keys:?}");
    let activity = json_of(
        app.ui(Method::GET, "/forge/ui/activity", &site, Some(USER), None)
            .await,
        200,
    )
    .await;
    assert_eq!(activity["pause"]["paused"], true);
    assert_eq!(activity["pause"]["pausedAt"], paused["pausedAt"]);

    let resumed = json_of(
        app.ui(Method::POST, "/forge/ui/resume", &site, Some(ADMIN), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        resumed,
        json!({"paused": false, "pausedAt": null, "held": 0})
    );
    assert!(tenants.paused_client_keys().await.unwrap().is_empty());
    app.app.stop().await;
}

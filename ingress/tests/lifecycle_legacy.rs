//! The legacy install flow (no signed-install, docs/protocol.md §1): an unsigned install only for a
//! new clientKey; a signed one verified with the *stored* secret of its issuer.
mod support;

use common::connect::{CanonicalRequest, Claims, SharedSecret};
use common::tenant::TenantState;
use support::{
    assert_error, hs_token, hs_token_with, install_body, lifecycle_body, now, signed_install_token,
    spawn_app_with, TestApp, TestOptions,
};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";

async fn spawn_legacy_app() -> TestApp {
    spawn_app_with(TestOptions {
        signed_install: false,
        ..TestOptions::default()
    })
    .await
}

/// Installs `client_key` without a token (the legacy first install) and enables it.
async fn install_unsigned(app: &TestApp, client_key: &str, secret: &str) {
    let response = app
        .post("/installed", None, &install_body(client_key, secret))
        .await;
    assert_eq!(response.status(), 204, "unsigned install of {client_key}");
    assert_eq!(
        app.toggle("enabled", client_key, secret).await.status(),
        204
    );
}

async fn stored_secret(app: &TestApp, client_key: &str) -> String {
    let tenant = app.tenant(client_key).await.expect("the tenant is stored");
    tenant
        .shared_secret
        .as_ref()
        .expect("a Connect secret")
        .expose()
        .to_owned()
}

async fn webhook_status(app: &TestApp, secret: &str) -> u16 {
    app.post_webhook("tenant-a", secret, ISSUE_CREATED, b"{}", None)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_unsigned_install_of_a_new_client_key_is_saved() {
    let app = spawn_legacy_app().await;
    let response = app
        .post("/installed", None, &install_body("tenant-a", "secret-a"))
        .await;
    assert_eq!(response.status(), 204);
    let tenant = app.tenant("tenant-a").await.expect("stored");
    assert_eq!(tenant.state, TenantState::Installed);
    assert_eq!(tenant.shared_secret, Some(SharedSecret::new("secret-a")));
    app.stop().await;
}

#[tokio::test]
async fn an_unsigned_install_of_an_existing_client_key_is_a_takeover_and_refused() {
    let app = spawn_legacy_app().await;
    install_unsigned(&app, "tenant-a", "secret-a").await;

    let response = app
        .post("/installed", None, &install_body("tenant-a", "attacker"))
        .await;
    assert_error(response, 403, "install_takeover").await;
    assert_eq!(stored_secret(&app, "tenant-a").await, "secret-a");
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Enabled,
        "the refused install changed nothing"
    );
    assert_eq!(webhook_status(&app, "secret-a").await, 202);
    app.stop().await;
}

#[tokio::test]
async fn a_signed_install_from_an_unknown_issuer_is_saved_as_new() {
    let app = spawn_legacy_app().await;
    let token = hs_token("tenant-a", "secret-a", "POST", "/installed");
    let response = app
        .post(
            "/installed",
            Some(&token),
            &install_body("tenant-a", "secret-a"),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(stored_secret(&app, "tenant-a").await, "secret-a");

    // An RS256 signed-install token is only read for its iss here, like any legacy token.
    let token = signed_install_token("tenant-b", "/installed");
    let response = app
        .post(
            "/installed",
            Some(&token),
            &install_body("tenant-b", "secret-b"),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.key_server.hits(),
        0,
        "legacy mode fetches no install key"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_reinstall_signed_with_the_stored_secret_updates_the_secret() {
    let app = spawn_legacy_app().await;
    install_unsigned(&app, "tenant-a", "secret-a").await;
    assert_eq!(webhook_status(&app, "secret-a").await, 202);

    let token = hs_token("tenant-a", "secret-a", "POST", "/installed");
    let response = app
        .post(
            "/installed",
            Some(&token),
            &install_body("tenant-a", "secret-2"),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(stored_secret(&app, "tenant-a").await, "secret-2");

    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 401, "jwt_bad_signature").await;
    assert_eq!(webhook_status(&app, "secret-2").await, 202);
    app.stop().await;
}

#[tokio::test]
async fn a_reinstall_signed_with_anything_but_the_stored_secret_is_refused() {
    let app = spawn_legacy_app().await;
    install_unsigned(&app, "tenant-a", "secret-a").await;
    let body = install_body("tenant-a", "attacker");

    let wrong_secret = hs_token("tenant-a", "not-the-secret", "POST", "/installed");
    let wrong_path = hs_token("tenant-a", "secret-a", "POST", "/enabled");
    let expired = hs_token_with(
        &Claims {
            iss: Some("tenant-a".into()),
            iat: Some(now() - 3_600),
            exp: Some(now() - 3_420),
            qsh: Some(
                CanonicalRequest::new("POST", "/installed", "")
                    .qsh()
                    .to_string(),
            ),
            ..Claims::default()
        },
        "secret-a",
    );
    let rs256 = signed_install_token("tenant-a", "/installed");
    for (what, token) in [
        ("a wrong secret", wrong_secret),
        ("another request's qsh", wrong_path),
        ("an expired token", expired),
        ("an RS256 token", rs256),
    ] {
        let response = app.post("/installed", Some(&token), &body).await;
        let text = assert_error(response, 403, "install_takeover").await;
        assert!(!text.contains(&token), "{what}: the token is never echoed");
        assert_eq!(stored_secret(&app, "tenant-a").await, "secret-a", "{what}");
    }
    assert_eq!(webhook_status(&app, "secret-a").await, 202);
    app.stop().await;
}

#[tokio::test]
async fn an_install_token_whose_issuer_is_not_the_body_client_key_is_refused() {
    let app = spawn_legacy_app().await;
    install_unsigned(&app, "tenant-a", "secret-a").await;

    // tenant-b's valid token cannot install (or overwrite) tenant-a.
    install_unsigned(&app, "tenant-b", "secret-b").await;
    let token = hs_token("tenant-b", "secret-b", "POST", "/installed");
    let response = app
        .post(
            "/installed",
            Some(&token),
            &install_body("tenant-a", "attacker"),
        )
        .await;
    assert_error(response, 403, "install_issuer_mismatch").await;
    assert_eq!(stored_secret(&app, "tenant-a").await, "secret-a");

    // Nor can an unknown issuer's token install a new clientKey.
    let token = hs_token("tenant-x", "secret-x", "POST", "/installed");
    let response = app
        .post(
            "/installed",
            Some(&token),
            &install_body("tenant-c", "secret-c"),
        )
        .await;
    assert_error(response, 403, "install_issuer_mismatch").await;
    assert!(app.tenant("tenant-c").await.is_none());
    assert!(app.tenant("tenant-x").await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_legacy_uninstall_is_verified_with_the_stored_secret() {
    let app = spawn_legacy_app().await;
    install_unsigned(&app, "tenant-a", "secret-a").await;
    let body = lifecycle_body("tenant-a", "secret-a", "uninstalled");

    let response = app.post("/uninstalled", None, &body).await;
    assert_error(response, 401, "jwt_missing").await;
    let wrong = hs_token("tenant-a", "not-the-secret", "POST", "/uninstalled");
    let response = app.post("/uninstalled", Some(&wrong), &body).await;
    assert_error(response, 401, "jwt_bad_signature").await;
    let rs256 = signed_install_token("tenant-a", "/uninstalled");
    let response = app.post("/uninstalled", Some(&rs256), &body).await;
    assert_error(response, 401, "jwt_algorithm").await;
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Enabled
    );

    let token = hs_token("tenant-a", "secret-a", "POST", "/uninstalled");
    let response = app.post("/uninstalled", Some(&token), &body).await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.tenant("tenant-a").await.expect("data is kept").state,
        TenantState::Uninstalled
    );
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 403, "tenant_inactive").await;
    app.stop().await;
}

#[tokio::test]
async fn a_legacy_uninstall_signed_by_another_tenant_is_refused() {
    let app = spawn_legacy_app().await;
    install_unsigned(&app, "tenant-a", "secret-a").await;
    install_unsigned(&app, "tenant-b", "secret-b").await;
    let token = hs_token("tenant-b", "secret-b", "POST", "/uninstalled");
    let response = app
        .post(
            "/uninstalled",
            Some(&token),
            &lifecycle_body("tenant-a", "secret-a", "uninstalled"),
        )
        .await;
    assert_error(response, 403, "tenant_mismatch").await;
    for tenant in ["tenant-a", "tenant-b"] {
        assert_eq!(
            app.tenant(tenant).await.expect("stored").state,
            TenantState::Enabled,
            "{tenant}"
        );
    }
    app.stop().await;
}

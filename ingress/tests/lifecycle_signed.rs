//! The install lifecycle in signed-install mode (the default, docs/protocol.md §1): RS256 tokens
//! checked against the key server's key, then tenant state driven by every callback.
mod support;

use common::connect::SharedSecret;
use common::tenant::TenantState;
use support::{
    assert_error, hs_token, install_body, install_token, lifecycle_body, signed_install_token,
    spawn_app, spawn_app_with, ClosedPort, TestApp, TestOptions, APP_BASE_URL, INSTALL_PRIVATE_KEY,
    KID, OTHER_PRIVATE_KEY,
};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";

/// Sends `installed` for `tenant-a` with `token` and asserts it is refused with `status`/`code`
/// and that no tenant was stored.
async fn assert_install_refused(app: &TestApp, token: Option<&str>, status: u16, code: &str) {
    let response = app
        .post("/installed", token, &install_body("tenant-a", "secret-a"))
        .await;
    let body = assert_error(response, status, code).await;
    if let Some(token) = token {
        assert!(!body.contains(token), "the token is never echoed");
    }
    assert!(app.tenant("tenant-a").await.is_none(), "nothing is stored");
}

async fn webhook_status(app: &TestApp, secret: &str) -> u16 {
    app.post_webhook("tenant-a", secret, ISSUE_CREATED, b"{}", None)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_signed_install_stores_the_tenant_as_installed_and_enabled_then_marks_it_enabled() {
    let app = spawn_app().await;

    let response = app.install("tenant-a", "secret-a").await;
    assert_eq!(response.status(), 204);
    let tenant = app.tenant("tenant-a").await.expect("the tenant is stored");
    assert_eq!(tenant.state, TenantState::Installed);
    assert_eq!(tenant.shared_secret, Some(SharedSecret::new("secret-a")));
    assert_eq!(tenant.base_url, "https://tenant-a.atlassian.net");

    let response = app.toggle("enabled", "tenant-a", "secret-a").await;
    assert_eq!(response.status(), 204);
    let tenant = app.tenant("tenant-a").await.expect("the tenant is stored");
    assert_eq!(tenant.state, TenantState::Enabled);
    assert!(tenant.enabled_at.is_some());
    app.stop().await;
}

#[tokio::test]
async fn a_signed_install_for_another_audience_is_refused() {
    let app = spawn_app().await;
    let token = install_token(
        "tenant-a",
        "/installed",
        INSTALL_PRIVATE_KEY,
        KID,
        "https://other-app.example.com",
    );
    assert_install_refused(&app, Some(&token), 401, "jwt_wrong_aud").await;
    app.stop().await;
}

#[tokio::test]
async fn a_signed_install_whose_issuer_is_not_the_body_client_key_is_refused() {
    let app = spawn_app().await;
    let token = signed_install_token("tenant-b", "/installed");
    assert_install_refused(&app, Some(&token), 401, "jwt_wrong_iss").await;
    app.stop().await;
}

#[tokio::test]
async fn a_signed_install_with_a_key_id_unknown_to_the_key_server_is_refused() {
    let app = spawn_app().await;
    let token = install_token(
        "tenant-a",
        "/installed",
        INSTALL_PRIVATE_KEY,
        "no-such-key",
        APP_BASE_URL,
    );
    assert_install_refused(&app, Some(&token), 401, "install_key_unknown").await;
    assert_eq!(app.key_server.hits(), 1, "the key server was asked");
    app.stop().await;
}

#[tokio::test]
async fn a_signed_install_signed_with_another_private_key_under_the_known_kid_is_refused() {
    let app = spawn_app().await;
    let token = install_token(
        "tenant-a",
        "/installed",
        OTHER_PRIVATE_KEY,
        KID,
        APP_BASE_URL,
    );
    assert_install_refused(&app, Some(&token), 401, "jwt_bad_signature").await;
    app.stop().await;
}

#[tokio::test]
async fn an_install_without_authorization_is_refused() {
    let app = spawn_app().await;
    assert_install_refused(&app, None, 401, "jwt_missing").await;
    app.stop().await;
}

#[tokio::test]
async fn an_hs256_token_on_installed_is_refused_in_signed_install_mode() {
    let app = spawn_app().await;
    let token = hs_token("tenant-a", "secret-a", "POST", "/installed");
    assert_install_refused(&app, Some(&token), 401, "jwt_algorithm").await;
    assert_eq!(app.key_server.hits(), 0, "no key is fetched for it");
    app.stop().await;
}

#[tokio::test]
async fn a_signed_install_token_for_another_path_is_refused() {
    let app = spawn_app().await;
    let token = signed_install_token("tenant-a", "/uninstalled");
    assert_install_refused(&app, Some(&token), 401, "jwt_qsh_mismatch").await;
    app.stop().await;
}

#[tokio::test]
async fn a_reinstall_with_a_new_secret_retires_the_old_secret_at_once() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "old-secret").await;
    // A first webhook puts the tenant, with its old secret, in the cache.
    assert_eq!(webhook_status(&app, "old-secret").await, 202);

    let response = app.install("tenant-a", "new-secret").await;
    assert_eq!(response.status(), 204);

    let response = app
        .post_webhook("tenant-a", "old-secret", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 401, "jwt_bad_signature").await;
    assert_eq!(webhook_status(&app, "new-secret").await, 202);
    let tenant = app.tenant("tenant-a").await.expect("stored");
    assert_eq!(tenant.shared_secret, Some(SharedSecret::new("new-secret")));
    assert_eq!(tenant.state, TenantState::Installed);
    app.stop().await;
}

#[tokio::test]
async fn a_base_url_outside_the_allow_list_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    for base_url in [
        "https://evil.example.com",
        "http://169.254.169.254",
        "https://169.254.169.254/latest/meta-data",
        "https://atlassian.net.evil.example.com",
        "http://tenant-a.atlassian.net",
        "https://user:pw@tenant-a.atlassian.net",
    ] {
        let mut body = install_body("tenant-a", "secret-a");
        body["baseUrl"] = base_url.into();
        let token = signed_install_token("tenant-a", "/installed");
        let response = app.post("/installed", Some(&token), &body).await;
        let text = assert_error(response, 403, "base_url_not_allowed").await;
        assert!(!text.contains("secret-a"), "{base_url}: no secret echoed");
        assert!(app.tenant("tenant-a").await.is_none(), "{base_url} stored");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_install_for_another_app_key_is_a_bad_request() {
    let app = spawn_app().await;
    let mut body = install_body("tenant-a", "secret-a");
    body["key"] = "someone-elses-app".into();
    let token = signed_install_token("tenant-a", "/installed");
    let response = app.post("/installed", Some(&token), &body).await;
    assert_error(response, 400, "wrong_app_key").await;
    assert!(app.tenant("tenant-a").await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_lifecycle_body_that_is_not_a_lifecycle_payload_is_a_bad_request() {
    let app = spawn_app().await;
    let token = signed_install_token("tenant-a", "/installed");
    let mut no_client_key = install_body("tenant-a", "secret-a");
    no_client_key
        .as_object_mut()
        .expect("an object")
        .remove("clientKey");
    for body in [
        b"{not json".to_vec(),
        b"[1]".to_vec(),
        no_client_key.to_string().into_bytes(),
    ] {
        let response = app.post_bytes("/installed", Some(&token), &[], body).await;
        assert_error(response, 400, "invalid_payload").await;
    }
    assert!(app.tenant("tenant-a").await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_signed_uninstall_deactivates_the_tenant_and_its_webhooks_are_refused() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let body = lifecycle_body("tenant-a", "secret-a", "uninstalled");

    // An unsigned or HS256-signed uninstall is not enough in signed-install mode.
    let response = app.post("/uninstalled", None, &body).await;
    assert_error(response, 401, "jwt_missing").await;
    let hs256 = hs_token("tenant-a", "secret-a", "POST", "/uninstalled");
    let response = app.post("/uninstalled", Some(&hs256), &body).await;
    assert_error(response, 401, "jwt_algorithm").await;
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Enabled
    );

    let token = signed_install_token("tenant-a", "/uninstalled");
    let response = app.post("/uninstalled", Some(&token), &body).await;
    assert_eq!(response.status(), 204);
    let tenant = app.tenant("tenant-a").await.expect("data is kept");
    assert_eq!(tenant.state, TenantState::Uninstalled);
    assert!(tenant.uninstalled_at.is_some());

    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 403, "tenant_inactive").await;
    assert!(app
        .drain_work_queue(std::time::Duration::from_millis(300))
        .await
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_reinstall_after_uninstall_brings_the_tenant_back() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let token = signed_install_token("tenant-a", "/uninstalled");
    let body = lifecycle_body("tenant-a", "secret-a", "uninstalled");
    assert_eq!(
        app.post("/uninstalled", Some(&token), &body).await.status(),
        204
    );

    app.install_tenant("tenant-a", "secret-2").await;
    let tenant = app.tenant("tenant-a").await.expect("stored");
    assert_eq!(tenant.state, TenantState::Enabled);
    assert!(tenant.uninstalled_at.is_none());
    assert_eq!(webhook_status(&app, "secret-2").await, 202);
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_tenant_gets_its_webhooks_refused_until_enabled_again() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    assert_eq!(webhook_status(&app, "secret-a").await, 202);

    let response = app.toggle("disabled", "tenant-a", "secret-a").await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Disabled
    );
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 403, "tenant_inactive").await;

    let response = app.toggle("enabled", "tenant-a", "secret-a").await;
    assert_eq!(response.status(), 204);
    assert_eq!(webhook_status(&app, "secret-a").await, 202);
    let accepted = app
        .drain_work_queue(std::time::Duration::from_secs(5))
        .await;
    assert_eq!(
        accepted.len(),
        2,
        "only the two accepted webhooks are queued"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unsigned_disabled_after_uninstall_is_accepted_and_ignored() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let token = signed_install_token("tenant-a", "/uninstalled");
    let uninstalled = lifecycle_body("tenant-a", "secret-a", "uninstalled");
    assert_eq!(
        app.post("/uninstalled", Some(&token), &uninstalled)
            .await
            .status(),
        204
    );

    let disabled = lifecycle_body("tenant-a", "secret-a", "disabled");
    let response = app.post("/disabled", None, &disabled).await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Uninstalled,
        "the ignored disabled changes nothing"
    );

    // For a site never installed it is ignored too, and stores nothing.
    let response = app
        .post(
            "/disabled",
            None,
            &lifecycle_body("tenant-z", "secret-z", "disabled"),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert!(app.tenant("tenant-z").await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn only_a_reinstall_brings_an_uninstalled_tenant_back() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let token = signed_install_token("tenant-a", "/uninstalled");
    let uninstalled = lifecycle_body("tenant-a", "secret-a", "uninstalled");
    assert_eq!(
        app.post("/uninstalled", Some(&token), &uninstalled)
            .await
            .status(),
        204
    );

    // A signed `disabled` after the uninstall is accepted but must not hide the uninstall.
    let response = app.toggle("disabled", "tenant-a", "secret-a").await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Uninstalled
    );
    // An `enabled` signed with the retired secret must not reactivate the site.
    let response = app.toggle("enabled", "tenant-a", "secret-a").await;
    assert_error(response, 403, "tenant_uninstalled").await;
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Uninstalled
    );
    let response = app
        .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 403, "tenant_inactive").await;
    app.stop().await;
}

#[tokio::test]
async fn an_unsigned_disabled_for_an_active_tenant_is_refused() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let response = app
        .post(
            "/disabled",
            None,
            &lifecycle_body("tenant-a", "secret-a", "disabled"),
        )
        .await;
    assert_error(response, 401, "jwt_missing").await;
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Enabled
    );
    // Unsigned `enabled` is never accepted.
    let response = app
        .post(
            "/enabled",
            None,
            &lifecycle_body("tenant-a", "secret-a", "enabled"),
        )
        .await;
    assert_error(response, 401, "jwt_missing").await;
    app.stop().await;
}

#[tokio::test]
async fn a_toggle_signed_by_another_tenant_is_refused() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    app.install_tenant("tenant-b", "secret-b").await;
    // tenant-b's valid token, with tenant-a's body.
    let token = hs_token("tenant-b", "secret-b", "POST", "/disabled");
    let response = app
        .post(
            "/disabled",
            Some(&token),
            &lifecycle_body("tenant-a", "secret-a", "disabled"),
        )
        .await;
    assert_error(response, 403, "tenant_mismatch").await;
    assert_eq!(
        app.tenant("tenant-a").await.expect("stored").state,
        TenantState::Enabled
    );
    app.stop().await;
}

#[tokio::test]
async fn install_keys_are_fetched_once_and_then_served_from_the_cache() {
    let app = spawn_app().await;
    assert_eq!(app.install("tenant-a", "secret-a").await.status(), 204);
    assert_eq!(app.key_server.hits(), 1);
    assert_eq!(app.install("tenant-b", "secret-b").await.status(), 204);
    assert_eq!(app.install("tenant-a", "secret-a2").await.status(), 204);
    let token = signed_install_token("tenant-a", "/uninstalled");
    let response = app
        .post(
            "/uninstalled",
            Some(&token),
            &lifecycle_body("tenant-a", "secret-a2", "uninstalled"),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.key_server.hits(), 1, "the key was not fetched again");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_key_server_makes_the_install_retryable_with_503() {
    let closed = ClosedPort::new();
    let app = spawn_app_with(TestOptions {
        install_keys_url: Some(closed.url()),
        ..TestOptions::default()
    })
    .await;
    let token = signed_install_token("tenant-a", "/installed");
    let response = app
        .post(
            "/installed",
            Some(&token),
            &install_body("tenant-a", "secret-a"),
        )
        .await;
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().expect("ascii").to_owned());
    assert_error(response, 503, "install_key_unavailable").await;
    let seconds: u32 = retry_after
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After is seconds");
    assert!(seconds > 0);
    assert!(app.tenant("tenant-a").await.is_none());
    app.stop().await;
}

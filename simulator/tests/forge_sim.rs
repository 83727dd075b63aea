//! ForgeSim against a stub remote: the JWKS and the FITs verify as an app verifies them,
//! events carry what Forge sends and are retried as Forge retries, and the lifecycle (install,
//! reinstall, upgrade, scheduled trigger, uninstall) reaches the app as Forge sends it.
mod forge_support;

use std::time::Duration;

use common::tenant::ProductType;
use forge_support::{comment, forge, jira_site, verify, StubApp, APP_ID, HANG};
use jsonwebtoken::decode_header;
use serde_json::{json, Value};
use simulator::forge::{foreign_encoding_key, payloads, sign_with_key, FitOverrides};
use simulator::{ForgeApp, ForgeSendOptions, ForgeSim};

#[tokio::test]
async fn the_jwks_serves_the_key_a_fit_verifies_with_and_rotation_replaces_it() {
    let (_app, sim, _) = forge(&[]).await;
    let site = jira_site(&sim, "acme").await;

    let answer = reqwest::get(sim.jwks_url()).await.unwrap();
    assert_eq!(answer.headers()["cache-control"], "max-age=300");
    let jwks: Value = answer.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["use"], &key["alg"]),
        (&json!("RSA"), &json!("sig"), &json!("RS256"))
    );
    assert_eq!(key["kid"], sim.current_kid().as_str());

    let fit = sim.mint_fit(&site, "hookline-events");
    let header = decode_header(&fit).unwrap();
    assert_eq!(header.typ, None);
    assert!(header
        .kid
        .unwrap()
        .starts_with("forge/invocation-token/wf-"));
    let claims = verify(&sim, &fit).await.unwrap();
    assert_eq!(claims["app"]["id"], APP_ID);
    assert_eq!(
        claims["app"]["installationId"],
        site.installation_id.as_str()
    );
    assert_eq!(
        claims["app"]["installation"]["id"],
        site.installation_id.as_str()
    );
    assert_eq!(claims["app"]["apiBaseUrl"], site.api_base_url.as_str());
    let context = &claims["app"]["installation"]["contexts"][0];
    assert_eq!(context["cloudId"], site.cloud_id.as_str());
    assert_eq!(context["name"], "jira");
    assert_eq!(
        claims["app"]["module"],
        json!({ "type": "core:endpoint", "key": "hookline-events" })
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        25
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 40);
    assert!(site
        .api_base_url
        .ends_with(&format!("/ex/jira/{}", site.cloud_id)));

    let old_kid = sim.current_kid();
    let new_kid = sim.rotate_keys().await;
    assert_ne!(new_kid, old_kid);
    assert_eq!(sim.current_kid(), new_kid);
    let jwks = forge_support::jwks(&sim).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    assert_eq!(kids, [new_kid.as_str()]);
    assert!(verify(&sim, &sim.mint_fit(&site, "hookline-events"))
        .await
        .is_ok());
    assert!(verify(&sim, &fit).await.is_err(), "the old kid is gone");
    assert_eq!(sim.jwks_fetches(), 5);

    sim.set_jwks_available(false);
    assert_eq!(reqwest::get(sim.jwks_url()).await.unwrap().status(), 503);
    sim.set_jwks_available(true);
    sim.set_jwks_max_age(Duration::from_secs(3600));
    let answer = reqwest::get(sim.jwks_url()).await.unwrap();
    assert_eq!(answer.headers()["cache-control"], "max-age=3600");
}

#[tokio::test]
async fn attack_tokens_fail_verification() {
    let (_app, sim, _) = forge(&[]).await;
    let site = jira_site(&sim, "acme").await;
    let mint = |overrides: FitOverrides| sim.mint_fit_with(&site, "hookline-events", &overrides);
    let other_app = "ari:cloud:ecosystem::app/00000000-0000-4000-8000-000000000002";

    for token in [
        mint(FitOverrides::expired()),
        mint(FitOverrides::not_yet_valid()),
        mint(FitOverrides::audience(other_app)),
        mint(FitOverrides::unknown_kid()),
        mint(FitOverrides {
            issuer: Some("someone-else".into()),
            ..FitOverrides::default()
        }),
    ] {
        assert!(verify(&sim, &token).await.is_err());
    }
    let no_kid = mint(FitOverrides::without_kid());
    assert_eq!(decode_header(&no_kid).unwrap().kid, None);

    let claims = sim.fit_claims(&site, "hookline-events");
    let foreign = sign_with_key(
        &claims,
        Some(&sim.current_kid()),
        &foreign_encoding_key().await,
    );
    assert!(verify(&sim, &foreign).await.is_err());
    assert!(
        verify(&sim, &sim.sign_fit(&claims, Some(&sim.current_kid())))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn events_carry_a_fit_for_their_endpoint_the_b3_ids_and_the_system_token() {
    let (app, sim, _) = forge(&[]).await;
    let site = jira_site(&sim, "acme").await;
    let event = payloads::jira_issue_created("KAN-1", "Hello", "KAN");

    let delivery = sim
        .send_event(&site, event.clone(), ForgeSendOptions::fast())
        .await
        .unwrap();

    assert_eq!(
        (delivery.attempts.as_slice(), delivery.accepted),
        (&[202][..], true)
    );
    let received = app.received();
    assert_eq!(received.len(), 2);
    let installed = &received[0].body["payload"];
    assert_eq!(installed["eventType"], "avi:forge:installed:app");
    assert_eq!(installed["id"], site.installation_uuid());
    assert_eq!(
        installed["app"]["id"],
        "6e1a2c4b-0000-4000-8000-000000000001"
    );
    let request = &received[1];
    assert_eq!(request.path, "/forge/events");
    assert_eq!(request.body, json!({ "payload": event }));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-b3-traceid").unwrap().len(), 32);
    assert_eq!(request.header("x-b3-spanid").unwrap().len(), 16);
    assert_eq!(
        request.header("x-forge-oauth-system"),
        Some(sim.system_token(&site).as_str())
    );
    let claims = verify(&sim, request.fit()).await.unwrap();
    assert_eq!(claims["app"]["module"]["key"], "hookline-events");
    assert_ne!(received[0].fit(), request.fit());

    let without = ForgeSendOptions {
        with_system_token: false,
        ..ForgeSendOptions::fast()
    };
    sim.send_event(&site, event, without).await.unwrap();
    assert_eq!(app.received()[2].header("x-forge-oauth-system"), None);
}

#[tokio::test]
async fn a_failing_remote_gets_four_retries_with_their_retry_context() {
    let (app, sim, _) = forge(&[]).await;
    let site = jira_site(&sim, "acme").await;
    let app_500 = StubApp::start(&[500, 500, 500, 500, 500, 500]);
    let sim_500 = ForgeSim::start(ForgeApp::new(&app_500.url), APP_ID, sim.product().clone()).await;
    let site_500 = sim_500
        .install_without_event("acme-500", ProductType::Jira)
        .unwrap();
    let event = payloads::jira_issue_updated("KAN-1", "10001", "status", "To Do", "Done");

    let delivery = sim_500
        .send_event(&site_500, event.clone(), ForgeSendOptions::fast())
        .await
        .unwrap();

    assert_eq!(delivery.attempts, [500; 5]);
    assert!(!delivery.accepted);
    let received = app_500.received();
    assert_eq!(received.len(), 5);
    assert!(received[0].body["payload"].get("retryContext").is_none());
    let mut jtis = Vec::new();
    for (count, request) in received.iter().enumerate().skip(1) {
        let context = &request.body["payload"]["retryContext"];
        assert_eq!(
            *context,
            json!({ "retryCount": count, "retryReason": "INVALID_REMOTE_INVOCATION_ERROR",
                    "retryData": null })
        );
        assert_eq!(request.body["payload"]["issue"], event["issue"]);
        jtis.push(verify(&sim_500, request.fit()).await.unwrap()["jti"].clone());
    }
    let distinct: std::collections::HashSet<String> = jtis.iter().map(Value::to_string).collect();
    assert_eq!(distinct.len(), 4, "a fresh FIT per attempt");
    assert_eq!(
        app.received().len(),
        1,
        "only the installed event reached the other app"
    );
    drop(site);
}

#[tokio::test]
async fn a_timeout_is_retried_as_such_and_a_flat_body_has_the_retry_context_on_top() {
    let (app, sim, _) = forge(&[HANG]).await;
    let site = sim
        .install_without_event("acme", ProductType::Jira)
        .unwrap();
    let options = ForgeSendOptions {
        wrapped: false,
        timeout: Duration::from_millis(200),
        ..ForgeSendOptions::fast()
    };
    let event = payloads::confluence_page_created("123", "Title", "SP");

    let delivery = sim.send_event(&site, event.clone(), options).await.unwrap();

    assert_eq!(
        (delivery.attempts.as_slice(), delivery.final_status()),
        (&[0, 202][..], 202)
    );
    let received = app.received();
    assert_eq!(received[0].body, event);
    assert_eq!(received[1].body["eventType"], "avi:confluence:created:page");
    assert_eq!(
        received[1].body["retryContext"]["retryReason"],
        "TIMEOUT_ERROR"
    );
    assert_eq!(received[1].body["retryContext"]["retryCount"], 1);
}

#[tokio::test]
async fn refresh_reinstall_and_uninstall() {
    let (app, sim, product) = forge(&[]).await;
    let site = jira_site(&sim, "acme").await;
    let first_token = sim.system_token(&site);

    let refresh = sim.refresh(&site).await.unwrap();
    assert!(refresh.accepted);
    let received = app.received();
    let call = received.last().unwrap();
    assert_eq!(
        (call.path.as_str(), &call.body),
        ("/forge/refresh", &json!({}))
    );
    assert_eq!(
        call.header("x-forge-oauth-system"),
        Some(first_token.as_str())
    );
    let claims = verify(&sim, call.fit()).await.unwrap();
    assert_eq!(claims["app"]["module"]["key"], "hookline-refresh");

    let (again, delivery) = sim.reinstall(&site).await.unwrap();
    assert!(delivery.accepted);
    assert_eq!(
        (&again.cloud_id, &again.site_key),
        (&site.cloud_id, &site.site_key)
    );
    assert_ne!(again.installation_id, site.installation_id);
    assert_eq!(comment(&again, Some(&first_token)).await, 401);
    assert_eq!(comment(&again, Some(&sim.system_token(&again))).await, 201);
    assert_eq!(product.requests(&site.site_key).len(), 2);
    assert_eq!(sim.site(&site.site_key), Some(again.clone()));
    assert!(sim.install("acme", ProductType::Jira).await.is_err());

    let upgrade = sim.upgrade(&again).await.unwrap();
    assert!(upgrade.accepted);
    let upgraded = app.received().last().unwrap().clone();
    assert_eq!(
        upgraded.body["payload"]["eventType"],
        "avi:forge:upgraded:app"
    );
    assert_eq!(
        verify(&sim, upgraded.fit()).await.unwrap()["app"]["appVersion"],
        "2.0.0"
    );

    let uninstall = sim.uninstall(&again).await.unwrap();
    assert_eq!(uninstall.attempts, [202]);
    let call = app.received().last().unwrap().clone();
    assert_eq!(call.path, "/forge/uninstall");
    assert_eq!(call.body["context"]["cloudId"], site.cloud_id.as_str());
    assert_eq!(call.body["context"]["moduleKey"], "hookline-uninstall");
    assert!(call.body["contextToken"].is_string());
    assert_eq!(
        verify(&sim, call.fit()).await.unwrap()["app"]["module"]["key"],
        "hookline-uninstall"
    );
    assert_eq!(comment(&again, Some(&sim.system_token(&again))).await, 401);
    assert!(
        sim.install("acme", ProductType::Jira).await.is_ok(),
        "installable again"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_on_delivery() {
    let (app, sim, _) = forge(&[]).await;
    let site = sim
        .install_without_event("acme", ProductType::Jira)
        .unwrap();
    sim.set_token_lifetime(Duration::from_secs(2));
    let short = sim.rotate_system_token(&site);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    sim.refresh(&site).await.unwrap();

    let delivered = app.received()[0]
        .header("x-forge-oauth-system")
        .unwrap()
        .to_owned();
    assert_ne!(delivered, short, "less than half its lifetime was left");
    assert_eq!(delivered, sim.system_token(&site));
    sim.expire_system_tokens(&site);
    let expired = sim.system_token(&site);
    sim.refresh(&site).await.unwrap();
    assert_eq!(
        app.received()[1].header("x-forge-oauth-system"),
        Some(expired.as_str())
    );
}

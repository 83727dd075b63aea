//! Forged and misused Forge Invocation Tokens against the running ingress (docs/forge.md §2):
//! every check of the verifier is failed once, by a token that passes all the others, and
//! answers 401 naming that check. Tokens come from the simulator's Forge (its JWKS is the one
//! the ingress trusts), altered where the attack needs it.
mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::envelope::QueueMessage;
use common::tenant::{ProductType, TenantId};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use simulator::forge::{foreign_encoding_key, payloads, sign_with_key, FitOverrides};
use simulator::ForgeSite;
use support::assert_error;
use support::forge::{spawn_forge_app, spawn_forge_app_with, ForgeTestApp};
use support::TestOptions;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with `header` over `claims`, with `signature` as its third part.
fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn issue_created() -> Value {
    payloads::jira_issue_created("KAN-1", "An issue", "KAN")
}

/// One attack: a token (or none) and the error code it must get.
struct Attack {
    name: &'static str,
    authorization: Option<String>,
    code: &'static str,
}

fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// `Bearer` and `claims` signed with `alg` and `key` under `kid`.
fn signed_as(alg: Algorithm, kid: &str, claims: &Value, key: &EncodingKey) -> Option<String> {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    bearer(jsonwebtoken::encode(&header, claims, key).expect("signs"))
}

async fn attacks(app: &ForgeTestApp, site: &ForgeSite) -> Vec<Attack> {
    let forge = &app.forge;
    let events = forge.app().events_key.clone();
    let claims = || forge.fit_claims(site, &events);
    let kid = forge.current_kid();
    let mint = |overrides: FitOverrides| bearer(forge.mint_fit_with(site, &events, &overrides));
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims();
        change(&mut claims);
        bearer(forge.sign_fit(&claims, Some(&kid)))
    };
    let without = |claim: &str| {
        with(&|c| {
            c.as_object_mut().expect("claims").remove(claim);
        })
    };
    let jwks = reqwest::get(forge.jwks_url())
        .await
        .expect("the JWKS answers")
        .bytes()
        .await
        .expect("the JWKS body");
    let valid = forge.mint_fit(site, &events);
    let (head, rest) = valid.split_once('.').expect("a JWT");
    let signature = rest.split_once('.').expect("a JWT").1;
    let mut tampered = claims();
    tampered["app"]["installationId"] =
        json!("ari:cloud:ecosystem::installation/00000000-0000-4000-8000-000000000000");
    let mut attacks = vec![
        Attack {
            name: "no Authorization",
            authorization: None,
            code: "fit_missing",
        },
        Attack {
            name: "an empty bearer",
            authorization: Some("Bearer ".into()),
            code: "fit_missing",
        },
        Attack {
            name: "a valid FIT under the Connect scheme",
            authorization: Some(format!("JWT {}", forge.mint_fit(site, &events))),
            code: "fit_missing",
        },
        Attack {
            name: "not a JWT",
            authorization: bearer("a.b.c".into()),
            code: "fit_malformed",
        },
        Attack {
            name: "HS256 keyed with the JWKS (algorithm confusion)",
            authorization: signed_as(
                Algorithm::HS256,
                &kid,
                &claims(),
                &EncodingKey::from_secret(&jwks),
            ),
            code: "fit_algorithm",
        },
        Attack {
            name: "RS512 with the right key",
            authorization: signed_as(Algorithm::RS512, &kid, &claims(), &forge.encoding_key()),
            code: "fit_algorithm",
        },
        Attack {
            name: "PS256 with the right key",
            authorization: signed_as(Algorithm::PS256, &kid, &claims(), &forge.encoding_key()),
            code: "fit_algorithm",
        },
        Attack {
            name: "another app's token: its own app.id as the audience",
            authorization: with(&|c| {
                let other = "ari:cloud:ecosystem::app/11111111-2222-4333-8444-555555555555";
                c["aud"] = json!(other);
                c["app"]["id"] = json!(other);
            }),
            code: "fit_wrong_audience",
        },
        Attack {
            name: "no kid",
            authorization: mint(FitOverrides::without_kid()),
            code: "fit_no_kid",
        },
        Attack {
            name: "signed with a key the JWKS does not have, under its kid",
            authorization: bearer(sign_with_key(
                &claims(),
                Some(&kid),
                &foreign_encoding_key().await,
            )),
            code: "fit_bad_signature",
        },
        Attack {
            name: "another installation's claims under a valid signature",
            authorization: bearer(format!(
                "{head}.{}.{signature}",
                b64(tampered.to_string().as_bytes())
            )),
            code: "fit_bad_signature",
        },
        Attack {
            name: "another app's audience",
            authorization: mint(FitOverrides::audience(
                "ari:cloud:ecosystem::app/11111111-2222-4333-8444-555555555555",
            )),
            code: "fit_wrong_audience",
        },
        Attack {
            name: "the audience left out",
            authorization: without("aud"),
            code: "fit_wrong_audience",
        },
        Attack {
            name: "another issuer",
            authorization: mint(FitOverrides {
                issuer: Some("forge/other".into()),
                ..FitOverrides::default()
            }),
            code: "fit_wrong_issuer",
        },
        Attack {
            name: "expired",
            authorization: mint(FitOverrides::expired()),
            code: "fit_expired",
        },
        Attack {
            name: "not valid yet",
            authorization: mint(FitOverrides::not_yet_valid()),
            code: "fit_not_yet_valid",
        },
        Attack {
            name: "no jti",
            authorization: without("jti"),
            code: "fit_missing_claim",
        },
        Attack {
            name: "two installations that differ",
            authorization: with(&|c| {
                c["app"]["installation"]["id"] =
                    json!("ari:cloud:ecosystem::installation/00000000-0000-4000-8000-000000000000");
            }),
            code: "fit_no_installation",
        },
        Attack {
            name: "an apiBaseUrl on another host",
            authorization: with(&|c| {
                let evil = "https://evil.example.com/ex/jira/2b2d6a7c-1d3e-4f5a-8b6c-7d8e9f0a1b2c";
                c["app"]["apiBaseUrl"] = json!(evil);
                c["app"]["installation"]["contexts"][0]["apiBaseUrl"] = json!(evil);
            }),
            code: "fit_api_base_url",
        },
        Attack {
            name: "a FIT issued for the refresh endpoint",
            authorization: bearer(forge.mint_fit(site, &forge.app().refresh_key)),
            code: "fit_wrong_endpoint",
        },
        Attack {
            name: "an unknown kid",
            authorization: mint(FitOverrides::unknown_kid()),
            code: "fit_unknown_kid",
        },
    ];
    for alg in ["none", "None", "NONE"] {
        attacks.push(Attack {
            name: "alg none (unsigned)",
            authorization: bearer(raw_token(&json!({"alg": alg, "kid": kid}), &claims(), "")),
            code: "fit_algorithm",
        });
    }
    attacks
}

#[tokio::test]
async fn forged_and_misused_tokens_are_refused_naming_the_failed_check() {
    let app = spawn_forge_app().await;
    let site = app.site("acme", ProductType::Jira);
    // A valid call first: the others fail for their own reason, not for an unusable setup.
    let response = app.event(&site, &issue_created()).await;
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );

    for attack in attacks(&app, &site).await {
        let mut request = app
            .app
            .client
            .post(app.app.url("/forge/events"))
            .json(&issue_created());
        if let Some(authorization) = &attack.authorization {
            request = request.header("Authorization", authorization);
        }
        let response = request.send().await.expect("the ingress answers");
        let text = assert_error(response, 401, attack.code).await;
        assert!(
            !text.contains("eyJ"),
            "{}: the answer never echoes a token: {text}",
            attack.name
        );
    }
    let metrics = app.app.metrics().await;
    for code in [
        "fit_missing",
        "fit_algorithm",
        "fit_bad_signature",
        "fit_wrong_audience",
        "fit_expired",
    ] {
        assert!(
            metrics.contains(&format!(
                "hookline_jwt_rejections_total{{protocol=\"forge\",reason=\"{code}\"}}"
            )),
            "{code} counted:\n{metrics}"
        );
    }
    let queued = app
        .app
        .drain_work_queue(std::time::Duration::from_secs(2))
        .await;
    assert_eq!(queued.len(), 1, "only the valid call queued an event");
    app.app.stop().await;
}

#[tokio::test]
async fn a_token_is_good_for_one_call_only() {
    let app = spawn_forge_app().await;
    let site = app.site("acme", ProductType::Jira);
    let fit = app.forge.mint_fit(&site, &app.forge.app().events_key);
    let first = app
        .call("/forge/events", Some(&fit), &site, &issue_created())
        .await;
    assert_eq!(first.status(), 202);
    // The same token with another body: the FIT does not sign the body, so only its id can
    // tell a replay.
    let other = payloads::jira_issue_created("KAN-666", "Injected", "KAN");
    let again = app.call("/forge/events", Some(&fit), &site, &other).await;
    assert_error(again, 401, "fit_replayed").await;
    app.app.stop().await;
}

#[tokio::test]
async fn the_tenant_comes_from_the_token_never_from_the_body() {
    let app = spawn_forge_app().await;
    let acme = app.site("acme", ProductType::Jira);
    let other = app.site("other", ProductType::Jira);
    // acme's token, with a body that names the other installation and site everywhere it can.
    let mut body = json!({ "payload": issue_created(),
        "context": { "cloudId": other.cloud_id, "installationId": other.installation_id } });
    body["payload"]["installationId"] = json!(other.installation_id);
    body["payload"]["cloudId"] = json!(other.cloud_id);
    let response = app.event(&acme, &body).await;
    assert_eq!(response.status(), 202);
    let queued = app
        .app
        .drain_work_queue(std::time::Duration::from_secs(5))
        .await;
    assert_eq!(queued.len(), 1);
    let Ok(QueueMessage::EventV1(event)) = QueueMessage::from_bytes(&queued[0].delivery.data)
    else {
        panic!("the queued message is an event");
    };
    let TenantId::Forge(tenant) = &event.tenant else {
        panic!("a Forge tenant: {:?}", event.tenant);
    };
    assert_eq!(tenant.installation_id.as_str(), acme.installation_id);
    assert_eq!(tenant.cloud_id.as_str(), acme.cloud_id);
    // And a Confluence installation cannot send Jira events.
    let wiki = app.site("acme", ProductType::Confluence);
    let response = app.event(&wiki, &issue_created()).await;
    assert_error(response, 403, "product_mismatch").await;
    app.app.stop().await;
}

#[tokio::test]
async fn without_reachable_keys_the_answer_is_503_and_cached_keys_outlive_an_outage() {
    let app = spawn_forge_app().await;
    let site = app.site("acme", ProductType::Jira);
    // Cold: nothing cached and the JWKS down: Forge must retry later, so 503, not 401.
    app.forge.set_jwks_available(false);
    let response = app.event(&site, &issue_created()).await;
    assert_error(response, 503, "fit_keys_unavailable").await;

    // The JWKS is back: within the cold retry interval (2 s) the keys are fetched again.
    app.forge.set_jwks_available(true);
    let accepted = support::eventually(
        "the JWKS is fetched again",
        std::time::Duration::from_secs(10),
        || async {
            let response = app.event(&site, &issue_created()).await;
            (response.status() == 202).then_some(())
        },
    )
    .await;
    let _: () = accepted;

    // Warm: the JWKS goes down again; the cached key keeps verifying.
    app.forge.set_jwks_available(false);
    let response = app.event(&site, &issue_created()).await;
    assert_eq!(response.status(), 202);
    app.app.stop().await;
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_forged_kids_cannot_hammer_the_jwks() {
    let options = TestOptions {
        extra_env: vec![("HOOKLINE_FORGE__JWKS_REFETCH_INTERVAL_SECS", "1".to_owned())],
        ..TestOptions::default()
    };
    let app = spawn_forge_app_with(options).await;
    let site = app.site("acme", ProductType::Jira);
    let response = app.event(&site, &issue_created()).await;
    assert_eq!(response.status(), 202);
    assert_eq!(app.forge.jwks_fetches(), 1);

    // Atlassian rotates its key: the first token under the new kid makes one refetch (once the
    // refetch interval since the last fetch has passed).
    app.forge.rotate_keys().await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let response = app.event(&site, &issue_created()).await;
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );
    assert_eq!(app.forge.jwks_fetches(), 2);

    // A burst of tokens with made-up kids: at most one fetch per interval.
    let started = std::time::Instant::now();
    for _ in 0..30 {
        let fit = app.forge.mint_fit_with(
            &site,
            &app.forge.app().events_key,
            &FitOverrides::unknown_kid(),
        );
        let response = app
            .call("/forge/events", Some(&fit), &site, &issue_created())
            .await;
        assert_error(response, 401, "fit_unknown_kid").await;
    }
    let intervals = started.elapsed().as_secs() as usize + 1;
    let extra = app.forge.jwks_fetches() - 2;
    assert!(
        extra <= intervals,
        "{extra} JWKS fetches for 30 forged kids in {intervals} interval(s)"
    );
    app.app.stop().await;
}

#[tokio::test]
async fn without_forge_app_id_the_forge_routes_do_not_exist() {
    let app = support::spawn_app().await;
    for path in ["/forge/events", "/forge/refresh", "/forge/uninstall"] {
        let response = app.post(path, None, &json!({})).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    app.stop().await;
}

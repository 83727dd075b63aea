//! Cost of the Connect JWT core per token: canonicalising a request, verifying a product
//! token (with an in-memory tenant lookup), and signing an app token; and of the Forge side:
//! verifying a Forge Invocation Token (RS256, a 2048-bit key) and reading a Forge event into
//! its rules' name and event key.
//! Run with `cargo bench -p common --bench jwt`.
use std::convert::Infallible;

use common::connect::sign::{app_token, product_token};
use common::connect::{
    CanonicalRequest, HasSharedSecret, QshRule, SharedSecret, TenantLookup, Verifier,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const NOW: i64 = 1_800_000_000;

struct Tenant(SharedSecret);

impl HasSharedSecret for Tenant {
    fn shared_secret(&self) -> Option<&SharedSecret> {
        Some(&self.0)
    }
}

struct OneTenant;

impl TenantLookup for OneTenant {
    type Tenant = Tenant;
    type Error = Infallible;

    async fn find_tenant(&self, _: &str) -> Result<Option<Tenant>, Infallible> {
        Ok(Some(Tenant(SharedSecret::new(
            "a-shared-secret-of-realistic-length-0123456789",
        ))))
    }
}

fn jwt(c: &mut Criterion) {
    let secret = SharedSecret::new("a-shared-secret-of-realistic-length-0123456789");
    let target = "/webhooks/jira/jira:issue_created?user_id=admin&user_key=admin";
    let request = CanonicalRequest::new("POST", target, "");
    let token = product_token("jira:1234-5678", &secret, &request, NOW, 180).expect("signs");
    let verifier = Verifier::new(30).at(NOW);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    c.bench_function("canonical_request_and_qsh", |b| {
        b.iter(|| CanonicalRequest::new("POST", black_box(target), "").qsh())
    });
    c.bench_function("hash_only_baseline_sha256", |b| {
        use sha2::Digest;
        b.iter(|| sha2::Sha256::digest(black_box(request.as_str().as_bytes())))
    });
    c.bench_function("verify_product_token", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = CanonicalRequest::new("POST", black_box(target), "");
                verifier
                    .verify(black_box(&token), &request, QshRule::Request, &OneTenant)
                    .await
                    .expect("verifies")
            })
        })
    });
    c.bench_function("sign_app_token", |b| {
        b.iter(|| {
            let request =
                CanonicalRequest::new("POST", black_box("/rest/api/2/issue/KAN-1/comment"), "");
            app_token("hookline", "jira:1234-5678", &secret, &request, NOW).expect("signs")
        })
    });
}

fn forge(c: &mut Criterion) {
    use common::forge::{events, fit, FitExpectations, EVENTS as EVENTS_ENDPOINT};
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
    use serde_json::json;

    let private = include_bytes!("../../fixtures/keys/install-private.pem");
    let public = include_bytes!("../../fixtures/keys/install-public.pem");
    let app = "ari:cloud:ecosystem::app/6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";
    let installation = "ari:cloud:ecosystem::installation/2b2d6a7c-1d3e-4f5a-8b6c-7d8e9f0a1b2c";
    let api_base = "https://api.atlassian.com/ex/jira/5d0a5e5c-3f9a-4c8e-9d6b-2f1e0a9b8c7d";
    let claims = json!({
        "app": {"id": app, "installationId": installation, "apiBaseUrl": api_base,
            "installation": {"id": installation, "contexts": [{"apiBaseUrl": api_base,
                "cloudId": "5d0a5e5c-3f9a-4c8e-9d6b-2f1e0a9b8c7d"}]},
            "environment": {"type": "PRODUCTION"}, "module": {"type": "core:endpoint", "key": "hookline-events"}},
        "aud": app, "iss": "forge/invocation-token", "iat": NOW, "nbf": NOW, "exp": NOW + 25,
        "jti": "0123456789abcdef0123456789abcdef01234567",
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("forge/invocation-token/wf-bench".into());
    let key = EncodingKey::from_rsa_pem(private).expect("an RSA key");
    let token = jsonwebtoken::encode(&header, &claims, &key).expect("signs");
    let decoding = DecodingKey::from_rsa_pem(public).expect("an RSA public key");
    let expect = FitExpectations {
        app_id: app,
        now: NOW,
        leeway_secs: 30,
        endpoint: Some(EVENTS_ENDPOINT),
    };
    c.bench_function("verify_forge_invocation_token", |b| {
        b.iter(|| {
            fit::peek(black_box(&token)).expect("a header");
            fit::verify(black_box(&token), &decoding, &expect).expect("verifies")
        })
    });
    let event = json!({"payload": {"eventType": "avi:jira:created:issue", "atlassianId": "u-1",
        "selfGenerated": false, "timestamp": "1800000000000",
        "issue": {"id": "10073", "key": "KAN-1", "fields": {"summary": "Login fails",
            "project": {"key": "KAN"}, "issuetype": {"name": "Bug"}}}}})
    .to_string();
    c.bench_function("parse_forge_event", |b| {
        b.iter(|| events::parse(black_box(&event)).expect("an event"))
    });
    c.bench_function("parse_json_only_baseline", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&event)).expect("JSON"))
    });
}

criterion_group!(benches, jwt, forge);
criterion_main!(benches);

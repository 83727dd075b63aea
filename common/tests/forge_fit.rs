//! The Forge Invocation Token checks, each with its own refusal, against tokens signed with a
//! test key (fixtures/keys) as Atlassian signs them.
use common::forge::fit::{self, FitError, FitExpectations, ISSUER};
use common::forge::{EVENTS, REFRESH};
use common::tenant::ProductType;
use jsonwebtoken::{encode, Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{json, Value};

const PRIVATE: &[u8] = include_bytes!("../../fixtures/keys/install-private.pem");
const PUBLIC: &[u8] = include_bytes!("../../fixtures/keys/install-public.pem");
const OTHER: &[u8] = include_bytes!("../../fixtures/keys/other-private.pem");
const APP: &str = "ari:cloud:ecosystem::app/6e1a2c4b-0000-4000-8000-000000000001";
const NOW: i64 = 1_800_000_000;
const INSTALLATION: &str = "ari:cloud:ecosystem::installation/0a3a7799-1f2e-4b5c-9d8e-7f6a5b4c3d2e";

fn claims() -> Value {
    json!({
        "app": {
            "id": APP, "appVersion": "16.0.1", "installationId": INSTALLATION,
            "apiBaseUrl": "https://api.atlassian.com/ex/jira/d0d52620-3a8f-4a51-9b1f-0f5b2c3d4e5f",
            "installation": {"id": INSTALLATION, "contexts": [{"name": "jira",
                "apiBaseUrl": "https://api.atlassian.com/ex/jira/d0d52620-3a8f-4a51-9b1f-0f5b2c3d4e5f",
                "cloudId": "d0d52620-3a8f-4a51-9b1f-0f5b2c3d4e5f"}]},
            "environment": {"type": "PRODUCTION", "id": "env"},
            "module": {"type": "core:endpoint", "key": "hookline-events"}
        },
        "aud": APP, "iss": ISSUER, "iat": NOW, "nbf": NOW, "exp": NOW + 25,
        "jti": "d8a496253ec8c18a54631e4c82cbedd5d0ae8570"
    })
}

fn sign(claims: &Value, key: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap()
}

fn expect(now: i64) -> FitExpectations<'static> {
    FitExpectations {
        app_id: APP,
        now,
        leeway_secs: 30,
        endpoint: Some(EVENTS),
    }
}

fn verify(claims: &Value) -> Result<fit::VerifiedFit, FitError> {
    let token = sign(claims, PRIVATE, Some("forge/invocation-token/wf-1"));
    fit::verify(
        &token,
        &DecodingKey::from_rsa_pem(PUBLIC).unwrap(),
        &expect(NOW),
    )
}

fn with(mut claims: Value, pointer: &str, value: Value) -> Value {
    *claims.pointer_mut(pointer).unwrap() = value;
    claims
}

fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().unwrap().remove(field);
    claims
}

#[test]
fn a_token_as_atlassian_signs_it_names_the_installation_its_cloud_and_product() {
    let verified = verify(&claims()).expect("verifies");
    assert_eq!(verified.installation_id.as_str(), INSTALLATION);
    assert_eq!(
        verified.cloud_id.as_str(),
        "d0d52620-3a8f-4a51-9b1f-0f5b2c3d4e5f"
    );
    assert_eq!(verified.product, ProductType::Jira);
    assert_eq!(verified.environment.as_deref(), Some("PRODUCTION"));
}

#[test]
fn each_failed_check_has_its_own_refusal() {
    let cases: Vec<(&str, Value, FitError)> = vec![
        (
            "another issuer",
            with(claims(), "/iss", json!("someone")),
            FitError::Issuer,
        ),
        (
            "another app's audience",
            with(claims(), "/aud", json!("ari:cloud:ecosystem::app/other")),
            FitError::Audience,
        ),
        (
            "its own app.id as audience, not ours",
            with(
                with(claims(), "/aud", json!("ari:cloud:ecosystem::app/x")),
                "/app/id",
                json!("ari:cloud:ecosystem::app/x"),
            ),
            FitError::Audience,
        ),
        (
            "expired",
            with(claims(), "/exp", json!(NOW - 31)),
            FitError::Expired,
        ),
        (
            "not yet valid",
            with(claims(), "/nbf", json!(NOW + 31)),
            FitError::NotYetValid,
        ),
        (
            "no exp",
            without(claims(), "exp"),
            FitError::MissingClaim("exp"),
        ),
        (
            "no iat",
            without(claims(), "iat"),
            FitError::MissingClaim("iat"),
        ),
        (
            "no jti",
            without(claims(), "jti"),
            FitError::MissingClaim("jti"),
        ),
        ("no app", without(claims(), "app"), FitError::Installation),
        (
            "two installations",
            with(
                claims(),
                "/app/installation/id",
                json!("ari:cloud:ecosystem::installation/other"),
            ),
            FitError::Installation,
        ),
        (
            "a Bitbucket API base",
            with(
                with(
                    claims(),
                    "/app/apiBaseUrl",
                    json!("https://api.bitbucket.org"),
                ),
                "/app/installation/contexts",
                json!([]),
            ),
            FitError::ApiBaseUrl,
        ),
        (
            "issued for another of the remote's endpoints",
            with(claims(), "/app/module/key", json!(REFRESH.key)),
            FitError::WrongEndpoint,
        ),
    ];
    for (case, claims, refusal) in cases {
        assert_eq!(verify(&claims).unwrap_err(), refusal, "{case}");
    }
    // Inside the leeway, and a module key that names none of the remote's endpoints.
    assert!(verify(&with(claims(), "/exp", json!(NOW - 29))).is_ok());
    assert!(verify(&with(claims(), "/app/module/key", json!("issue-trigger"))).is_ok());
}

#[test]
fn another_key_and_other_algorithms_are_refused() {
    let public = DecodingKey::from_rsa_pem(PUBLIC).unwrap();
    let forged = sign(&claims(), OTHER, Some("forge/invocation-token/wf-1"));
    assert_eq!(
        fit::verify(&forged, &public, &expect(NOW)).unwrap_err(),
        FitError::BadSignature
    );

    // HS256 keyed with the public key (algorithm confusion) and RS512 fail before any key.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k".into());
    let confused = encode(&hs, &claims(), &EncodingKey::from_secret(PUBLIC)).unwrap();
    assert_eq!(fit::peek(&confused).unwrap_err(), FitError::Algorithm);
    let mut rs512 = Header::new(Algorithm::RS512);
    rs512.kid = Some("k".into());
    let rs512 = encode(
        &rs512,
        &claims(),
        &EncodingKey::from_rsa_pem(PRIVATE).unwrap(),
    )
    .unwrap();
    assert_eq!(fit::peek(&rs512).unwrap_err(), FitError::Algorithm);
    // alg none: a header and claims, no signature.
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "k"})),
        b64(&claims())
    );
    assert!(matches!(
        fit::peek(&none).unwrap_err(),
        FitError::Algorithm | FitError::Malformed
    ));

    let no_kid = sign(&claims(), PRIVATE, None);
    assert_eq!(fit::peek(&no_kid).unwrap_err(), FitError::NoKeyId);
    assert_eq!(fit::peek("not.a.token").unwrap_err(), FitError::Malformed);
}

#[test]
fn an_isolated_cloud_label_is_checked_before_it_chooses_a_key() {
    let labelled = with_field(claims(), "icLabel", json!("orange"));
    let header = fit::peek(&sign(&labelled, PRIVATE, Some("k"))).unwrap();
    assert_eq!(header.ic_label.as_deref(), Some("orange"));
    for bad in [json!("../etc"), json!("ORANGE"), json!(7)] {
        let token = sign(&with_field(claims(), "icLabel", bad), PRIVATE, Some("k"));
        assert_eq!(fit::peek(&token).unwrap_err(), FitError::IcLabel);
    }
}

fn with_field(mut claims: Value, field: &str, value: Value) -> Value {
    claims.as_object_mut().unwrap().insert(field.into(), value);
    claims
}

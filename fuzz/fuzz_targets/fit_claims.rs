//! Forge Invocation Tokens with claims chosen by the fuzzer (issuer, audience, times, ids,
//! apiBaseUrl, module key, extra and wrongly typed fields), signed RS256 with the test key of
//! `fixtures/keys/` (so every claim check is reached), then verified as the ingress does.
//! The verdict must be exactly what a model of docs/forge.md §2 predicts, in the verifier's
//! order; and arbitrary bytes (the raw half of the input) must never verify.
#![no_main]

use common::forge::fit::{self, FitError, FitExpectations, ISSUER};
use common::forge::EVENTS;
use hookline_fuzz::b64;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde_json::{json, Map, Value};
use sha2::Sha256;

const PRIVATE: &str = include_str!("../../fixtures/keys/install-private.pem");
const PUBLIC: &[u8] = include_bytes!("../../fixtures/keys/install-public.pem");
const APP: &str = "ari:cloud:ecosystem::app/6e1a2c4b-0000-4000-8000-000000000001";
const NOW: i64 = 1_800_000_000;
const LEEWAY: i64 = 30;
const INSTALLATION: &str = "ari:cloud:ecosystem::installation/0a3a7799-1f2e";
const API: &str = "https://api.atlassian.com/ex/jira/d0d52620-3a8f";

#[derive(Arbitrary, Debug)]
enum Text {
    Right,
    Other(String),
    Number(i64),
    Missing,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Time {
    Near(i16),
    Missing,
    Text,
}

#[derive(Arbitrary, Debug)]
struct Input {
    iss: Text,
    aud: Text,
    aud_as_list: bool,
    exp: Time,
    nbf: Time,
    iat: Time,
    jti: Text,
    installation_id: Text,
    nested_installation: Text,
    api_base_url: Text,
    module_key: Text,
    extra: Option<(String, String)>,
    raw: String,
}

fn text(value: &Text, right: &str) -> Option<Value> {
    match value {
        Text::Right => Some(json!(right)),
        Text::Other(other) => Some(json!(other)),
        Text::Number(n) => Some(json!(n)),
        Text::Missing => None,
    }
}

fn time(value: Time) -> Option<Value> {
    match value {
        Time::Near(offset) => Some(json!(NOW + i64::from(offset))),
        Time::Missing => None,
        Time::Text => Some(json!("soon")),
    }
}

fn claims(input: &Input) -> Value {
    let mut claims = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            claims.insert(name.into(), value);
        }
    };
    put("iss", text(&input.iss, ISSUER));
    let aud = text(&input.aud, APP);
    put("aud", if input.aud_as_list { aud.map(|a| json!([a])) } else { aud });
    put("exp", time(input.exp));
    put("nbf", time(input.nbf));
    put("iat", time(input.iat));
    put("jti", text(&input.jti, "d8a496253ec8c18a54631e4c82cbedd5d0ae8570"));
    let mut app = Map::new();
    app.insert("id".into(), json!(APP));
    if let Some(id) = text(&input.installation_id, INSTALLATION) {
        app.insert("installationId".into(), id);
    }
    if let Some(id) = text(&input.nested_installation, INSTALLATION) {
        app.insert("installation".into(), json!({"id": id}));
    }
    if let Some(url) = text(&input.api_base_url, API) {
        app.insert("apiBaseUrl".into(), url);
    }
    if let Some(key) = text(&input.module_key, EVENTS.key) {
        app.insert("module".into(), json!({"type": "core:endpoint", "key": key}));
    }
    claims.insert("app".into(), Value::Object(app));
    if let Some((name, value)) = &input.extra {
        claims.entry(name.clone()).or_insert_with(|| json!(value));
    }
    Value::Object(claims)
}

fn sign(claims: &Value) -> String {
    let key = RsaPrivateKey::from_pkcs8_pem(PRIVATE).expect("the test key");
    let header = b64(json!({"alg": "RS256", "kid": "forge/invocation-token/wf-1"}).to_string().as_bytes());
    let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let signature = SigningKey::<Sha256>::new(key).sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

/// What the checks must answer, in the verifier's order.
fn model(claims: &Value) -> Result<(), FitError> {
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).map(Value::as_i64);
    let app = &claims["app"];
    // Wrongly typed claims fail deserialization: the token is malformed.
    let typed = |v: Option<&Value>, ok: fn(&Value) -> bool| v.is_none_or(ok);
    let audience_typed = claims.get("aud").is_none_or(|a| a.is_string() || a.as_array().is_some_and(|l| l.iter().all(Value::is_string)));
    let well_typed = typed(claims.get("iss"), Value::is_string)
        && audience_typed
        && ["exp", "nbf", "iat"].iter().all(|t| typed(claims.get(*t), Value::is_i64))
        && typed(claims.get("jti"), Value::is_string)
        && typed(app.get("installationId"), Value::is_string)
        && typed(app.pointer("/installation/id"), Value::is_string)
        && typed(app.get("apiBaseUrl"), Value::is_string)
        && typed(app.pointer("/module/key"), Value::is_string)
        && typed(claims.get("principal"), Value::is_string)
        && !matches!(claims.get("app"), Some(v) if !v.is_object());
    if !well_typed {
        return Err(FitError::Malformed);
    }
    if string("iss") != Some(ISSUER) {
        return Err(FitError::Issuer);
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(aud)) => aud == APP,
        Some(Value::Array(auds)) => auds.iter().any(|a| a == APP),
        _ => false,
    };
    if !for_us {
        return Err(FitError::Audience);
    }
    let exp = number("exp").flatten().ok_or(FitError::MissingClaim("exp"))?;
    if exp + LEEWAY < NOW {
        return Err(FitError::Expired);
    }
    if number("nbf").flatten().is_some_and(|nbf| nbf - LEEWAY > NOW) {
        return Err(FitError::NotYetValid);
    }
    if number("iat").flatten().is_none() {
        return Err(FitError::MissingClaim("iat"));
    }
    if string("jti").is_none_or(str::is_empty) {
        return Err(FitError::MissingClaim("jti"));
    }
    let module = app.pointer("/module/key").and_then(Value::as_str);
    if module.is_some_and(|key| common::forge::ENDPOINTS.iter().any(|e| e.key == key) && key != EVENTS.key) {
        return Err(FitError::WrongEndpoint);
    }
    let ids = (app.get("installationId").and_then(Value::as_str), app.pointer("/installation/id").and_then(Value::as_str));
    let id = match ids {
        (Some(a), Some(b)) if a != b => return Err(FitError::Installation),
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => return Err(FitError::Installation),
    };
    if common::forge::InstallationId::parse(id).is_err() {
        return Err(FitError::Installation);
    }
    let url = app.get("apiBaseUrl").and_then(Value::as_str).ok_or(FitError::ApiBaseUrl)?;
    let (_, cloud) = fit::api_base(url.trim_end_matches('/')).ok_or(FitError::ApiBaseUrl)?;
    common::forge::CloudId::parse(&cloud).map_err(|_| FitError::ApiBaseUrl)?;
    Ok(())
}

fuzz_target!(|input: Input| {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC).expect("the test key");
    let expect = FitExpectations { app_id: APP, now: NOW, leeway_secs: LEEWAY, endpoint: Some(EVENTS) };
    // Arbitrary text never verifies (it carries no signature of the key).
    if let Ok(header) = fit::peek(&input.raw) {
        assert!(header.ic_label.as_deref().is_none_or(fit::valid_ic_label));
    }
    assert!(fit::verify(&input.raw, &key, &expect).is_err(), "raw text verified");

    let claims = claims(&input);
    let verdict = fit::verify(&sign(&claims), &key, &expect).map(drop);
    assert_eq!(verdict, model(&claims), "claims {claims}");
});

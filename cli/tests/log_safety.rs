//! Logs never carry a secret, a token or a payload: `hookline demo` runs the whole flow
//! (signed installs, webhooks, rules, signed calls back) with JSON logs at debug level, and
//! every line is checked against the secrets, keys and payload texts of that very run.
#![cfg(feature = "demo")]
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::config::Settings;
use common::crypto::Keyring;
use common::tenant::{ProductType, TenantStore};

/// Texts of the demo's webhook payloads and of the comments its rules render.
const PAYLOAD_TEXTS: [&str; 8] = [
    "Login fails on Safari",
    "Export is slow",
    "Not our project",
    "Release notes 2.0",
    "queued for triage",
    "reviewers notified",
    "Forge event",
    "reached us through Forge",
];

/// Whether `line` holds something shaped like a JWT: `eyJ...` (a base64url JSON header), a
/// dot, and `eyJ` again (the claims).
fn contains_jwt(line: &str) -> bool {
    let bytes = line.as_bytes();
    let is_b64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    line.match_indices("eyJ").any(|(start, _)| {
        let mut end = start + 3;
        while end < bytes.len() && is_b64url(bytes[end]) {
            end += 1;
        }
        line[end..].starts_with(".eyJ")
    })
}

/// The secrets of the demo's run: every key in its key file, every Connect tenant's
/// sharedSecret, the Forge installation's app system token.
async fn secrets_of(data_dir: &Path) -> Vec<String> {
    let key_file = data_dir.join("hookline.key");
    let text = std::fs::read_to_string(&key_file).expect("the demo's key file");
    let mut secrets: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(_, key)| key.trim().to_owned()))
        .collect();
    assert!(!secrets.is_empty(), "the key file holds a key");
    let url = format!("sqlite://{}", data_dir.join("hookline.db").display());
    let db = common::db::connect(&url)
        .await
        .expect("the demo's database");
    let keyring = Keyring::load_key_file(&key_file).expect("the key file loads");
    let store = TenantStore::new(db, Arc::new(keyring), Duration::ZERO);
    let tenants = store.list().await.expect("the demo's tenants");
    assert_eq!(
        tenants.len(),
        3,
        "the demo installed two Connect sites and a Forge one"
    );
    for tenant in &tenants {
        match (&tenant.shared_secret, &tenant.forge) {
            (Some(secret), _) => secrets.push(secret.expose().to_owned()),
            (None, Some(forge)) => {
                let token = forge
                    .token
                    .as_ref()
                    .expect("the Forge installation's token");
                secrets.push(token.expose().to_owned());
            }
            (None, None) => panic!("{} has neither a secret nor a token", tenant.client_key),
        }
    }
    secrets
}

#[tokio::test]
async fn a_full_flow_at_debug_level_logs_json_without_secrets_tokens_or_payloads() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookline"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HOOKLINE_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["demo", "--data-dir"])
        .arg(dir.path())
        .env("HOOKLINE_LOG__FORMAT", "json")
        .env("HOOKLINE_LOG__LEVEL", "debug")
        .output()
        .expect("runs the demo");
    let logs = String::from_utf8_lossy(&output.stderr);
    // What matters here is that the whole flow ran and logged, not the demo's verdict on
    // its effects (the demo test checks that).
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("4. sent 6 signed webhooks") && printed.contains("7. what the pipeline"),
        "{printed}\n{logs}"
    );

    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() >= 30,
        "a debug run logs plenty: {}",
        lines.len()
    );
    assert!(
        lines.iter().any(|l| l.contains("\"level\":\"DEBUG\"")),
        "debug lines are there"
    );
    let secrets = secrets_of(dir.path()).await;
    for line in &lines {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        assert!(parsed.is_object(), "{line}");
        assert!(!contains_jwt(line), "a JWT in the logs: {line}");
        assert!(!line.contains("sharedSecret"), "{line}");
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the logs: {line}"
            );
        }
        for text in PAYLOAD_TEXTS {
            assert!(!line.contains(text), "payload content in the logs: {line}");
        }
    }
}

#[test]
fn the_jwt_detector_finds_tokens_and_only_tokens() {
    assert!(contains_jwt(
        r#"{"token":"eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.sig"}"#
    ));
    assert!(contains_jwt("jwt=eyJ0eXAi.eyJx"));
    assert!(!contains_jwt("eyJhbGciOiJIUzI1NiJ9 then eyJ"));
    assert!(!contains_jwt("nothing here"));
}

#[test]
fn debug_output_of_settings_tenants_and_installs_never_holds_a_secret() {
    let key = "c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5YWJjZGU=";
    let vars = [
        ("HOOKLINE_SECURITY__ENCRYPTION_KEYS", format!("k1={key}")),
        (
            "HOOKLINE_AMQP__URL",
            "amqp://hookline:amqp-pass-123@127.0.0.1:5672/%2f".to_owned(),
        ),
        (
            "HOOKLINE_DATABASE__URL",
            "postgres://hookline:db-pass-456@127.0.0.1/hookline".to_owned(),
        ),
    ];
    let settings =
        Settings::load_from(None, vars.map(|(k, v)| (k.to_owned(), v))).expect("valid settings");
    let debug = format!("{settings:?}");
    for secret in [key, "amqp-pass-123", "db-pass-456"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }

    let secret = "install-secret-0123456789";
    let payload: common::tenant::InstallPayload = serde_json::from_value(serde_json::json!({
        "key": "hookline", "clientKey": "site-a", "sharedSecret": secret,
        "baseUrl": "https://site-a.atlassian.net", "productType": "jira",
        "eventType": "installed"
    }))
    .expect("an install payload");
    assert!(!format!("{payload:?}").contains(secret));
    let keyring = Keyring::from_spec(&format!("k1={key}")).expect("a keyring");
    assert!(!format!("{keyring:?}").contains(key));

    let sim = simulator::SimTenant {
        client_key: "site-a".into(),
        shared_secret: secret.into(),
        product: ProductType::Jira,
        base_url: "http://127.0.0.1:1".into(),
    };
    assert!(!format!("{sim:?}").contains(secret));
}

#[tokio::test]
async fn debug_output_of_a_stored_tenant_never_holds_its_secret() {
    let db = common::db::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    common::db::migrate(&db).await.expect("migrations");
    let keyring = Keyring::from_spec("k1=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
    let store = TenantStore::new(db, Arc::new(keyring), Duration::ZERO);
    let secret = "tenant-secret-0123456789";
    let payload = serde_json::from_value(serde_json::json!({
        "key": "hookline", "clientKey": "site-a", "sharedSecret": secret,
        "baseUrl": "https://site-a.atlassian.net", "productType": "jira",
        "eventType": "installed"
    }))
    .expect("an install payload");
    let tenant = store.save_install(&payload).await.expect("saved");
    assert!(!format!("{tenant:?}").contains(secret));
}

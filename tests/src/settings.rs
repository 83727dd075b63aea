//! The settings of a test pipeline, built the way an operator would: `HOOKLINE_*` variables.
use common::config::Settings;
use common::testing::amqp_url;
use simulator::ForgeSim;

use crate::resources::{Resources, RETRY_DELAYS_SECS};

/// TEST-ONLY encryption key for sharedSecrets at rest (32 zero bytes).
const TEST_ENCRYPTION_KEYS: &str = "test=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// The variables of a test pipeline whose ingress listens on `port` and checks signed installs
/// against `key_server`: everything but the database, the broker, the worker's metrics port
/// and logging, which each caller sets.
pub fn pipeline_vars(port: u16, key_server: &str) -> Vec<(&'static str, String)> {
    let delays: Vec<String> = RETRY_DELAYS_SECS.iter().map(u64::to_string).collect();
    vec![
        ("HOOKLINE_SERVER__PORT", port.to_string()),
        ("HOOKLINE_SERVER__SHUTDOWN_GRACE_SECS", "5".to_owned()),
        ("HOOKLINE_APP__BASE_URL", format!("http://127.0.0.1:{port}")),
        ("HOOKLINE_APP__INSTALL_KEYS_URL", key_server.to_owned()),
        // The simulated sites live on this machine.
        (
            "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
            "127.0.0.1".to_owned(),
        ),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            TEST_ENCRYPTION_KEYS.to_owned(),
        ),
        ("HOOKLINE_AMQP__RETRY_DELAYS_SECS", delays.join(",")),
        // The scenarios send faster than one site's call budget allows; the budget has tests
        // of its own (tests/tests/fairness.rs).
        ("HOOKLINE_OUTBOUND__TENANT_CALLS_PER_SECOND", "0".to_owned()),
    ]
}

/// A port nobody listens on right now (the OS picks it; we let it go for the pipeline).
///
/// # Panics
/// If no local port can be bound.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free local port");
    listener.local_addr().expect("a bound address").port()
}

/// The test app's Forge app id (a bare UUID: hookline takes it as the app ARI).
pub const FORGE_APP_UUID: &str = "6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";

/// The variables that turn the Forge remote on, trusting `forge`'s JWKS and the simulated
/// product's apiBaseUrls; events wait 1 s for a missing token.
pub fn forge_vars(forge: &ForgeSim) -> Vec<(&'static str, String)> {
    vec![
        ("HOOKLINE_FORGE__APP_ID", FORGE_APP_UUID.to_owned()),
        ("HOOKLINE_FORGE__JWKS_URL", forge.jwks_url()),
        ("HOOKLINE_FORGE__API_BASE_URL_HOSTS", "127.0.0.1".to_owned()),
        ("HOOKLINE_FORGE__TOKEN_WAIT_SECS", "1".to_owned()),
    ]
}

/// Settings for a pipeline on `port` whose signed installs are checked against `key_server`,
/// backed by `resources`, with `extra` variables.
///
/// # Panics
/// If the settings do not validate (a mistake in the harness).
pub fn for_test(
    port: u16,
    key_server: &str,
    resources: &Resources,
    extra: Vec<(&'static str, String)>,
) -> Settings {
    let mut vars = pipeline_vars(port, key_server);
    vars.extend(extra);
    vars.extend([
        ("HOOKLINE_WORKER__METRICS_PORT", "0".to_owned()),
        ("HOOKLINE_LOG__LEVEL", "warn".to_owned()),
    ]);
    match resources {
        Resources::Broker {
            database, prefix, ..
        } => {
            vars.push(("HOOKLINE_DATABASE__URL", database.url.clone()));
            vars.push(("HOOKLINE_AMQP__URL", amqp_url()));
            vars.push(("HOOKLINE_AMQP__PREFIX", prefix.clone()));
        }
        Resources::Embedded { data_dir } => {
            vars.push(("HOOKLINE_DATA_DIR", data_dir.path().display().to_string()));
        }
    }
    Settings::load_from(None, vars.into_iter().map(|(k, v)| (k.to_owned(), v)))
        .unwrap_or_else(|e| panic!("the test settings are valid: {e}"))
}

//! `spawn_app()`: a real ingress on port 0 against real PostgreSQL and RabbitMQ, with a fresh
//! database, a unique queue prefix and a local signed-install key server, plus typed helpers.
#![allow(dead_code)] // each test file uses a different subset

pub mod forge;
pub mod key_server;
pub mod raw_http;

use std::collections::HashMap;
use std::time::Duration;

use common::amqp::Topology;
use common::config::Settings;
use common::connect::sign::{product_token, sign_hs256};
use common::connect::{CanonicalRequest, Claims, SharedSecret};
use common::tenant::{ClientKey, Tenant};
use common::testing::{amqp_url, unique_prefix, BrokerCleanup, TestDatabase};
use ingress::startup::Application;
use ingress::state::AppState;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lapin::options::BasicGetOptions;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use key_server::KeyServer;

pub const APP_BASE_URL: &str = "https://hookline.test";
pub const KID: &str = "test-key-1";
pub const INSTALL_PRIVATE_KEY: &[u8] = include_bytes!("../../../fixtures/keys/install-private.pem");
pub const INSTALL_PUBLIC_KEY: &[u8] = include_bytes!("../../../fixtures/keys/install-public.pem");
pub const OTHER_PRIVATE_KEY: &[u8] = include_bytes!("../../../fixtures/keys/other-private.pem");

/// How the app under test is configured.
#[derive(Clone)]
pub struct TestOptions {
    pub signed_install: bool,
    /// Overrides the broker URL (a proxy the test can cut).
    pub amqp_url: Option<String>,
    /// Overrides `server.body_limit_bytes` (default: the settings' own).
    pub body_limit_bytes: Option<u64>,
    /// Overrides the signed-install key server (a closed port, to make it unreachable).
    pub install_keys_url: Option<String>,
    /// More settings, as `HOOKLINE_*` variables (they win over the ones above).
    pub extra_env: Vec<(&'static str, String)>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            signed_install: true,
            amqp_url: None,
            body_limit_bytes: None,
            install_keys_url: None,
            extra_env: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The name of this test's own database.
    pub database_name: String,
    pub topology: Topology,
    /// The queue prefix of this app (also part of its broker connection name).
    pub prefix: String,
    pub key_server: KeyServer,
    pub shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    _broker: BrokerCleanup,
    _db: TestDatabase,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    let db = TestDatabase::postgres().await;
    let key_server = KeyServer::start(HashMap::from([(
        KID.to_owned(),
        INSTALL_PUBLIC_KEY.to_vec(),
    )]))
    .await;
    let prefix = unique_prefix();
    let settings = settings(&db, &key_server, &prefix, &options);
    let topology = Topology::new(&prefix, &settings.amqp.retry_delays_secs);
    let shutdown = CancellationToken::new();
    let application = Application::build(settings, shutdown.clone())
        .await
        .expect("the ingress builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state().clone();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        state,
        database_name: url::Url::parse(&db.url)
            .expect("the database URL parses")
            .path()
            .trim_start_matches('/')
            .to_owned(),
        topology: topology.clone(),
        prefix,
        key_server,
        shutdown,
        server,
        _broker: BrokerCleanup { topology },
        _db: db,
    }
}

fn settings(
    db: &TestDatabase,
    key_server: &KeyServer,
    prefix: &str,
    options: &TestOptions,
) -> Settings {
    let vars = [
        ("HOOKLINE_SERVER__PORT", "0".to_owned()),
        ("HOOKLINE_DATABASE__URL", db.url.clone()),
        (
            "HOOKLINE_AMQP__URL",
            options.amqp_url.clone().unwrap_or_else(amqp_url),
        ),
        ("HOOKLINE_AMQP__PREFIX", prefix.to_owned()),
        ("HOOKLINE_AMQP__CONFIRM_TIMEOUT_MS", "2000".to_owned()),
        ("HOOKLINE_APP__BASE_URL", APP_BASE_URL.to_owned()),
        (
            "HOOKLINE_APP__SIGNED_INSTALL",
            options.signed_install.to_string(),
        ),
        (
            "HOOKLINE_APP__INSTALL_KEYS_URL",
            options
                .install_keys_url
                .clone()
                .unwrap_or_else(|| key_server.url()),
        ),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            "test=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
    ];
    let limit = options
        .body_limit_bytes
        .map(|limit| ("HOOKLINE_SERVER__BODY_LIMIT_BYTES", limit.to_string()));
    let extra = options.extra_env.iter().map(|(k, v)| (*k, v.clone()));
    let extra = limit.into_iter().chain(extra);
    let vars = vars.into_iter().chain(extra);
    Settings::load_from(None, vars.map(|(k, v)| (k.to_owned(), v)))
        .expect("test settings are valid")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A Jira tenant's install body.
pub fn install_body(client_key: &str, secret: &str) -> Value {
    json!({
        "key": "hookline",
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": format!("https://{client_key}.atlassian.net"),
        "displayUrl": format!("https://{client_key}.atlassian.net"),
        "productType": "jira",
        "description": "Atlassian JIRA at https://example.atlassian.net",
        "eventType": "installed",
        "serverVersion": "100254",
        "pluginsVersion": "1001.0.0-SNAPSHOT"
    })
}

/// Signs a signed-install (RS256) token as Atlassian does for `path` (`/installed`).
pub fn install_token(
    client_key: &str,
    path: &str,
    private_key: &[u8],
    kid: &str,
    aud: &str,
) -> String {
    let claims = Claims {
        iss: Some(client_key.to_owned()),
        iat: Some(now()),
        exp: Some(now() + 180),
        aud: vec![aud.to_owned()],
        qsh: Some(CanonicalRequest::new("POST", path, "").qsh().to_string()),
        ..Claims::default()
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(private_key).expect("pem"),
    )
    .expect("signs")
}

/// A signed-install token for `path` from the key server's own key, as Atlassian sends it.
pub fn signed_install_token(client_key: &str, path: &str) -> String {
    install_token(client_key, path, INSTALL_PRIVATE_KEY, KID, APP_BASE_URL)
}

/// The install body of `client_key` re-labelled as another lifecycle `event`.
pub fn lifecycle_body(client_key: &str, secret: &str, event: &str) -> Value {
    let mut body = install_body(client_key, secret);
    body["eventType"] = json!(event);
    body
}

/// Signs arbitrary claims with HS256, for tokens the product would never send.
pub fn hs_token_with(claims: &Claims, secret: &str) -> String {
    sign_hs256(claims, &SharedSecret::new(secret)).expect("signs")
}

/// A local port that is bound (so no other test can take it) but not listening: every
/// connection to it is refused.
pub struct ClosedPort(tokio::net::TcpSocket);

impl ClosedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("bind");
        Self(socket)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().expect("an address"))
    }
}

/// Asserts an error answer: its status and a JSON body `{code, message}` with that code.
/// Returns the body text, for checks on what it must not contain.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> String {
    let actual = response.status();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "status of an answer whose body is {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("the error body is JSON, got {text:?}"));
    assert_eq!(body["code"], code, "error code in {text}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "the error body has a message: {text}"
    );
    text
}

/// Polls `check` every 100 ms until it yields a value, failing with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An HS256 token from the product for `method path`.
pub fn hs_token(client_key: &str, secret: &str, method: &str, path: &str) -> String {
    let request = CanonicalRequest::new(method, path, "");
    product_token(client_key, &SharedSecret::new(secret), &request, now(), 180).expect("signs")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs a JSON body with an optional `Authorization: JWT` token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.header("Authorization", format!("JWT {token}"));
        }
        request.send().await.expect("the ingress answers")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the ingress answers")
    }

    /// POSTs raw bytes with an optional `Authorization: JWT` token and extra headers.
    pub async fn post_bytes(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.header("Authorization", format!("JWT {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the ingress answers")
    }

    /// Sends the signed-install `installed` callback of a Jira tenant (without enabling it).
    pub async fn install(&self, client_key: &str, secret: &str) -> reqwest::Response {
        let token = signed_install_token(client_key, "/installed");
        self.post(
            "/installed",
            Some(&token),
            &install_body(client_key, secret),
        )
        .await
    }

    /// Sends `enabled` or `disabled`, signed with `secret` as the product does.
    pub async fn toggle(&self, event: &str, client_key: &str, secret: &str) -> reqwest::Response {
        let path = format!("/{event}");
        let token = hs_token(client_key, secret, "POST", &path);
        self.post(
            &path,
            Some(&token),
            &lifecycle_body(client_key, secret, event),
        )
        .await
    }

    /// The stored tenant, read through the app's own store.
    pub async fn tenant(&self, client_key: &str) -> Option<Tenant> {
        let key = ClientKey::parse(client_key).expect("a valid client key");
        self.state
            .stores
            .tenants
            .find_by_client_key(&key)
            .await
            .expect("the tenant store answers")
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// The name this app's broker connection carries.
    pub fn connection_name(&self) -> String {
        ingress::publisher::connection_name("hookline", &self.prefix)
    }

    /// Whether `run_until_stopped` has returned within `timeout` (after `shutdown` fired).
    pub async fn stopped_within(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, &mut self.server)
            .await
            .is_ok()
    }

    /// Installs (signed-install) and enables a Jira tenant.
    pub async fn install_tenant(&self, client_key: &str, secret: &str) {
        let response = self.install(client_key, secret).await;
        assert_eq!(
            response.status(),
            204,
            "install of {client_key}: {}",
            response.text().await.unwrap_or_default()
        );
        let response = self.toggle("enabled", client_key, secret).await;
        assert_eq!(response.status(), 204, "enable of {client_key}");
    }

    /// Sends a signed webhook as Jira does.
    pub async fn post_webhook(
        &self,
        client_key: &str,
        secret: &str,
        path: &str,
        body: &[u8],
        webhook_id: Option<&str>,
    ) -> reqwest::Response {
        let token = hs_token(client_key, secret, "POST", path);
        let mut request = self
            .client
            .post(self.url(path))
            .header("Authorization", format!("JWT {token}"))
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(id) = webhook_id {
            request = request.header("X-Atlassian-Webhook-Identifier", id);
        }
        request.send().await.expect("the ingress answers")
    }

    /// Takes every message now on the work queue (waiting up to `wait` for the first).
    pub async fn drain_work_queue(&self, wait: Duration) -> Vec<lapin::message::BasicGetMessage> {
        let connection = common::amqp::connect(&amqp_url(), "hookline-test-reader")
            .await
            .expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let mut messages = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let got = channel
                .basic_get(
                    &self.topology.work_queue(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .expect("basic.get");
            match got {
                Some(message) => messages.push(message),
                None if !messages.is_empty() || tokio::time::Instant::now() >= deadline => break,
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let _ = connection.close(200, "done").await;
        messages
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        if !self.server.is_finished() {
            let _ = tokio::time::timeout(Duration::from_secs(10), self.server).await;
        }
    }
}

//! Helpers of the simulator's integration tests: a tenant registered in a running simulator,
//! and requests signed the way the worker signs them.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use common::connect::sign::{app_token, sign_hs256};
use common::connect::{CanonicalRequest, Claims, SharedSecret};
use common::tenant::ProductType;
use reqwest::{Method, Response};
use serde_json::Value;
use simulator::ProductSim;

pub const APP_KEY: &str = "io.hookline.test";

pub fn now() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_secs()).unwrap()
}

/// A tenant registered in a simulator, with a client that signs requests for it.
pub struct TestTenant {
    pub sim: ProductSim,
    pub client_key: String,
    pub secret: String,
    pub base_url: String,
    http: reqwest::Client,
}

impl TestTenant {
    pub fn add(sim: &ProductSim, client_key: &str, product: ProductType) -> Self {
        let secret = format!("secret-of-{client_key}");
        let base_url = sim.add_tenant(client_key, &secret, product, APP_KEY);
        Self {
            sim: sim.clone(),
            client_key: client_key.to_owned(),
            secret,
            base_url,
            http: reqwest::Client::new(),
        }
    }

    /// The path of the baseUrl, e.g. `/t/{site}/wiki`.
    pub fn base_path(&self) -> String {
        let origin = format!("http://{}", self.sim.address());
        self.base_url.strip_prefix(&origin).unwrap().to_owned()
    }

    /// The canonical request of `path` (relative to the baseUrl), as the worker computes it.
    pub fn canonical(&self, method: &str, path: &str) -> CanonicalRequest {
        let base_path = self.base_path();
        CanonicalRequest::new(method, &format!("{base_path}{path}"), &base_path)
    }

    /// A valid token for `method path`, signed with `secret`.
    pub fn token_with_secret(&self, method: &str, path: &str, secret: &str) -> String {
        let request = self.canonical(method, path);
        let secret = SharedSecret::new(secret);
        app_token(APP_KEY, &self.client_key, &secret, &request, now()).unwrap()
    }

    /// A valid token for `method path`.
    pub fn token(&self, method: &str, path: &str) -> String {
        self.token_with_secret(method, path, &self.secret)
    }

    /// Valid claims for `method path`, to be altered by a test.
    pub fn claims(&self, method: &str, path: &str) -> Claims {
        Claims {
            iss: Some(APP_KEY.to_owned()),
            iat: Some(now()),
            exp: Some(now() + 180),
            qsh: Some(self.canonical(method, path).qsh().as_str().to_owned()),
            aud: vec![self.client_key.clone()],
            ..Claims::default()
        }
    }

    /// Signs arbitrary claims with the tenant's secret.
    pub fn sign(&self, claims: &Claims) -> String {
        sign_hs256(claims, &SharedSecret::new(self.secret.as_str())).unwrap()
    }

    /// Sends a correctly signed request.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let token = self.token(method, path);
        self.try_send_with(method, path, body, Some(&token))
            .await
            .unwrap()
    }

    /// Sends a request carrying `token` (or no Authorization header).
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Response {
        self.try_send_with(method, path, body, token).await.unwrap()
    }

    pub async fn try_send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> reqwest::Result<Response> {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("JWT {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await
    }
}

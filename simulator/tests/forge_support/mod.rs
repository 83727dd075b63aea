//! Helpers of the ForgeSim tests: a stub remote that records what it receives, a ForgeSim
//! facing it, and verifying FITs as a remote does.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::tenant::ProductType;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use simulator::server::{dropped_connection, serve, RunningServer};
use simulator::{ForgeApp, ForgeSendOptions, ForgeSim, ForgeSite, ProductSim};
use warp::http::{HeaderMap, StatusCode};
use warp::{Filter, Reply};

pub const APP_ID: &str = "ari:cloud:ecosystem::app/6e1a2c4b-0000-4000-8000-000000000001";
/// A stub answer: hang this long before answering 202 (a timeout for the caller).
pub const HANG: u16 = 1;

/// What the stub remote received on one request.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn fit(&self) -> &str {
        self.header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .expect("a Bearer FIT")
    }
}

/// A remote whose every POST answers the queued statuses in order (`0`: drop the connection,
/// [`HANG`]: answer 202 after a second), then 202, recording what it received.
pub struct StubApp {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _server: RunningServer,
}

impl StubApp {
    pub fn start(script: &[u16]) -> Self {
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let route = warp::post()
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .then(
                move |path: warp::path::FullPath, headers, body: warp::hyper::body::Bytes| {
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let path = path.as_str().to_owned();
                    log.lock().unwrap().push(Received {
                        path,
                        headers,
                        body,
                    });
                    let answer = script.lock().unwrap().pop_front().unwrap_or(202);
                    async move {
                        match answer {
                            0 => dropped_connection(),
                            HANG => {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                StatusCode::ACCEPTED.into_response()
                            }
                            status => StatusCode::from_u16(status).unwrap().into_response(),
                        }
                    }
                },
            );
        let server = serve(route.boxed());
        Self {
            url: format!("http://{}", server.address()),
            received,
            _server: server,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

pub async fn forge(script: &[u16]) -> (StubApp, ForgeSim, ProductSim) {
    let app = StubApp::start(script);
    let product = ProductSim::start().await;
    let sim = ForgeSim::start(ForgeApp::new(&app.url), APP_ID, product.clone()).await;
    sim.set_lifecycle_options(ForgeSendOptions::fast());
    (app, sim, product)
}

/// The simulator's JWKS, as served.
pub async fn jwks(sim: &ForgeSim) -> Value {
    reqwest::get(sim.jwks_url())
        .await
        .expect("the JWKS answers")
        .json()
        .await
        .expect("the JWKS is JSON")
}

/// Verifies a FIT as a remote does: the JWKS key of its kid, RS256, `aud`, `iss`.
pub async fn verify(sim: &ForgeSim, token: &str) -> jsonwebtoken::errors::Result<Value> {
    let kid = decode_header(token)?.kid.unwrap_or_default();
    let jwks = jwks(sim).await;
    let keys = jwks["keys"].as_array().unwrap();
    let Some(jwk) = keys.iter().find(|key| key["kid"] == kid.as_str()) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 5;
    validation.set_audience(&[APP_ID]);
    validation.set_issuer(&["forge/invocation-token"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss"]);
    validation.validate_nbf = true;
    decode::<Value>(token, &key, &validation).map(|data| data.claims)
}

pub async fn jira_site(sim: &ForgeSim, name: &str) -> ForgeSite {
    let (site, delivery) = sim.install(name, ProductType::Jira).await.unwrap();
    assert_eq!(delivery.attempts, [202]);
    site
}

pub async fn comment(site: &ForgeSite, token: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!(
            "{}/rest/api/2/issue/KAN-1/comment",
            site.api_base_url
        ))
        .json(&json!({ "body": "from Forge" }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

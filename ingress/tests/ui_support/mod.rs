//! For the `ui_*` tests: an ingress whose tenants live in a simulated product (so admin checks
//! are real signed calls to it), and the tokens Jira and Confluence mint for pages (bound to
//! the page request) and for page scripts (`context-qsh`).
#![allow(dead_code)] // each test file uses a different subset

use common::connect::sign::sign_hs256;
use common::connect::{CanonicalRequest, Claims, Qsh, SharedSecret};
use common::ledger::{LedgerKey, Receipt};
use common::tenant::{ClientKey, ProductType};
use serde_json::{json, Value};
use simulator::ProductSim;

use crate::support::{
    install_body, now, signed_install_token, spawn_app_with, TestApp, TestOptions,
};

/// A site admin in every simulated site where the test makes them one.
pub const ADMIN: &str = "557058:admin-0001";
/// A user who is no admin.
pub const USER: &str = "557058:user-0002";

pub struct UiApp {
    pub app: TestApp,
    pub sim: ProductSim,
}

/// A tenant the test installed: its client key and secret.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    pub client_key: &'a str,
    pub secret: &'a str,
}

impl Site<'_> {
    /// A token as the product signs a page load of `target` (path and query, without `jwt`).
    pub fn page_token(&self, target: &str, sub: Option<&str>) -> String {
        self.token(
            CanonicalRequest::new("GET", target, "").qsh().to_string(),
            sub,
            now() + 180,
        )
    }

    /// `target` with the page token appended as the `jwt` parameter.
    pub fn page_url(&self, target: &str) -> String {
        let token = self.page_token(target, Some(ADMIN));
        let separator = if target.contains('?') { '&' } else { '?' };
        format!("{target}{separator}jwt={token}")
    }

    /// A context token (`qsh: "context-qsh"`) as `AP.context.getToken()` hands out.
    pub fn context_token(&self, sub: Option<&str>) -> String {
        self.token(Qsh::CONTEXT.to_owned(), sub, now() + 180)
    }

    pub fn token(&self, qsh: String, sub: Option<&str>, exp: i64) -> String {
        let claims = Claims {
            iss: Some(self.client_key.to_owned()),
            iat: Some(now()),
            exp: Some(exp),
            qsh: Some(qsh),
            sub: sub.map(str::to_owned),
            ..Claims::default()
        };
        sign_hs256(&claims, &SharedSecret::new(self.secret)).expect("signs")
    }
}

/// An ingress allowing baseUrls on 127.0.0.1 (the simulator), with `all_js_url` if given.
pub async fn spawn_ui_app(all_js_url: Option<String>) -> UiApp {
    let mut extra_env = vec![(
        "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
        "127.0.0.1".to_owned(),
    )];
    if let Some(url) = all_js_url {
        extra_env.push(("HOOKLINE_APP__ALL_JS_URL", url));
    }
    let app = spawn_app_with(TestOptions {
        extra_env,
        ..TestOptions::default()
    })
    .await;
    UiApp {
        app,
        sim: ProductSim::start().await,
    }
}

impl UiApp {
    /// Registers the site in the simulator, installs (signed install) and enables it.
    pub async fn install<'a>(
        &self,
        client_key: &'a str,
        secret: &'a str,
        product: ProductType,
    ) -> Site<'a> {
        let base_url = self.sim.add_tenant(client_key, secret, product, "hookline");
        let mut body = install_body(client_key, secret);
        body["baseUrl"] = json!(base_url);
        body["displayUrl"] = json!(base_url);
        body["productType"] = json!(product.as_str());
        let token = signed_install_token(client_key, "/installed");
        let response = self.app.post("/installed", Some(&token), &body).await;
        assert_eq!(response.status(), 204, "install of {client_key}");
        let response = self.app.toggle("enabled", client_key, secret).await;
        assert_eq!(response.status(), 204, "enable of {client_key}");
        Site { client_key, secret }
    }

    /// Sends an API request with an optional `Authorization: JWT` token and JSON body.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("JWT {token}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the ingress answers")
    }

    /// Creates a rule through the API as `ADMIN`; returns its JSON.
    pub async fn create_rule(&self, site: Site<'_>, rule: &Value) -> Value {
        let token = site.context_token(Some(ADMIN));
        let response = self
            .api(
                reqwest::Method::POST,
                "/api/rules",
                Some(&token),
                Some(rule),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 201, "create: {body}");
        body
    }

    /// Records a ledger row for `subject` that ended in `outcome`.
    pub async fn ledger_row(
        &self,
        site: Site<'_>,
        delivery: &str,
        rule_id: i64,
        subject: &str,
        outcome: Outcome<'_>,
    ) {
        let key = LedgerKey {
            client_key: ClientKey::parse(site.client_key).expect("client key"),
            delivery_id: delivery.to_owned(),
            rule_id,
        };
        let product = if subject.chars().all(|c| c.is_ascii_digit()) {
            ProductType::Confluence
        } else {
            ProductType::Jira
        };
        let receipt = Receipt {
            event_id: delivery,
            event: if product == ProductType::Jira {
                "jira:issue_created"
            } else {
                "page_created"
            },
            product,
            subject: Some(subject),
        };
        // Inserted as received, then settled as the worker would settle it.
        let ledger = &self.app.state.stores.ledger;
        ledger
            .record_no_match(&key, receipt)
            .await
            .expect("the ledger is written");
        match outcome {
            Outcome::NoMatch => Ok(()),
            Outcome::Done(result) => ledger.complete(&key, Some(result)).await,
            Outcome::Dead(reason) => ledger.record_failure(&key, reason, true).await,
            Outcome::Stale(reason) => ledger.record_stale(&key, reason).await,
        }
        .expect("the ledger is written");
    }
}

/// How a ledger row ends.
pub enum Outcome<'a> {
    NoMatch,
    Done(&'a str),
    Dead(&'a str),
    /// Not acted on: a newer event was applied (the reason).
    Stale(&'a str),
}

/// A Jira comment rule.
pub fn comment_rule(name: &str) -> Value {
    json!({
        "name": name,
        "event": "jira:issue_created",
        "conditions": [{"type": "project_key", "key": "KAN"}],
        "action": {"type": "jira_comment", "template": "Thanks! {{ issue.key }} is queued."}
    })
}

/// Undoes the HTML escaping minijinja applies to attribute values.
pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

//! An ingress with the Forge remote on, against the simulator's Forge (JWKS, tokens, sites).
use serde_json::Value;
use simulator::{ForgeApp, ForgeSim, ForgeSite, ProductSim};

use super::{spawn_app_with, TestApp, TestOptions};

/// The test app's Forge app id (a bare UUID; the ingress takes it as the app ARI).
pub const FORGE_APP_UUID: &str = "6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";

/// The ingress, with Forge and the product simulator behind its sites.
pub struct ForgeTestApp {
    pub app: TestApp,
    pub forge: ForgeSim,
}

/// An ingress whose Forge remote trusts `ForgeSim`'s JWKS, with `options` (their `extra_env`
/// wins over the Forge settings set here).
pub async fn spawn_forge_app_with(mut options: TestOptions) -> ForgeTestApp {
    let port = free_port();
    let forge = ForgeSim::start(
        ForgeApp::new(&format!("http://127.0.0.1:{port}")),
        FORGE_APP_UUID,
        ProductSim::start().await,
    )
    .await;
    let mut env = vec![
        ("HOOKLINE_SERVER__PORT", port.to_string()),
        ("HOOKLINE_FORGE__APP_ID", FORGE_APP_UUID.to_owned()),
        ("HOOKLINE_FORGE__JWKS_URL", forge.jwks_url()),
        ("HOOKLINE_FORGE__API_BASE_URL_HOSTS", "127.0.0.1".to_owned()),
    ];
    env.append(&mut options.extra_env);
    options.extra_env = env;
    let app = spawn_app_with(options).await;
    ForgeTestApp { app, forge }
}

pub async fn spawn_forge_app() -> ForgeTestApp {
    spawn_forge_app_with(TestOptions::default()).await
}

impl ForgeTestApp {
    /// POSTs `body` to `path` as Forge does, with `fit` as the bearer token (none: no
    /// `Authorization`) and the site's current system token.
    pub async fn call(
        &self,
        path: &str,
        fit: Option<&str>,
        site: &ForgeSite,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(self.app.url(path))
            .header("x-forge-oauth-system", self.forge.system_token(site))
            .json(body);
        if let Some(fit) = fit {
            request = request.header("Authorization", format!("Bearer {fit}"));
        }
        request.send().await.expect("the ingress answers")
    }

    /// POSTs an event to `/forge/events` with a valid token of `site`.
    pub async fn event(&self, site: &ForgeSite, body: &Value) -> reqwest::Response {
        let fit = self.forge.mint_fit(site, &self.forge.app().events_key);
        self.call("/forge/events", Some(&fit), site, body).await
    }

    /// A site installed in the simulator (no `installed` event sent).
    pub fn site(&self, name: &str, product: common::tenant::ProductType) -> ForgeSite {
        self.forge
            .install_without_event(name, product)
            .unwrap_or_else(|e| panic!("installing {name} in the simulator: {e:#}"))
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free local port");
    listener.local_addr().expect("a bound address").port()
}

/// The key of the Custom UI module a test's UI calls come from (`app.module.key` of a UI
/// call names the UI module, not the endpoint).
pub const UI_MODULE_KEY: &str = "hookline-rules-admin";
/// The key of the resolver endpoint of the Custom UI pages (`common::forge::UI`).
pub const UI_ENDPOINT_KEY: &str = "hookline-ui";

/// The claims of a Custom UI call's token (Atlassian's documented shape for a UI invocation):
/// the site's installation, `module` the UI module, `context` the page's site and module, and
/// `principal` the user (none: no user in session).
pub fn ui_fit_claims(forge: &ForgeSim, site: &ForgeSite, principal: Option<&str>) -> Value {
    let mut claims = forge.fit_claims(site, UI_MODULE_KEY);
    claims["app"]["module"] = serde_json::json!({ "type": "jira:adminPage", "key": UI_MODULE_KEY });
    claims["context"] = serde_json::json!({
        "cloudId": site.cloud_id,
        "localId": format!("ari:cloud:ecosystem::extension/{UI_MODULE_KEY}"),
        "moduleKey": UI_MODULE_KEY,
        "siteUrl": format!("https://{}.atlassian.net", site.cloud_id),
        "extension": { "type": "jira:adminPage" },
    });
    if let Some(principal) = principal {
        claims["principal"] = serde_json::json!(principal);
    }
    claims
}

/// A valid token of a Custom UI call by `principal` on `site`, signed with the current key.
pub fn ui_fit(forge: &ForgeSim, site: &ForgeSite, principal: Option<&str>) -> String {
    let kid = forge.current_kid();
    forge.sign_fit(&ui_fit_claims(forge, site, principal), Some(&kid))
}

impl ForgeTestApp {
    /// [`ui_fit_claims`] of this app's Forge.
    pub fn ui_fit_claims(&self, site: &ForgeSite, principal: Option<&str>) -> Value {
        ui_fit_claims(&self.forge, site, principal)
    }

    /// [`ui_fit`] of this app's Forge.
    pub fn ui_fit(&self, site: &ForgeSite, principal: Option<&str>) -> String {
        ui_fit(&self.forge, site, principal)
    }

    /// Sends a Custom UI call as Forge forwards `invokeRemote({path, method, body})`: `fit`
    /// as the bearer token, the site's system token, and `headers`.
    pub async fn ui_call(
        &self,
        method: reqwest::Method,
        path: &str,
        fit: &str,
        site: &ForgeSite,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(fit)
            .header("x-forge-oauth-system", self.forge.system_token(site));
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the ingress answers")
    }

    /// [`ForgeTestApp::ui_call`] with a fresh token of `principal` and no extra headers.
    pub async fn ui(
        &self,
        method: reqwest::Method,
        path: &str,
        site: &ForgeSite,
        principal: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let fit = self.ui_fit(site, principal);
        self.ui_call(method, path, &fit, site, body, &[]).await
    }
}

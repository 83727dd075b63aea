//! The Forge Custom UI rules page (`forge-ui/rules/`) in a real headless Chromium, served by a
//! stand-in Forge host with a strict Content-Security-Policy: the page's `invokeRemote` calls
//! go through a stand-in `window.__bridge` to the host, which forwards each to the test ingress
//! with a freshly minted Forge Invocation Token, as Forge does. The page lists a rule, creates
//! one through the form and disables another; the screenshot goes to `target/screenshots/`.
//!
//! Needs Chromium, Node.js and the browser project (`browser_support`).
mod browser_support;
mod support;

use std::path::{Path, PathBuf};

use browser_support::{check_prerequisites, run_script, screenshot_dir};

use common::tenant::ProductType;
use reqwest::Method;
use serde_json::{json, Value};
use simulator::{ForgeSendOptions, ForgeSim, ForgeSite};
use support::forge::{spawn_forge_app, ui_fit};
use warp::Filter;

const ADMIN: &str = "557058:forge-admin-0001";
/// About what Forge allows a Custom UI page by default: its own files and nothing inline.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; object-src 'none'; base-uri 'self'";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Forwards one `invokeRemote` payload (`{path, method, body}`) to the ingress as Forge does,
/// and answers as Forge's bridge does: `{success, payload | error: {status, headers, body}}`.
async fn invoke(call: Value, forge: ForgeSim, site: ForgeSite, ingress: String) -> Value {
    let path = call["path"].as_str().unwrap_or("/");
    let method = call["method"].as_str().unwrap_or("GET");
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    let mut request = reqwest::Client::new()
        .request(method, format!("{ingress}{path}"))
        .bearer_auth(ui_fit(&forge, &site, Some(ADMIN)))
        .header("x-forge-oauth-system", forge.system_token(&site));
    if let Some(body) = call.get("body").filter(|body| !body.is_null()) {
        request = request.json(body);
    }
    let Ok(response) = request.send().await else {
        return json!({"success": false, "error": {"status": 502, "headers": {}}});
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let answer = json!({"status": status.as_u16(), "headers": {}, "body": body});
    if status.is_success() {
        json!({"success": true, "payload": answer})
    } else {
        json!({"success": false, "error": answer})
    }
}

/// The stand-in Forge host: `forge-ui/rules/` under `/rules/` with [`CSP`], and `POST /invoke`.
fn serve_forge_host(forge: ForgeSim, site: ForgeSite, ingress: String) -> String {
    let resource = warp::path("rules")
        .and(warp::fs::dir(repo().join("forge-ui/rules")))
        .map(|file| warp::reply::with_header(file, "content-security-policy", CSP));
    let invoke = warp::path!("invoke")
        .and(warp::post())
        .and(warp::body::json())
        .then(move |call: Value| {
            let (forge, site, ingress) = (forge.clone(), site.clone(), ingress.clone());
            async move { warp::reply::json(&invoke(call, forge, site, ingress).await) }
        });
    let (address, server) = warp::serve(resource.or(invoke)).bind_ephemeral(([127, 0, 0, 1], 0));
    tokio::spawn(server);
    format!("http://{address}")
}

#[test]
fn the_resources_shared_copies_are_current() {
    let output = std::process::Command::new("sh")
        .arg(repo().join("forge-ui/build.sh"))
        .arg("--check")
        .output()
        .expect("sh runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_site_admin_creates_a_rule_on_the_custom_ui_page_in_chromium() {
    check_prerequisites();
    let app = spawn_forge_app().await;
    app.forge.set_lifecycle_options(ForgeSendOptions::fast());
    let (site, _) = app
        .forge
        .install("browser", ProductType::Jira)
        .await
        .expect("installs");
    app.forge.product().set_admins(&site.site_key, &[ADMIN]);
    let existing = json!({"name": "Existing rule", "event": "jira:issue_updated",
                          "conditions": [{"type": "changed", "field": "priority"}],
                          "action": {"type": "jira_label", "label": "needs-attention"}});
    let response = app
        .ui(
            Method::POST,
            "/forge/ui/rules",
            &site,
            Some(ADMIN),
            Some(&existing),
        )
        .await;
    assert_eq!(response.status(), 201);

    let host = serve_forge_host(app.forge.clone(), site.clone(), app.app.address.clone());
    let context = json!({"cloudId": site.cloud_id, "moduleKey": "hookline-rules-admin",
                         "accountId": ADMIN, "locale": "en-US",
                         "extension": {"type": "jira:adminPage"}});
    let screenshots = screenshot_dir();
    let page = format!("{host}/rules/index.html");
    let context = context.to_string();
    let log = run_script(
        "forge.js",
        &[page.as_ref(), context.as_ref(), screenshots.as_ref()],
    )
    .await;

    let listed = app
        .ui(Method::GET, "/forge/ui/rules", &site, None, None)
        .await
        .json::<Value>()
        .await
        .expect("JSON");
    let rules = listed["rules"].as_array().expect("rules");
    let created = rules
        .iter()
        .find(|rule| rule["name"] == "Welcome from Forge")
        .unwrap_or_else(|| panic!("the form's rule is stored: {listed}\n{log}"));
    assert_eq!(
        created["conditions"],
        json!([{"type": "project_key", "key": "KAN"}])
    );
    let disabled = rules.iter().find(|rule| rule["name"] == "Existing rule");
    assert_eq!(disabled.map(|rule| &rule["enabled"]), Some(&json!(false)));
    let shot = screenshots.join("forge-rules.png");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "{} was written", shot.display());
    app.app.stop().await;
}

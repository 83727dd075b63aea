//! The rules page and the activity panel in a real headless Chromium: the page loads with its
//! page token, gets context tokens from an all.js stand-in, creates a rule through the form
//! and lists it; screenshots go to `target/screenshots/`.
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`), Node.js, and `npm ci` in `ingress/tests/browser`;
//! `scripts/test` installs all three.
mod support;
mod ui_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::tenant::{ClientKey, ProductType};
use serde_json::json;
use ui_support::{comment_rule, spawn_ui_app, Outcome, Site, ADMIN};
use warp::Filter;

const BROWSER_RUN_TIMEOUT: Duration = Duration::from_secs(180);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails with what to install when the browser, Node.js or playwright-core is missing.
fn check_prerequisites() {
    let chromium = chromium();
    assert!(
        chromium.is_file(),
        "Chromium is not installed at {} (set CHROMIUM to another path): run scripts/test, which \
         installs it with apt-get as root, or `apt-get install chromium`",
        chromium.display()
    );
    let playwright = browser_dir().join("node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "playwright-core is not installed in {}: run scripts/test, or \
         `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix ingress/tests/browser`",
        browser_dir().display()
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|output| output.status.success()),
        "Node.js is not installed: run scripts/test, or `apt-get install nodejs npm`"
    );
}

/// Serves `GET /all.js`: a stand-in for Atlassian's all.js whose `AP.context.getToken`
/// hands out `context_token`. Returns its URL.
fn serve_all_js(context_token: &str) -> String {
    let script = format!(
        "window.AP = {{\n\
           context: {{ getToken: function (callback) {{ var token = {token:?};\n\
             if (callback) {{ callback(token); }} return Promise.resolve(token); }} }},\n\
           resize: function () {{}},\n\
           sizeToParent: function () {{}}\n\
         }};\n",
        token = context_token
    );
    let route = warp::path!("all.js")
        .map(move || warp::reply::with_header(script.clone(), "content-type", "text/javascript"));
    let (address, server) = warp::serve(route).bind_ephemeral(([127, 0, 0, 1], 0));
    tokio::spawn(server);
    format!("http://{address}/all.js")
}

#[tokio::test]
async fn a_site_admin_creates_a_rule_in_chromium_and_sees_the_activity_panel() {
    check_prerequisites();
    let site = Site {
        client_key: "jira-browser",
        secret: "browser-secret",
    };
    let all_js_url = serve_all_js(&site.context_token(Some(ADMIN)));
    let ui = spawn_ui_app(Some(all_js_url)).await;
    ui.install(site.client_key, site.secret, ProductType::Jira)
        .await;
    ui.sim.set_admins(site.client_key, &[ADMIN]);

    let hostile = ui
        .create_rule(
            site,
            &comment_rule("<img src=x onerror=window.__xss=1> escaped"),
        )
        .await;
    let labels = ui
        .create_rule(
            site,
            &json!({"name": "Label high priority", "event": "jira:issue_updated",
                    "conditions": [{"type": "changed", "field": "priority"}],
                    "action": {"type": "jira_label", "label": "needs-attention"}}),
        )
        .await;
    let (hostile, labels) = (
        hostile["id"].as_i64().unwrap(),
        labels["id"].as_i64().unwrap(),
    );
    ui.ledger_row(site, "d1", 0, "KAN-1", Outcome::NoMatch)
        .await;
    ui.ledger_row(site, "d2", hostile, "KAN-1", Outcome::Done("10042"))
        .await;
    ui.ledger_row(
        site,
        "d3",
        labels,
        "KAN-1",
        Outcome::Dead("403 from /rest/api/2/issue/KAN-1: the app lacks permission"),
    )
    .await;

    let query =
        "lic=none&tz=Europe%2FBerlin&loc=en-GB&xdm_e=https%3A%2F%2Fjira-browser.atlassian.net";
    let rules_url = ui.app.url(&site.page_url(&format!("/pages/rules?{query}")));
    let activity_url = ui
        .app
        .url(&site.page_url(&format!("/pages/activity?issueKey=KAN-1&{query}")));
    let screenshots = screenshot_dir();
    let run = tokio::process::Command::new("node")
        .arg(browser_dir().join("rules.js"))
        .arg(&rules_url)
        .arg(&activity_url)
        .arg(&screenshots)
        .env("CHROMIUM", chromium())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BROWSER_RUN_TIMEOUT, run)
        .await
        .expect("the browser run finishes within 3 minutes")
        .expect("node runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the browser run failed:\n{log}");

    let key = ClientKey::parse(site.client_key).expect("client key");
    let rules = ui.app.state.stores.rules.list(&key).await.expect("rules");
    let created = rules
        .iter()
        .find(|rule| rule.spec.name == "Welcome new issues")
        .unwrap_or_else(|| panic!("the form's rule is stored: {rules:?}\n{log}"));
    assert_eq!(
        serde_json::to_value(&created.spec.conditions).expect("JSON"),
        json!([{"type": "equals", "pointer": "/issue/fields/priority/name", "value": "High"},
               {"type": "project_key", "key": "KAN"}])
    );
    assert!(created.spec.enabled);
    let disabled = rules.iter().find(|rule| rule.id == hostile).expect("kept");
    assert!(!disabled.spec.enabled, "disabled from the page");
    for name in ["rules.png", "rules-validation.png", "activity.png"] {
        let path = screenshots.join(name);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "{} was written", path.display());
    }
    ui.app.stop().await;
}

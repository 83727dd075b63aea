//! The rules page and the activity panel in a real headless Chromium: the page loads with its
//! page token, gets context tokens from an all.js stand-in, creates a rule through the form
//! and lists it; screenshots go to `target/screenshots/`.
//!
//! Needs Chromium, Node.js and the browser project (`browser_support`); `scripts/test` installs
//! all three.
mod browser_support;
mod support;
mod ui_support;

use browser_support::{check_prerequisites, run_script, screenshot_dir};

use common::tenant::{ClientKey, ProductType};
use serde_json::json;
use ui_support::{comment_rule, spawn_ui_app, Outcome, Site, ADMIN};
use warp::Filter;

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
    let log = run_script(
        "rules.js",
        &[
            rules_url.as_ref(),
            activity_url.as_ref(),
            screenshots.as_ref(),
        ],
    )
    .await;

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

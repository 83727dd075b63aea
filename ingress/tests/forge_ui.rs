//! The Custom UI pages' API as Forge calls it (docs/forge.md "Custom UI pages"): a page's
//! `invokeRemote` reaches `/forge/ui/...` with a Forge Invocation Token whose installation is
//! the tenant and whose `principal` is the user. Rules are listed, created, changed, previewed
//! and deleted through the Connect API's own handlers; only site admins may change them (asked
//! with the app system token, or the user's own token when the call brings one); unknown
//! installations, tokens for another endpoint and other installations' rules are refused.
mod support;

use common::tenant::ProductType;
use reqwest::Method;
use serde_json::{json, Value};
use simulator::{ForgeSendOptions, ForgeSite};
use support::assert_error;
use support::forge::{spawn_forge_app, ForgeTestApp};
use warp::Filter;

/// A site admin in the simulated sites where a test makes them one.
const ADMIN: &str = "557058:forge-admin-0001";
/// A user who is no admin.
const USER: &str = "557058:forge-user-0002";

fn comment_rule(name: &str) -> Value {
    json!({
        "name": name,
        "event": "jira:issue_created",
        "conditions": [{"type": "project_key", "key": "KAN"}],
        "action": {"type": "jira_comment", "template": "Thanks! {{ issue.key }} is queued."}
    })
}

/// A site whose installation hookline registered (`avi:forge:installed:app`), with `ADMIN`.
async fn installed(app: &ForgeTestApp, name: &str, product: ProductType) -> ForgeSite {
    app.forge.set_lifecycle_options(ForgeSendOptions::fast());
    let (site, delivery) = app.forge.install(name, product).await.expect("installs");
    assert_eq!(delivery.attempts, [200], "installed is registered");
    app.forge.product().set_admins(&site.site_key, &[ADMIN]);
    site
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "answer: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, got {text:?}"))
}

#[tokio::test]
async fn a_site_admin_manages_rules_through_the_custom_ui_api() {
    let app = spawn_forge_app().await;
    let site = installed(&app, "acme", ProductType::Jira).await;

    let form = json_of(
        app.ui(Method::GET, "/forge/ui/site", &site, Some(USER), None)
            .await,
        200,
    )
    .await;
    assert_eq!(form["product"], "jira");
    assert!(form["events"]
        .as_array()
        .expect("events")
        .contains(&json!("jira:issue_created")));
    assert_eq!(
        form["actions"][0],
        json!({"value": "jira_comment", "label": "Add a comment"}),
        "the Connect page's own choices"
    );
    assert_eq!(form["conditions"][0]["value"], "project_key");
    let empty = json_of(
        app.ui(Method::GET, "/forge/ui/rules", &site, Some(USER), None)
            .await,
        200,
    )
    .await;
    assert_eq!(empty, json!({"rules": []}));

    let rule = comment_rule("Triage");
    let created = app
        .ui(
            Method::POST,
            "/forge/ui/rules",
            &site,
            Some(ADMIN),
            Some(&rule),
        )
        .await;
    let location = created.headers().get("location").cloned();
    let created = json_of(created, 201).await;
    let id = created["id"].as_i64().expect("an id");
    assert_eq!(created["summary"]["conditions"], json!(["project is KAN"]));
    assert_eq!(
        location.expect("a Location").to_str().expect("ASCII"),
        format!("/forge/ui/rules/{id}")
    );

    // The same validation as the Connect page: every problem by field.
    let bad = json!({"name": "", "event": "jira:issue_created", "conditions": [],
                     "action": {"type": "confluence_label", "label": "x"}});
    let refused = json_of(
        app.ui(
            Method::POST,
            "/forge/ui/rules",
            &site,
            Some(ADMIN),
            Some(&bad),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(refused["code"], "invalid_rule");
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"action.type"),
        "{refused}"
    );

    let path = format!("/forge/ui/rules/{id}");
    let changed = json_of(
        app.ui(
            Method::PATCH,
            &path,
            &site,
            Some(ADMIN),
            Some(&json!({"enabled": false})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["enabled"], false);
    // Should Forge put the endpoint's route in front of the page's path, it still arrives.
    let listed = json_of(
        app.ui(
            Method::GET,
            "/forge/ui/forge/ui/rules",
            &site,
            Some(USER),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["rules"][0]["name"], "Triage");
    assert_eq!(listed["rules"][0]["enabled"], false);

    let preview = json!({"template": "Hi {{ issue.key }}", "event": "jira:issue_created"});
    let rendered = json_of(
        app.ui(
            Method::POST,
            "/forge/ui/rules/preview",
            &site,
            Some(USER),
            Some(&preview),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rendered["text"], "Hi KAN-22");
    let activity = json_of(
        app.ui(
            Method::GET,
            "/forge/ui/activity?issueKey=KAN-1",
            &site,
            Some(USER),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(activity, json!({"entries": [], "issueKey": "KAN-1"}));

    let deleted = json_of(
        app.ui(Method::DELETE, &path, &site, Some(ADMIN), None)
            .await,
        200,
    )
    .await;
    assert_eq!(deleted, json!({"deleted": id}));
    let gone = app
        .ui(Method::DELETE, &path, &site, Some(ADMIN), None)
        .await;
    assert_error(gone, 404, "rule_not_found").await;

    // The admin was asked about with the app system token, at the installation's apiBaseUrl.
    let checks: Vec<_> = app
        .forge
        .product()
        .requests(&site.site_key)
        .into_iter()
        .filter(|r| r.path.ends_with("/rest/api/3/permissions/check"))
        .collect();
    assert!(!checks.is_empty(), "the product was asked");
    assert!(
        checks.iter().all(|r| r.jwt.is_ok() && r.status == 200),
        "{checks:?}"
    );
    app.app.stop().await;
}

#[tokio::test]
async fn only_a_site_admin_may_change_rules_but_anyone_may_read_them() {
    let app = spawn_forge_app().await;
    let site = installed(&app, "acme", ProductType::Jira).await;
    let rule = comment_rule("Triage");
    let refused = app
        .ui(
            Method::POST,
            "/forge/ui/rules",
            &site,
            Some(USER),
            Some(&rule),
        )
        .await;
    assert_error(refused, 403, "not_admin").await;
    let anonymous = app
        .ui(Method::POST, "/forge/ui/rules", &site, None, Some(&rule))
        .await;
    assert_error(anonymous, 403, "no_user").await;
    let created = json_of(
        app.ui(
            Method::POST,
            "/forge/ui/rules",
            &site,
            Some(ADMIN),
            Some(&rule),
        )
        .await,
        201,
    )
    .await;
    let path = format!("/forge/ui/rules/{}", created["id"]);
    let refused = app.ui(Method::DELETE, &path, &site, Some(USER), None).await;
    assert_error(refused, 403, "not_admin").await;
    let listed = json_of(
        app.ui(Method::GET, "/forge/ui/rules", &site, None, None)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["rules"].as_array().map(Vec::len), Some(1));
    app.app.stop().await;
}

#[tokio::test]
async fn a_confluence_admin_is_known_by_their_groups() {
    let app = spawn_forge_app().await;
    let site = installed(&app, "wiki", ProductType::Confluence).await;
    let rule = json!({"name": "Label pages", "event": "page_created", "conditions": [],
                      "action": {"type": "confluence_label", "label": "seen"}});
    let refused = app
        .ui(
            Method::POST,
            "/forge/ui/rules",
            &site,
            Some(USER),
            Some(&rule),
        )
        .await;
    assert_error(refused, 403, "not_admin").await;
    json_of(
        app.ui(
            Method::POST,
            "/forge/ui/rules",
            &site,
            Some(ADMIN),
            Some(&rule),
        )
        .await,
        201,
    )
    .await;
    let form = json_of(
        app.ui(Method::GET, "/forge/ui/site", &site, Some(ADMIN), None)
            .await,
        200,
    )
    .await;
    assert_eq!(form["product"], "confluence");
    app.app.stop().await;
}

#[tokio::test]
async fn an_installation_hookline_does_not_know_is_refused() {
    let app = spawn_forge_app().await;
    // Installed in Forge, but hookline never heard of it (no installed event, no trigger).
    let site = app.site("stranger", ProductType::Jira);
    let refused = app
        .ui(Method::GET, "/forge/ui/rules", &site, Some(ADMIN), None)
        .await;
    assert_error(refused, 404, "installation_unknown").await;
    app.app.stop().await;
}

#[tokio::test]
async fn an_installation_sees_and_changes_only_its_own_rules() {
    let app = spawn_forge_app().await;
    let a = installed(&app, "alpha", ProductType::Jira).await;
    let b = installed(&app, "beta", ProductType::Jira).await;
    let created = json_of(
        app.ui(
            Method::POST,
            "/forge/ui/rules",
            &a,
            Some(ADMIN),
            Some(&comment_rule("A's")),
        )
        .await,
        201,
    )
    .await;
    let listed = json_of(
        app.ui(Method::GET, "/forge/ui/rules", &b, Some(ADMIN), None)
            .await,
        200,
    )
    .await;
    assert_eq!(listed, json!({"rules": []}));
    let path = format!("/forge/ui/rules/{}", created["id"]);
    let changed = app
        .ui(
            Method::PATCH,
            &path,
            &b,
            Some(ADMIN),
            Some(&json!({"enabled": false})),
        )
        .await;
    assert_error(changed, 404, "rule_not_found").await;
    let deleted = app.ui(Method::DELETE, &path, &b, Some(ADMIN), None).await;
    assert_error(deleted, 404, "rule_not_found").await;
    let kept = json_of(
        app.ui(Method::GET, "/forge/ui/rules", &a, Some(ADMIN), None)
            .await,
        200,
    )
    .await;
    assert_eq!(kept["rules"][0]["enabled"], true);
    app.app.stop().await;
}

#[tokio::test]
async fn tokens_for_another_endpoint_or_used_twice_or_absent_are_refused() {
    let app = spawn_forge_app().await;
    let site = installed(&app, "acme", ProductType::Jira).await;
    let events_fit = app.forge.mint_fit(&site, &app.forge.app().events_key);
    let refused = app
        .ui_call(
            Method::GET,
            "/forge/ui/rules",
            &events_fit,
            &site,
            None,
            &[],
        )
        .await;
    assert_error(refused, 401, "fit_wrong_endpoint").await;
    let fit = app.ui_fit(&site, Some(ADMIN));
    let first = app
        .ui_call(Method::GET, "/forge/ui/rules", &fit, &site, None, &[])
        .await;
    assert_eq!(first.status(), 200);
    let again = app
        .ui_call(Method::GET, "/forge/ui/rules", &fit, &site, None, &[])
        .await;
    assert_error(again, 401, "fit_replayed").await;
    let missing = app
        .app
        .client
        .get(app.app.url("/forge/ui/rules"))
        .send()
        .await
        .expect("answers");
    assert_error(missing, 401, "fit_missing").await;
    app.app.stop().await;
}

/// A stand-in for a Jira site's API answering `mypermissions` as the user of the bearer token:
/// `admin-token` holds ADMINISTER, any other token does not. Returns its apiBaseUrl.
fn serve_my_permissions(cloud_id: &str) -> String {
    let route = warp::path!("ex" / "jira" / String / "rest" / "api" / "3" / "mypermissions")
        .and(warp::query::raw())
        .and(warp::header::<String>("authorization"))
        .map(|_cloud: String, query: String, authorization: String| {
            assert_eq!(query, "permissions=ADMINISTER");
            let have = authorization == "Bearer admin-token";
            warp::reply::json(&json!({"permissions": {"ADMINISTER": {"key": "ADMINISTER", "type": "GLOBAL", "havePermission": have}}}))
        });
    let (address, server) = warp::serve(route).bind_ephemeral(([127, 0, 0, 1], 0));
    tokio::spawn(server);
    format!("http://{address}/ex/jira/{cloud_id}")
}

#[tokio::test]
async fn with_a_user_token_jira_is_asked_about_the_user_itself() {
    let app = spawn_forge_app().await;
    let site = installed(&app, "acme", ProductType::Jira).await;
    let api_base_url = serve_my_permissions(&site.cloud_id);
    let fit_as = |principal: &str| {
        let mut claims = app.ui_fit_claims(&site, Some(principal));
        claims["app"]["apiBaseUrl"] = json!(api_base_url);
        claims["app"]["installation"]["contexts"][0]["apiBaseUrl"] = json!(api_base_url);
        app.forge.sign_fit(&claims, Some(&app.forge.current_kid()))
    };
    let rule = comment_rule("Mine");
    // The simulator's own check would say USER is no admin: the user token's answer wins.
    let fit = fit_as(USER);
    let created = app
        .ui_call(
            Method::POST,
            "/forge/ui/rules",
            &fit,
            &site,
            Some(&rule),
            &[("x-forge-oauth-user", "admin-token")],
        )
        .await;
    json_of(created, 201).await;
    let fit = fit_as("557058:forge-user-0003");
    let refused = app
        .ui_call(
            Method::POST,
            "/forge/ui/rules",
            &fit,
            &site,
            Some(&rule),
            &[("x-forge-oauth-user", "user-token")],
        )
        .await;
    assert_error(refused, 403, "not_admin").await;
    app.app.stop().await;
}

//! The rules API of the pages: context tokens, tenant isolation, admin-only changes (asked of
//! the simulated product with the app's JWT), validation by field, and the template preview.
mod support;
mod ui_support;

use common::tenant::{ClientKey, ProductType};
use reqwest::Method;
use serde_json::{json, Value};
use simulator::{Endpoint, Fault, FaultKind};
use support::assert_error;
use ui_support::{comment_rule, spawn_ui_app, UiApp, ADMIN, USER};

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{body}");
    body
}

async fn stored_rules(ui: &UiApp, client_key: &str) -> Vec<common::rules::Rule> {
    let key = ClientKey::parse(client_key).expect("client key");
    ui.app
        .state
        .stores
        .rules
        .list(&key)
        .await
        .expect("rules")
        .to_vec()
}

fn admin_checks(ui: &UiApp, client_key: &str) -> Vec<simulator::RecordedRequest> {
    ui.sim
        .requests(client_key)
        .into_iter()
        .filter(|r| r.path.ends_with("/permissions/check") || r.path.ends_with("/user/memberof"))
        .collect()
}

#[tokio::test]
async fn the_api_takes_a_context_token_or_one_bound_to_the_request_and_nothing_else() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;

    let response = ui.api(Method::GET, "/api/rules", None, None).await;
    assert!(response.headers().contains_key("content-security-policy"));
    assert_error(response, 401, "jwt_missing").await;

    let other_url = site.page_token("/api/activity?issueKey=KAN-1", Some(ADMIN));
    let response = ui
        .api(Method::GET, "/api/rules", Some(&other_url), None)
        .await;
    assert_error(response, 401, "jwt_qsh_mismatch").await;

    let bound = site.page_token("/api/rules", Some(ADMIN));
    let response = ui.api(Method::GET, "/api/rules", Some(&bound), None).await;
    assert_eq!(json_of(response, 200).await, json!({"rules": []}));

    let context = site.context_token(Some(USER));
    let response = ui
        .api(Method::GET, "/api/rules", Some(&context), None)
        .await;
    assert!(response.headers().contains_key("content-security-policy"));
    assert_eq!(json_of(response, 200).await, json!({"rules": []}));
    ui.app.stop().await;
}

#[tokio::test]
async fn a_site_admin_creates_disables_and_deletes_a_rule() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    let token = site.context_token(Some(ADMIN));

    let response = ui
        .api(
            Method::POST,
            "/api/rules",
            Some(&token),
            Some(&comment_rule("triage")),
        )
        .await;
    assert!(response.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/api/rules/"));
    let created = json_of(response, 201).await;
    assert_eq!(created["name"], "triage");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["summary"]["conditions"], json!(["project is KAN"]));
    let id = created["id"].as_i64().expect("an id");
    let stored = stored_rules(&ui, "jira-a").await;
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].id, stored[0].spec.name.as_str()), (id, "triage"));

    let path = format!("/api/rules/{id}");
    let response = ui
        .api(
            Method::PATCH,
            &path,
            Some(&token),
            Some(&json!({"enabled": false})),
        )
        .await;
    assert_eq!(json_of(response, 200).await["enabled"], false);
    assert!(!stored_rules(&ui, "jira-a").await[0].spec.enabled);

    let listed = json_of(
        ui.api(Method::GET, "/api/rules", Some(&token), None).await,
        200,
    )
    .await;
    assert_eq!(listed["rules"][0]["id"], id);

    let response = ui.api(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(response.status(), 204);
    assert!(stored_rules(&ui, "jira-a").await.is_empty());
    let response = ui.api(Method::DELETE, &path, Some(&token), None).await;
    assert_error(response, 404, "rule_not_found").await;

    let checks = admin_checks(&ui, "jira-a");
    assert_eq!(checks.len(), 1, "one verdict, cached: {checks:?}");
    assert_eq!(checks[0].method, "POST");
    assert_eq!(
        checks[0].jwt,
        Ok(()),
        "the simulator verified the app's JWT"
    );
    ui.app.stop().await;
}

#[tokio::test]
async fn users_who_are_not_site_admins_can_read_but_not_change_rules() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    let id = ui.create_rule(site, &comment_rule("triage")).await["id"]
        .as_i64()
        .expect("an id");
    let path = format!("/api/rules/{id}");

    let user = site.context_token(Some(USER));
    let response = ui.api(Method::GET, "/api/rules", Some(&user), None).await;
    assert_eq!(json_of(response, 200).await["rules"][0]["id"], id);
    let response = ui
        .api(
            Method::POST,
            "/api/rules",
            Some(&user),
            Some(&comment_rule("mine")),
        )
        .await;
    assert_error(response, 403, "not_admin").await;
    let response = ui
        .api(
            Method::PATCH,
            &path,
            Some(&user),
            Some(&json!({"enabled": false})),
        )
        .await;
    assert_error(response, 403, "not_admin").await;
    let response = ui.api(Method::DELETE, &path, Some(&user), None).await;
    assert_error(response, 403, "not_admin").await;

    let nobody = site.context_token(None);
    let response = ui.api(Method::DELETE, &path, Some(&nobody), None).await;
    assert_error(response, 403, "no_user").await;

    let stored = stored_rules(&ui, "jira-a").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].spec.enabled, "nothing changed");
    ui.app.stop().await;
}

#[tokio::test]
async fn confluence_admins_are_the_members_of_an_admin_group() {
    let ui = spawn_ui_app(None).await;
    let site = ui
        .install("conf-a", "secret-a", ProductType::Confluence)
        .await;
    ui.sim.set_admins("conf-a", &[ADMIN]);
    let rule = json!({
        "name": "welcome", "event": "page_created",
        "conditions": [{"type": "space_key", "key": "WTR"}],
        "action": {"type": "confluence_label", "label": "welcomed"}
    });

    let user = site.context_token(Some(USER));
    let response = ui
        .api(Method::POST, "/api/rules", Some(&user), Some(&rule))
        .await;
    assert_error(response, 403, "not_admin").await;
    let admin = site.context_token(Some(ADMIN));
    let response = ui
        .api(Method::POST, "/api/rules", Some(&admin), Some(&rule))
        .await;
    assert_eq!(json_of(response, 201).await["action"]["label"], "welcomed");

    let checks = admin_checks(&ui, "conf-a");
    assert_eq!(checks.len(), 2, "one per user: {checks:?}");
    assert!(checks
        .iter()
        .all(|c| c.method == "GET" && c.path.ends_with("/wiki/rest/api/user/memberof")));
    assert!(checks.iter().all(|c| c.jwt == Ok(())), "{checks:?}");
    ui.app.stop().await;
}

#[tokio::test]
async fn a_token_of_another_tenant_never_reaches_this_tenants_rules() {
    let ui = spawn_ui_app(None).await;
    let a = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let b = ui.install("jira-b", "secret-b", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    ui.sim.set_admins("jira-b", &[ADMIN]);
    let id = ui.create_rule(a, &comment_rule("a's rule")).await["id"]
        .as_i64()
        .expect("an id");
    let path = format!("/api/rules/{id}");

    let other = b.context_token(Some(ADMIN));
    let listed = json_of(
        ui.api(Method::GET, "/api/rules", Some(&other), None).await,
        200,
    )
    .await;
    assert_eq!(listed, json!({"rules": []}));
    let response = ui
        .api(
            Method::PATCH,
            &path,
            Some(&other),
            Some(&json!({"enabled": false})),
        )
        .await;
    assert_error(response, 404, "rule_not_found").await;
    let response = ui.api(Method::DELETE, &path, Some(&other), None).await;
    assert_error(response, 404, "rule_not_found").await;

    // B signing with its own secret but claiming A's clientKey fails the signature.
    let forged = ui_support::Site {
        client_key: "jira-a",
        secret: "secret-b",
    };
    let response = ui
        .api(
            Method::DELETE,
            &path,
            Some(&forged.context_token(Some(ADMIN))),
            None,
        )
        .await;
    assert_error(response, 401, "jwt_bad_signature").await;

    let stored = stored_rules(&ui, "jira-a").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].spec.enabled);
    ui.app.stop().await;
}

#[tokio::test]
async fn an_invalid_rule_gets_422_with_every_problem_by_field() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    let token = site.context_token(Some(ADMIN));

    let rule = json!({
        "name": " ", "event": "jira:issue_created",
        "conditions": [{"type": "equals", "pointer": "issue/key", "value": "KAN-1"}],
        "action": {"type": "confluence_comment", "template": "{{ unclosed"}
    });
    let body = json_of(
        ui.api(Method::POST, "/api/rules", Some(&token), Some(&rule))
            .await,
        422,
    )
    .await;
    assert_eq!(body["code"], "invalid_rule");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("a field"))
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "conditions[0].pointer",
            "action.type",
            "action.template"
        ]
    );

    let unknown_event = json!({"name": "x", "event": "jira:issue_exploded",
        "action": {"type": "jira_label", "label": "x"}});
    let body = json_of(
        ui.api(
            Method::POST,
            "/api/rules",
            Some(&token),
            Some(&unknown_event),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "event");

    let unknown_action = json!({"name": "x", "event": "jira:issue_created",
        "action": {"type": "jira_delete_everything"}});
    let body = json_of(
        ui.api(
            Method::POST,
            "/api/rules",
            Some(&token),
            Some(&unknown_action),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "rule");
    assert!(stored_rules(&ui, "jira-a").await.is_empty());
    ui.app.stop().await;
}

#[tokio::test]
async fn when_the_product_cannot_answer_the_admin_check_changes_get_503() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    ui.sim.inject(
        "jira-a",
        Fault::always(Endpoint::Admin, FaultKind::Status(500)),
    );
    let token = site.context_token(Some(ADMIN));
    let response = ui
        .api(
            Method::POST,
            "/api/rules",
            Some(&token),
            Some(&comment_rule("x")),
        )
        .await;
    assert_error(response, 503, "admin_check_failed").await;

    ui.sim.clear_faults("jira-a");
    let response = ui
        .api(
            Method::POST,
            "/api/rules",
            Some(&token),
            Some(&comment_rule("x")),
        )
        .await;
    assert_eq!(response.status(), 201, "a failure is not cached");
    ui.app.stop().await;
}

#[tokio::test]
async fn the_preview_renders_a_sample_of_the_sites_product_or_says_what_is_wrong() {
    let ui = spawn_ui_app(None).await;
    let jira = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let confluence = ui
        .install("conf-a", "secret-c", ProductType::Confluence)
        .await;
    let preview = |token: String, body: Value| {
        let ui = &ui;
        async move {
            let response = ui
                .api(
                    Method::POST,
                    "/api/rules/preview",
                    Some(&token),
                    Some(&body),
                )
                .await;
            json_of(response, 200).await
        }
    };

    let body = preview(
        jira.context_token(Some(USER)),
        json!({"template": "{{ issue.key }} by {{ user.displayName }} ({{ event }})",
               "event": "jira:issue_created", "action": "jira_comment"}),
    )
    .await;
    assert_eq!(
        body["text"],
        "KAN-22 by Sirajudheen MK (jira:issue_created)"
    );
    assert_eq!(body["sampleEvent"], "jira:issue_created");

    let body = preview(
        jira.context_token(Some(USER)),
        json!({"template": "{{ unclosed", "event": "jira:issue_created"}),
    )
    .await;
    assert!(body.get("text").is_none(), "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("an error")
            .contains("syntax error"),
        "{body}"
    );

    let body = preview(
        confluence.context_token(Some(USER)),
        json!({"template": "<p>{{ page.title }} & {{ '<b>' }}</p>", "event": "page_created",
               "action": "confluence_comment"}),
    )
    .await;
    assert_eq!(body["text"], "<p>Missing Resources & &lt;b&gt;</p>");

    let response = ui
        .api(
            Method::POST,
            "/api/rules/preview",
            None,
            Some(&json!({"template": "x"})),
        )
        .await;
    assert_error(response, 401, "jwt_missing").await;
    ui.app.stop().await;
}

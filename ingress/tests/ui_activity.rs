//! The activity API of the issue panel and page byline: this tenant's ledger rows of that
//! issue or page, and nothing else.
mod support;
mod ui_support;

use common::tenant::ProductType;
use reqwest::Method;
use serde_json::Value;
use support::assert_error;
use ui_support::{comment_rule, spawn_ui_app, Outcome, ADMIN, USER};

async fn activity(ui: &ui_support::UiApp, token: &str, query: &str) -> Vec<Value> {
    let response = ui
        .api(
            Method::GET,
            &format!("/api/activity?{query}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("content-security-policy"));
    let body: Value = response.json().await.expect("JSON");
    body["entries"].as_array().expect("entries").clone()
}

#[tokio::test]
async fn activity_shows_only_this_tenants_rows_of_that_issue() {
    let ui = spawn_ui_app(None).await;
    let a = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let b = ui.install("jira-b", "secret-b", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    let rule = ui.create_rule(a, &comment_rule("triage")).await["id"]
        .as_i64()
        .expect("an id");
    ui.ledger_row(a, "d1", rule, "KAN-1", Outcome::Done("10001"))
        .await;
    ui.ledger_row(
        a,
        "d2",
        rule,
        "KAN-1",
        Outcome::Dead("403 from /rest/api/2/issue/KAN-1/comment"),
    )
    .await;
    ui.ledger_row(a, "d3", 0, "KAN-2", Outcome::NoMatch).await;
    ui.ledger_row(b, "d1", 7, "KAN-1", Outcome::Done("555"))
        .await;

    let entries = activity(&ui, &a.context_token(Some(USER)), "issueKey=KAN-1").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["status"], "dead", "newest first");
    assert_eq!(
        entries[0]["error"],
        "403 from /rest/api/2/issue/KAN-1/comment"
    );
    assert_eq!(entries[1]["status"], "done");
    assert_eq!(entries[1]["resultId"], "10001");
    assert!(entries
        .iter()
        .all(|e| e["ruleName"] == "triage" && e["ruleId"] == rule));
    assert!(
        !entries.iter().any(|e| e["resultId"] == "555"),
        "never tenant B's row"
    );

    let entries = activity(&ui, &a.context_token(None), "issueKey=KAN-2").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0]["status"].as_str(), entries[0]["ruleId"].as_i64()),
        (Some("no_match"), Some(0))
    );
    assert!(entries[0]["ruleName"].is_null());

    let entries = activity(&ui, &b.context_token(Some(USER)), "issueKey=KAN-1").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["resultId"], "555");
    assert!(entries[0]["ruleName"].is_null(), "B has no rule 7");
    ui.app.stop().await;
}

#[tokio::test]
async fn a_stale_row_shows_with_the_newer_event_that_was_applied_instead() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-s", "secret-s", ProductType::Jira).await;
    let reason = "a newer event (delivery d3 at 2026-01-20T15:58:12.797Z, changelog 10026) was \
        already applied to KAN-3 (property workflow, by rule 4); this older one is not";
    ui.ledger_row(site, "d1", 4, "KAN-3", Outcome::Stale(reason))
        .await;
    ui.ledger_row(site, "d3", 4, "KAN-3", Outcome::Done(""))
        .await;

    let token = site.context_token(Some(USER));
    for query in ["issueKey=KAN-3", ""] {
        let entries = activity(&ui, &token, query).await;
        let stale: Vec<&Value> = entries.iter().filter(|e| e["status"] == "stale").collect();
        assert_eq!(stale.len(), 1, "{query}: {entries:?}");
        assert_eq!(stale[0]["error"], reason);
        assert_eq!(stale[0]["subject"], "KAN-3");
    }
    ui.app.stop().await;
}

#[tokio::test]
async fn activity_of_a_confluence_page_and_bad_requests() {
    let ui = spawn_ui_app(None).await;
    let site = ui
        .install("conf-a", "secret-a", ProductType::Confluence)
        .await;
    ui.ledger_row(site, "d1", 0, "194347009", Outcome::NoMatch)
        .await;
    let token = site.context_token(Some(USER));

    let entries = activity(&ui, &token, "pageId=194347009").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["event"], "page_created");
    assert!(activity(&ui, &token, "pageId=1").await.is_empty());

    for query in ["?issueKey=", "?issueKey=A&pageId=1", "?pageId=%0A"] {
        let response = ui
            .api(
                Method::GET,
                &format!("/api/activity{query}"),
                Some(&token),
                None,
            )
            .await;
        assert_error(response, 400, "invalid_subject").await;
    }
    let response = ui
        .api(Method::GET, "/api/activity?pageId=194347009", None, None)
        .await;
    assert_error(response, 401, "jwt_missing").await;
    ui.app.stop().await;
}

/// Without an issue or page, the site's latest activity, each row with what it was about,
/// including events that named nothing to act on, with their reason.
#[tokio::test]
async fn without_a_subject_the_sites_activity_is_listed_with_skipped_events_and_their_reason() {
    let ui = spawn_ui_app(None).await;
    let a = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let b = ui.install("jira-b", "secret-b", ProductType::Jira).await;
    ui.ledger_row(a, "d1", 0, "KAN-1", Outcome::NoMatch).await;
    ui.ledger_row(a, "d2", 0, "KAN-2", Outcome::NoMatch).await;
    ui.ledger_row(b, "d9", 0, "KAN-9", Outcome::NoMatch).await;
    let key = common::ledger::LedgerKey {
        client_key: common::tenant::ClientKey::parse("jira-a").expect("a key"),
        delivery_id: "d3".into(),
        rule_id: 5,
    };
    let receipt = common::ledger::Receipt {
        event_id: "d3",
        event: "comment_created",
        product: ProductType::Jira,
        subject: None,
    };
    ui.app
        .state
        .stores
        .ledger
        .record_skipped(&key, receipt, "the event names no issue, page or blog post")
        .await
        .expect("the ledger is written");

    let response = ui
        .api(
            Method::GET,
            "/api/activity",
            Some(&a.context_token(None)),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    let entries = body["entries"].as_array().expect("entries");
    let subjects: Vec<&Value> = entries.iter().map(|e| &e["subject"]).collect();
    assert_eq!(entries.len(), 3, "only this site's rows: {entries:?}");
    assert!(subjects.contains(&&Value::from("KAN-1")) && subjects.contains(&&Value::Null));
    let skipped = entries
        .iter()
        .find(|e| e["status"] == "skipped")
        .expect("the skipped event is listed");
    assert_eq!(
        skipped["error"],
        "the event names no issue, page or blog post"
    );
    assert_eq!(skipped["event"], "comment_created");

    let response = ui.app.get(&a.page_url("/pages/activity")).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("HTML");
    assert!(html.contains("this site"), "{html}");
    ui.app.stop().await;
}

//! `hookline rules ...` against PostgreSQL and the embedded SQLite database: every command is
//! scoped to its tenant, and rules are validated for the tenant's product.
mod admin_support;

use admin_support::{ck, AdminEnv};
use common::rules::Action;
use common::tenant::ProductType;

const COMMENT_RULE: &str = r#"{"name": "triage", "event": "jira:issue_created",
    "conditions": [{"type": "project_key", "key": "KAN"}],
    "action": {"type": "jira_comment", "template": "{{ issue.key }} is queued for triage."}}"#;

async fn two_sites(env: &AdminEnv) {
    env.install("site-a", ProductType::Jira).await;
    env.install("site-b", ProductType::Jira).await;
}

async fn add_from_a_file_or_inline_then_list(env: AdminEnv) {
    two_sites(&env).await;
    let file = env.dir.path().join("rule.json");
    std::fs::write(&file, COMMENT_RULE).unwrap();
    let out = env.ok(&["rules", "add", "site-a", "--file", file.to_str().unwrap()]);
    assert!(
        out.contains("added rule") && out.contains("for tenant site-a"),
        "{out}"
    );
    let inline = r#"{"name": "label", "event": "jira:issue_updated", "enabled": false,
        "action": {"type": "jira_label", "label": "touched"}}"#;
    env.ok(&["rules", "add", "site-a", "--json", inline]);

    let rules = env.rules().list(&ck("site-a")).await.unwrap();
    assert_eq!(rules.len(), 2);
    assert!(matches!(rules[0].spec.action, Action::JiraComment { .. }));
    assert!(!rules[1].spec.enabled);

    let out = env.ok(&["rules", "list", "site-a"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("ENABLED"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&rules[0].id.to_string())
            && lines[1].contains("yes")
            && lines[1].contains("jira_comment")
            && lines[1].contains("triage"),
        "{out}"
    );
    assert!(
        lines[2].contains("no") && lines[2].contains("jira_label"),
        "{out}"
    );
    let out = env.ok(&["rules", "list", "site-b"]);
    assert!(out.contains("tenant site-b has no rules"), "{out}");
}

async fn an_invalid_rule_is_refused_with_every_field_error(env: AdminEnv) {
    two_sites(&env).await;
    let wrong_product = r#"{"name": " ", "event": "jira:issue_created",
        "conditions": [{"type": "equals", "pointer": "issue/key", "value": 1}],
        "action": {"type": "confluence_label", "label": "has spaces"}}"#;
    let (_, err) = env.fails(&["rules", "add", "site-a", "--json", wrong_product]);
    for expected in [
        "the rule is invalid for jira tenant site-a",
        "\nname: must be 1 to 200 characters",
        "\nconditions[0].pointer: must be a JSON pointer starting with /",
        "\naction.type: ",
        "\naction.label: ",
    ] {
        assert!(err.contains(expected), "{expected:?} in\n{err}");
    }
    let (_, err) = env.fails(&[
        "rules",
        "add",
        "site-a",
        "--json",
        r#"{"name": "x", "evnt": 1}"#,
    ]);
    assert!(
        err.contains("--json is not a valid rule") && err.contains("evnt"),
        "{err}"
    );
    let (_, err) = env.fails(&["rules", "add", "site-a", "--file", "/nonexistent/rule.json"]);
    assert!(
        err.contains("reading the rule file /nonexistent/rule.json"),
        "{err}"
    );
    let (_, err) = env.fails(&["rules", "add", "nobody", "--json", COMMENT_RULE]);
    assert!(
        err.contains("no tenant with client key \"nobody\""),
        "{err}"
    );
    assert!(env.rules().list(&ck("site-a")).await.unwrap().is_empty());
    // Neither --file nor --json is a usage error.
    assert_eq!(env.run(&["rules", "add", "site-a"]).status.code(), Some(2));
}

async fn remove_enable_and_disable_touch_only_the_tenants_own_rule(env: AdminEnv) {
    two_sites(&env).await;
    let rule = serde_json::from_str(COMMENT_RULE).unwrap();
    let of_a = env.add_rule("site-a", rule).await;
    let rule = serde_json::from_str(COMMENT_RULE).unwrap();
    let of_b = env.add_rule("site-b", rule).await;
    let b_rule = of_b.to_string();

    for action in ["remove", "enable", "disable"] {
        let (_, err) = env.fails(&["rules", action, "site-a", &b_rule]);
        assert!(
            err.contains(&format!("no rule {of_b} for tenant site-a")),
            "{action}: {err}"
        );
    }
    let b_rules = env.rules().list(&ck("site-b")).await.unwrap();
    assert!(
        b_rules.len() == 1 && b_rules[0].spec.enabled,
        "site-b's rule is untouched"
    );

    let a_rule = of_a.to_string();
    env.ok(&["rules", "disable", "site-a", &a_rule]);
    assert!(
        !env.rules().list(&ck("site-a")).await.unwrap()[0]
            .spec
            .enabled
    );
    env.ok(&["rules", "enable", "site-a", &a_rule]);
    assert!(
        env.rules().list(&ck("site-a")).await.unwrap()[0]
            .spec
            .enabled
    );
    let out = env.ok(&["rules", "remove", "site-a", &a_rule]);
    assert!(
        out.contains(&format!("removed rule {of_a} of tenant site-a")),
        "{out}"
    );
    assert!(env.rules().list(&ck("site-a")).await.unwrap().is_empty());
    let (_, err) = env.fails(&["rules", "remove", "site-a", &a_rule]);
    assert!(
        err.contains(&format!("no rule {of_a} for tenant site-a")),
        "{err}"
    );
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::AdminEnv::postgres().await).await
            })*
        }
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::AdminEnv::sqlite().await).await
            })*
        }
    };
}

on_both_backends!(
    add_from_a_file_or_inline_then_list,
    an_invalid_rule_is_refused_with_every_field_error,
    remove_enable_and_disable_touch_only_the_tenants_own_rule,
);

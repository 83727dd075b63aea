//! `hookline tenants ...` against PostgreSQL and the embedded SQLite database.
mod admin_support;

use admin_support::{ck, secret_of, AdminEnv};
use common::held::HeldEvents;
use common::ledger::{LedgerKey, Receipt};
use common::tenant::{ProductType, TenantState};

const RULE: &str = r#"{"name": "label it", "event": "jira:issue_created",
    "action": {"type": "jira_label", "label": "seen"}}"#;

async fn seed(env: &AdminEnv) {
    env.install("site-a", ProductType::Jira).await;
    env.install("site-b", ProductType::Confluence).await;
    let rule = serde_json::from_str(RULE).unwrap();
    env.add_rule("site-a", rule).await;
    let rule = serde_json::from_str(RULE).unwrap();
    env.add_rule("site-a", rule).await;
    let ledger = env.ledger();
    for (client_key, delivery) in [("site-a", "d1"), ("site-a", "d2"), ("site-b", "d3")] {
        let key = LedgerKey {
            client_key: ck(client_key),
            delivery_id: delivery.into(),
            rule_id: 1,
        };
        let receipt = Receipt {
            event_id: "e",
            event: "jira:issue_created",
            product: ProductType::Jira,
            subject: Some("KAN-1"),
        };
        // Pending, as after a failed attempt.
        ledger.record_no_match(&key, receipt).await.unwrap();
        ledger
            .record_failure(&key, "HTTP 503", false)
            .await
            .unwrap();
    }
    ledger
        .complete(
            &LedgerKey {
                client_key: ck("site-a"),
                delivery_id: "d1".into(),
                rule_id: 1,
            },
            Some("10001"),
        )
        .await
        .unwrap();
}

async fn list_shows_every_tenant_but_never_a_secret(env: AdminEnv) {
    seed(&env).await;
    let out = env.ok(&["tenants", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("CLIENT KEY") && lines[0].contains("INSTALLED AT"));
    assert!(
        lines[1].contains("site-a")
            && lines[1].contains("jira")
            && lines[1].contains("enabled")
            && lines[1].contains("https://site-a.atlassian.net"),
        "{out}"
    );
    assert!(
        lines[2].contains("site-b") && lines[2].contains("confluence"),
        "{out}"
    );
    assert!(!out.contains(&secret_of("site-a")) && !out.contains(&secret_of("site-b")));
}

async fn show_prints_the_fields_the_rule_count_and_activity(env: AdminEnv) {
    seed(&env).await;
    let out = env.ok(&["tenants", "show", "site-a"]);
    for expected in [
        "clientKey ",
        "site-a",
        "baseUrl ",
        "https://site-a.atlassian.net",
        "serverVersion ",
        "100280",
        "rules ",
        "2 (2 enabled)",
        "done 1, pending 1, dead 0, no_match 0, skipped 0, stale 0",
    ] {
        assert!(out.contains(expected), "{expected:?} in\n{out}");
    }
    assert!(!out.contains(&secret_of("site-a")), "{out}");
    let (_, err) = env.fails(&["tenants", "show", "nobody"]);
    assert!(
        err.contains("no tenant with client key \"nobody\""),
        "{err}"
    );
}

async fn disable_sets_the_state_so_events_are_refused(env: AdminEnv) {
    seed(&env).await;
    let out = env.ok(&["tenants", "disable", "site-a"]);
    assert!(out.contains("tenant site-a is now disabled"), "{out}");
    let tenant = env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant.state, TenantState::Disabled);
    assert!(
        !tenant.is_active(),
        "a disabled tenant's events are refused and skipped"
    );
    assert!(tenant.disabled_at.is_some());
    env.ok(&["tenants", "enable", "site-a"]);
    let tenant = env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .unwrap();
    assert!(tenant.is_active());
    let (_, err) = env.fails(&["tenants", "disable", "nobody"]);
    assert!(
        err.contains("no tenant with client key \"nobody\""),
        "{err}"
    );
}

async fn purge_needs_yes_then_deletes_the_tenant_its_rules_and_ledger(env: AdminEnv) {
    seed(&env).await;
    let (out, err) = env.fails(&["tenants", "purge", "site-a"]);
    assert!(
        out.contains("would delete tenant site-a")
            && out.contains("2 rule(s) and 2 event ledger row(s)"),
        "{out}"
    );
    assert!(err.contains("without --yes"), "{err}");
    assert!(env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .is_some());

    let out = env.ok(&["tenants", "purge", "site-a", "--yes"]);
    assert!(
        out.contains("deleted 2 rule(s) and 2 event ledger row(s)"),
        "{out}"
    );
    assert!(env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .is_none());
    assert!(env.rules().list(&ck("site-a")).await.unwrap().is_empty());
    assert!(env
        .ledger()
        .activity(&ck("site-a"), None, 10)
        .await
        .unwrap()
        .is_empty());
    // The other tenant is untouched.
    assert!(env
        .tenants()
        .find_by_client_key(&ck("site-b"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        env.ledger()
            .activity(&ck("site-b"), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let (_, err) = env.fails(&["tenants", "purge", "site-a", "--yes"]);
    assert!(err.contains("no tenant with client key"), "{err}");
}

async fn calls_chooses_how_a_tenant_is_called_and_show_says_it(env: AdminEnv) {
    seed(&env).await;
    let out = env.ok(&["tenants", "show", "site-a"]);
    assert!(
        out.contains("connect (auto)"),
        "the default is shown as such: {out}"
    );
    let out = env.ok(&["tenants", "calls", "site-a", "forge"]);
    assert!(
        out.contains("tenant site-a is now called with forge"),
        "{out}"
    );
    assert!(
        out.contains("no forge identity yet"),
        "a Connect-only tenant is warned about: {out}"
    );
    let tenant = env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant.calls_with, Some(common::tenant::Protocol::Forge));
    let out = env.ok(&["tenants", "show", "site-a"]);
    assert!(out.contains("callsWith") && out.contains("forge"), "{out}");
    let out = env.ok(&["tenants", "calls", "site-a", "auto"]);
    assert!(out.contains("connect (auto)"), "{out}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(["tenants", "calls", "site-a", "smoke-signals"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "a usage error: {err}");
    assert!(
        err.contains("smoke-signals") && err.contains("connect, forge, auto"),
        "{err}"
    );
    let (_, err) = env.fails(&["tenants", "calls", "nobody", "forge"]);
    assert!(
        err.contains("no tenant with client key \"nobody\""),
        "{err}"
    );
}

async fn link_ties_a_connect_tenant_to_its_site_and_names_what_it_refuses(env: AdminEnv) {
    seed(&env).await;
    let cloud = "11111111-2222-3333-4444-555555555555";
    let out = env.ok(&["tenants", "link", "site-a", "--cloud-id", cloud]);
    assert!(
        out.contains("linked to the site") && out.contains("first call of its Forge installation"),
        "{out}"
    );
    let (_, err) = env.fails(&["tenants", "link", "site-a", "--cloud-id", "not-a-uuid"]);
    assert!(err.contains("not a cloud id"), "{err}");
    let (_, err) = env.fails(&["tenants", "link", "nobody", "--cloud-id", cloud]);
    assert!(
        err.contains("no tenant with client key \"nobody\""),
        "{err}"
    );
}

async fn pause_holds_events_until_resume_and_show_counts_them(env: AdminEnv) {
    seed(&env).await;
    let out = env.ok(&["tenants", "pause", "site-a"]);
    assert!(
        out.contains("tenant site-a since ") && out.contains("is paused"),
        "{out}"
    );
    assert!(
        out.contains("webhooks are still accepted") && out.contains("hold its events"),
        "{out}"
    );
    let tenant = env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .unwrap();
    let since = tenant.paused_at.expect("paused");
    assert!(tenant.is_active(), "a paused tenant is not disabled");
    let again = env.ok(&["tenants", "pause", "site-a"]);
    assert!(
        again.contains("is paused"),
        "pausing twice is fine: {again}"
    );
    let tenant = env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        tenant.paused_at,
        Some(since),
        "still paused since the first pause"
    );

    let held = HeldEvents::new(env.db.clone());
    for webhook_id in ["wh-1", "wh-2", "wh-3"] {
        let event = admin_support::event(
            "site-a",
            ProductType::Jira,
            "jira:issue_created",
            webhook_id,
        );
        held.hold(&ck("site-a"), &event).await.unwrap();
    }
    let out = env.ok(&["tenants", "show", "site-a"]);
    assert!(
        out.contains("paused ") && out.contains(", 3 event(s) held"),
        "{out}"
    );
    assert!(
        !out.contains("a private summary"),
        "no payload is printed: {out}"
    );
    let list = env.ok(&["tenants", "list"]);
    assert!(list.contains("enabled (paused)"), "{list}");
    let out = env.ok(&["tenants", "show", "site-b"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("paused ") && l.trim_end().ends_with(" no")),
        "{out}"
    );

    let out = env.ok(&["tenants", "resume", "site-a"]);
    assert!(out.contains("tenant site-a is resumed"), "{out}");
    assert!(
        out.contains("its 3 held event(s) go back into the queue"),
        "{out}"
    );
    let tenant = env
        .tenants()
        .find_by_client_key(&ck("site-a"))
        .await
        .unwrap()
        .unwrap();
    assert!(!tenant.is_paused());
    let out = env.ok(&["tenants", "show", "site-a"]);
    assert!(out.contains("no (3 held event(s) being released)"), "{out}");
    let out = env.ok(&["tenants", "resume", "site-b"]);
    assert!(out.contains("it has no held events"), "{out}");

    for command in ["pause", "resume"] {
        let (_, err) = env.fails(&["tenants", command, "nobody"]);
        assert!(
            err.contains("no tenant with client key \"nobody\""),
            "{command}: {err}"
        );
    }
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
    list_shows_every_tenant_but_never_a_secret,
    show_prints_the_fields_the_rule_count_and_activity,
    disable_sets_the_state_so_events_are_refused,
    purge_needs_yes_then_deletes_the_tenant_its_rules_and_ledger,
    calls_chooses_how_a_tenant_is_called_and_show_says_it,
    link_ties_a_connect_tenant_to_its_site_and_names_what_it_refuses,
    pause_holds_events_until_resume_and_show_counts_them,
);

#[test]
fn every_admin_subcommand_has_help() {
    for args in [
        vec!["tenants", "--help"],
        vec!["tenants", "list", "--help"],
        vec!["tenants", "show", "--help"],
        vec!["tenants", "disable", "--help"],
        vec!["tenants", "enable", "--help"],
        vec!["tenants", "pause", "--help"],
        vec!["tenants", "resume", "--help"],
        vec!["tenants", "purge", "--help"],
        vec!["tenants", "calls", "--help"],
        vec!["tenants", "link", "--help"],
        vec!["rules", "--help"],
        vec!["rules", "list", "--help"],
        vec!["rules", "add", "--help"],
        vec!["rules", "remove", "--help"],
        vec!["rules", "enable", "--help"],
        vec!["rules", "disable", "--help"],
        vec!["dlq", "--help"],
        vec!["dlq", "list", "--help"],
        vec!["dlq", "show", "--help"],
        vec!["dlq", "replay", "--help"],
        vec!["dlq", "purge", "--help"],
        vec!["keys", "--help"],
        vec!["keys", "rotate", "--help"],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hookline"))
            .args(&args)
            .output()
            .expect("runs");
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage: hookline"),
            "{args:?}"
        );
    }
}

#[test]
fn an_admin_command_on_a_missing_data_directory_says_so() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(["tenants", "list"])
        .env("HOOKLINE_DATA_DIR", "/nonexistent/hookline-data")
        .env_remove("HOOKLINE_CONFIG")
        .env_remove("HOOKLINE_DATABASE__URL")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("data directory /nonexistent/hookline-data does not exist"),
        "{err}"
    );
}

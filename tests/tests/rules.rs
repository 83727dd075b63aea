//! Rules decide: an event their conditions do not match causes no call, and the ledger says so.
use common::ledger::{LedgerStatus, NO_RULE};
use common::tenant::ProductType;
use serde_json::json;
use simulator::payloads;
use tests::{in_both_modes, E2e, Mode};

in_both_modes!(a_rule_whose_project_does_not_match_makes_no_call_and_the_ledger_says_no_match);

async fn a_rule_whose_project_does_not_match_makes_no_call_and_the_ledger_says_no_match(
    mode: Mode,
) {
    let app = E2e::start(mode).await;
    let jira = app.install("jira-site", ProductType::Jira).await;
    app.add_rule(
        &jira,
        json!({"name": "ops only", "event": "jira:issue_created",
        "conditions": [{"type": "project_key", "key": "OPS"}],
        "action": {"type": "jira_comment", "template": "Paging ops for {{ issue.key }}"}}),
    )
    .await;

    let other_project = payloads::jira_issue_created("KAN-1", "Not for ops", "KAN");
    let report = app
        .deliver(&jira, "jira:issue_created", &other_project)
        .await;
    let row = app
        .ledger_entry(&jira, &report.webhook_id, |row| {
            row.status == LedgerStatus::NoMatch
        })
        .await;
    assert_eq!(row.rule_id, NO_RULE);
    assert_eq!(row.subject.as_deref(), Some("KAN-1"));
    assert!(
        app.product.requests(&jira.client_key).is_empty(),
        "{}",
        app.snapshot(&jira)
    );

    // The same rule does act on its own project, so the condition is what held it back.
    let ops = payloads::jira_issue_created("OPS-7", "Disk full", "OPS");
    app.deliver(&jira, "jira:issue_created", &ops).await;
    let comments = app.settled_comments(&jira, 1).await;
    assert_eq!(comments[0].target, "OPS-7");
    app.stop().await;
}

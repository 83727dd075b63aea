//! Order per subject, end to end: Jira delivers an issue's status moves out of order (newest
//! first, or all at once), and the issue property a rule per status sets ends with the
//! newest move's value. Older moves are recorded `stale` in the ledger; the comment rule on
//! the same events still posts every move's comment, once.
use common::ledger::{LedgerEntry, LedgerStatus};
use serde_json::{json, Value};
use simulator::{payloads, SimTenant};
use tests::{in_both_modes, E2e, Mode, Patience};

in_both_modes!(
    moves_delivered_newest_first_leave_the_newest_value_and_stale_rows,
    moves_delivered_at_once_out_of_order_leave_the_newest_value,
);

/// The statuses an issue moves through, in order.
const STATUSES: [&str; 3] = ["In Progress", "In Review", "Done"];
/// Rules matching each move: its status's property rule, the label rule, the comment rule.
const RULES_PER_MOVE: usize = 3;

/// A Jira site with one rule per status setting the issue property `workflow`, a label rule
/// and a comment rule, all on `jira:issue_updated`.
async fn site(app: &E2e) -> SimTenant {
    let jira = app
        .install("jira-order", common::tenant::ProductType::Jira)
        .await;
    for status in STATUSES {
        app.add_rule(
            &jira,
            json!({"name": format!("workflow {status}"), "event": "jira:issue_updated",
                "conditions": [{"type": "equals", "pointer": "/changelog/items/0/toString", "value": status}],
                "action": {"type": "jira_property", "key": "workflow", "value": {"status": status}}}),
        )
        .await;
    }
    app.add_rule(
        &jira,
        json!({"name": "label", "event": "jira:issue_updated",
            "action": {"type": "jira_label", "label": "moved"}}),
    )
    .await;
    app.add_rule(
        &jira,
        json!({"name": "comment", "event": "jira:issue_updated",
            "action": {"type": "jira_comment", "template": "Moved to {{ changelog.items[0].toString }}"}}),
    )
    .await;
    jira
}

/// The `n`-th move (0-based) of `issue` to `STATUSES[n]`: later moves have later timestamps
/// and higher changelog ids.
fn moved(issue: &str, n: usize) -> Value {
    let from = n.checked_sub(1).map_or("To Do", |before| STATUSES[before]);
    let mut payload = payloads::jira_issue_updated(issue, "status", from, STATUSES[n]);
    payload["timestamp"] = json!(1_700_000_000_000_i64 + 1_000 * (n as i64 + 1));
    payload["changelog"]["id"] = json!((10_100 + n).to_string());
    payload
}

/// Waits until every rule of each of `deliveries` has a final ledger row; returns the rows
/// of each delivery, in the same order.
async fn final_rows(app: &E2e, jira: &SimTenant, deliveries: &[String]) -> Vec<Vec<LedgerEntry>> {
    let patience = Patience::start();
    loop {
        let rows = app.ledger(jira).await;
        let of = |delivery: &String| -> Vec<LedgerEntry> {
            let rows = rows.iter().filter(|r| &r.delivery_id == delivery);
            rows.cloned().collect()
        };
        let each: Vec<Vec<LedgerEntry>> = deliveries.iter().map(of).collect();
        let settled = each.iter().all(|rows| {
            rows.len() == RULES_PER_MOVE && rows.iter().all(|r| r.status != LedgerStatus::Pending)
        });
        if settled {
            return each;
        }
        patience
            .pause(
                "a final ledger row for every rule of every move",
                format!("{rows:?}"),
            )
            .await;
    }
}

/// The issue's `workflow` property values and its comments' texts (sorted).
fn issue_state(app: &E2e, jira: &SimTenant, issue: &str) -> (Vec<Value>, Vec<String>) {
    let properties = app.product.properties(&jira.client_key).into_iter();
    let workflow = properties
        .filter(|p| p.target == issue && p.key == "workflow")
        .map(|p| p.value)
        .collect();
    let comments = app.product.comments(&jira.client_key).into_iter();
    let mut texts: Vec<String> = comments
        .filter(|c| c.target == issue)
        .map(|c| c.body["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    (workflow, texts)
}

fn every_move_commented_once() -> Vec<String> {
    let mut texts: Vec<String> = STATUSES.iter().map(|s| format!("Moved to {s}")).collect();
    texts.sort();
    texts
}

async fn moves_delivered_newest_first_leave_the_newest_value_and_stale_rows(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = site(&app).await;
    let issue = "KAN-1";
    let comment_rule = app
        .pipeline()
        .dispatcher
        .rules
        .list(&client_key(&jira))
        .await;
    let comment_rule = comment_rule
        .expect("rules")
        .iter()
        .find(|r| r.spec.name == "comment")
        .map(|r| r.id);
    // Each delivery is handled before the next one arrives: Jira's retries, late.
    let mut deliveries = vec![String::new(); STATUSES.len()];
    for n in [2, 0, 1] {
        let report = app
            .deliver(&jira, "jira:issue_updated", &moved(issue, n))
            .await;
        final_rows(&app, &jira, std::slice::from_ref(&report.webhook_id)).await;
        deliveries[n] = report.webhook_id;
    }

    let (workflow, comments) = issue_state(&app, &jira, issue);
    assert_eq!(
        workflow,
        [json!({"status": "Done"})],
        "{}",
        app.snapshot(&jira)
    );
    assert_eq!(
        comments,
        every_move_commented_once(),
        "{}",
        app.snapshot(&jira)
    );
    let rows = final_rows(&app, &jira, &deliveries).await;
    for (n, rows) in rows.iter().enumerate() {
        for row in rows {
            let expected = match (n, Some(row.rule_id) == comment_rule) {
                (_, true) | (2, _) => LedgerStatus::Done,
                _ => LedgerStatus::Stale,
            };
            assert_eq!(row.status, expected, "move {n}: {row:?}");
            if expected == LedgerStatus::Stale {
                let reason = row.error.as_deref().unwrap_or_default();
                assert!(
                    reason.contains(&format!("delivery {}", deliveries[2]))
                        && reason.contains("changelog 10102")
                        && reason.contains("applied to KAN-1"),
                    "{reason}"
                );
            }
        }
    }
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

async fn moves_delivered_at_once_out_of_order_leave_the_newest_value(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = site(&app).await;
    let issue = "KAN-2";
    let mut deliveries = Vec::new();
    for n in [2, 0, 1] {
        let report = app
            .deliver(&jira, "jira:issue_updated", &moved(issue, n))
            .await;
        deliveries.push(report.webhook_id);
    }
    let rows = final_rows(&app, &jira, &deliveries).await;

    let (workflow, comments) = issue_state(&app, &jira, issue);
    assert_eq!(
        workflow,
        [json!({"status": "Done"})],
        "{}",
        app.snapshot(&jira)
    );
    assert_eq!(
        comments,
        every_move_commented_once(),
        "{}",
        app.snapshot(&jira)
    );
    // The newest move (delivered first) applied everything it set.
    assert!(
        rows[0].iter().all(|r| r.status == LedgerStatus::Done),
        "{:?}",
        rows[0]
    );
    app.stop().await;
}

fn client_key(tenant: &SimTenant) -> common::tenant::ClientKey {
    common::tenant::ClientKey::parse(&tenant.client_key).expect("a client key")
}

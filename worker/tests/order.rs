//! Order per subject: events that set an issue property arrive out of order (newest first,
//! or all at once), and the issue ends with the newest event's value. Older events are
//! recorded `stale` instead of acting; every event's comment is still posted, once.
mod support;

use std::collections::HashMap;
use std::time::Duration;

use common::ledger::{LedgerEntry, LedgerStatus};
use common::rules::RuleSpec;
use common::tenant::{ClientKey, ProductType};
use serde_json::{json, Value};
use simulator::{payloads, Endpoint, Fault, FaultKind};
use support::{event, spawn_worker, TestWorker};
use worker::dispatch::Outcome;

const SITE: &str = "jira-order";
/// The longest one event may take to settle.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long the simulated Jira takes over a slow property call.
const SLOW_JIRA: Duration = Duration::from_secs(1);
/// The statuses the issue moves through, in order.
const STATUSES: [&str; 3] = ["In Progress", "In Review", "Done"];

/// One rule per status setting the issue property `workflow` to it, a label rule and a
/// comment rule, all on `jira:issue_updated`.
async fn site_with_rules(worker: &TestWorker) {
    worker.add_tenant(SITE, "secret", ProductType::Jira).await;
    let mut rules: Vec<Value> = STATUSES
        .iter()
        .map(|status| {
            json!({"name": format!("workflow {status}"), "event": "jira:issue_updated",
                "conditions": [{"type": "equals", "pointer": "/changelog/items/0/toString", "value": status}],
                "action": {"type": "jira_property", "key": "workflow", "value": {"status": status}}})
        })
        .collect();
    rules.push(json!({"name": "label", "event": "jira:issue_updated",
        "action": {"type": "jira_label", "label": "moved"}}));
    rules.push(json!({"name": "comment", "event": "jira:issue_updated",
        "action": {"type": "jira_comment", "template": "Moved to {{ changelog.items[0].toString }}"}}));
    for rule in rules {
        let spec: RuleSpec = serde_json::from_value(rule).expect("rule");
        worker.add_rule(SITE, &spec).await;
    }
}

/// The `n`-th move (0-based) of `issue`: to `STATUSES[n]`, at timestamp `1_000 * (n + 1)`
/// with changelog id `100 + n`.
fn moved(issue: &str, n: usize) -> Value {
    let from = n.checked_sub(1).map_or("To Do", |before| STATUSES[before]);
    let mut payload = payloads::jira_issue_updated(issue, "status", from, STATUSES[n]);
    payload["timestamp"] = json!(1_700_000_000_000_i64 + 1_000 * (n as i64 + 1));
    payload["changelog"]["id"] = json!((100 + n).to_string());
    payload
}

fn delivery(issue: &str, n: usize) -> String {
    format!("{issue}-move-{n}")
}

/// Dispatches the `n`-th move until it is done, after each deferral as long as it asks, as
/// the queue would (an event waiting for another one's action on the same property is
/// deferred).
async fn settle(worker: &TestWorker, issue: &str, n: usize) {
    let envelope = event(
        SITE,
        ProductType::Jira,
        "jira:issue_updated",
        &delivery(issue, n),
        &moved(issue, n),
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let outcome = worker.dispatcher.dispatch(&envelope, 1).await;
        let wait = match &outcome {
            Outcome::Done => return,
            Outcome::Defer { delay, .. } | Outcome::RetryAfter { delay, .. } => *delay,
            // Over the tenant's call budget: a pace the budget allows for a few events.
            _ => Duration::from_secs(1),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "move {n} of {issue} never settled: {outcome:?}"
        );
        tokio::time::sleep(wait).await;
    }
}

async fn ledger(worker: &TestWorker, issue: &str) -> Vec<LedgerEntry> {
    let key = ClientKey::parse(SITE).expect("client key");
    worker
        .dispatcher
        .ledger
        .activity(&key, Some(issue), 100)
        .await
        .expect("ledger")
}

/// The issue's `workflow` property and comment texts, as the simulated Jira holds them.
fn state(worker: &TestWorker, issue: &str) -> (Vec<Value>, Vec<String>) {
    let properties = worker.sim.properties(SITE).into_iter();
    let workflow = properties
        .filter(|p| p.target == issue && p.key == "workflow")
        .map(|p| p.value)
        .collect();
    let comments = worker.sim.comments(SITE).into_iter();
    let mut texts: Vec<String> = comments
        .filter(|c| c.target == issue)
        .map(|c| c.body["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    (workflow, texts)
}

fn every_comment_once() -> Vec<String> {
    let mut texts: Vec<String> = STATUSES.iter().map(|s| format!("Moved to {s}")).collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn moves_arriving_newest_first_leave_the_newest_value_and_older_ones_stale() {
    let worker = spawn_worker().await;
    site_with_rules(&worker).await;
    let issue = "KAN-7";
    for n in [2, 0, 1] {
        settle(&worker, issue, n).await;
    }

    let (workflow, comments) = state(&worker, issue);
    assert_eq!(workflow, [json!({"status": "Done"})]);
    assert_eq!(comments, every_comment_once());
    let puts = worker.sim.requests(SITE).into_iter();
    let property_puts = puts.filter(|r| r.path.contains("/properties/workflow"));
    assert_eq!(property_puts.count(), 1, "the older moves never set it");

    let rows = ledger(&worker, issue).await;
    let names = rule_ids(&worker).await;
    let row = |n: usize, rule: &str| -> &LedgerEntry {
        rows.iter()
            .find(|r| r.delivery_id == delivery(issue, n) && names.get(rule) == Some(&r.rule_id))
            .unwrap_or_else(|| panic!("a row of move {n} for {rule}: {rows:?}"))
    };
    for (n, status) in STATUSES.iter().enumerate() {
        let property = row(n, &format!("workflow {status}"));
        let label = row(n, "label");
        let expected = if n == 2 {
            LedgerStatus::Done
        } else {
            LedgerStatus::Stale
        };
        assert_eq!(
            (property.status, label.status),
            (expected, expected),
            "move {n}"
        );
        assert_eq!(
            row(n, "comment").status,
            LedgerStatus::Done,
            "comments are never stale"
        );
        if expected == LedgerStatus::Stale {
            let reason = property.error.as_deref().unwrap_or_default();
            assert!(
                reason.contains(&format!("delivery {}", delivery(issue, 2)))
                    && reason.contains("changelog 102")
                    && reason.contains("applied to KAN-7 (property workflow"),
                "{reason}"
            );
        }
    }

    // A stale pair is final: its delivery again acts on nothing.
    let before = worker.sim.requests(SITE).len();
    settle(&worker, issue, 0).await;
    assert_eq!(worker.sim.requests(SITE).len(), before);
    assert_eq!(worker.sim.rejected_requests(), 0);
    worker.stop().await;
}

#[tokio::test]
async fn an_older_move_acting_slowly_is_never_overtaken_by_a_newer_one() {
    let worker = spawn_worker().await;
    site_with_rules(&worker).await;
    let issue = "KAN-8";
    // Jira answers the older move's property call slowly; the newer move arrives meanwhile.
    // Were both to act at once, the older value would land last.
    worker.sim.inject(
        SITE,
        Fault::once(Endpoint::Property, FaultKind::Latency(SLOW_JIRA)),
    );
    let newer_meanwhile = async {
        tokio::time::sleep(SLOW_JIRA / 4).await;
        settle(&worker, issue, 2).await;
    };
    tokio::join!(settle(&worker, issue, 1), newer_meanwhile);
    // And the oldest arrives last of all.
    settle(&worker, issue, 0).await;

    let (workflow, comments) = state(&worker, issue);
    assert_eq!(workflow, [json!({"status": "Done"})]);
    assert_eq!(comments, every_comment_once());
    let rows = ledger(&worker, issue).await;
    let names = rule_ids(&worker).await;
    let status = |n: usize, rule: &str| {
        let row = rows
            .iter()
            .find(|r| r.delivery_id == delivery(issue, n) && names.get(rule) == Some(&r.rule_id));
        row.map(|r| r.status)
    };
    // The older move applied before the newer one, which waited for it and applied over it.
    assert_eq!(status(1, "workflow In Review"), Some(LedgerStatus::Done));
    assert_eq!(status(2, "workflow Done"), Some(LedgerStatus::Done));
    assert_eq!(status(2, "label"), Some(LedgerStatus::Done));
    assert_eq!(status(0, "workflow In Progress"), Some(LedgerStatus::Stale));
    assert_eq!(status(0, "label"), Some(LedgerStatus::Stale));
    worker.stop().await;
}

/// Rule ids by name.
async fn rule_ids(worker: &TestWorker) -> HashMap<String, i64> {
    let key = ClientKey::parse(SITE).expect("client key");
    let rules = worker.dispatcher.rules.list(&key).await.expect("rules");
    rules.iter().map(|r| (r.spec.name.clone(), r.id)).collect()
}

//! The deduplication bound, measured in the simulator's model of one event delivered both ways
//! (`simulator::both_ways`): the Connect webhook and the Forge event of one product event get
//! the same ledger key (`common::event_key`) however far apart their own timestamps are, for
//! every event whose key is made of entity data; an event that carries nothing but its
//! timestamp to tell it apart is only recognised when both timestamps are equal.
use common::event_key::event_key;
use common::forge::events::connect_view;
use common::tenant::ProductType;
use serde_json::Value;
use simulator::both_ways::{self, BothWays};

/// The skews tried: equal, a millisecond, a second, Jira's 30-minute retry window, Connect's
/// 72-hour failed-webhook window, and the Forge delivery built first.
fn skews_ms() -> Vec<i64> {
    vec![0, 1, 1_000, 30 * 60_000, 72 * 3_600_000, -250]
}

fn product_of(both: &BothWays) -> ProductType {
    if both.connect.get("webhookEvent").is_some() {
        ProductType::Jira
    } else {
        ProductType::Confluence
    }
}

/// Whether the two deliveries get one key.
fn same_key(both: &BothWays) -> bool {
    let product = product_of(both);
    let forge = connect_view(product, both.event, both.forge.clone());
    event_key(product, both.event, &both.connect) == event_key(product, both.event, &forge)
}

fn modelled(skew: i64) -> Vec<BothWays> {
    vec![
        both_ways::jira_issue_created("KAN-7", "Login fails", skew),
        both_ways::jira_issue_updated(
            "KAN-7",
            "10026",
            "summary",
            "Login fails",
            "Login works",
            skew,
        ),
        both_ways::jira_comment_created("KAN-7", "10500", "Seen it too", skew),
        both_ways::confluence_page_updated(167_182_562, "Runbook", "OPS", 9, skew),
    ]
}

#[test]
fn both_deliveries_of_each_modelled_event_share_a_key_at_every_skew() {
    for skew in skews_ms() {
        for both in modelled(skew) {
            assert!(
                same_key(&both),
                "{} delivered both ways {} ms apart gets two keys",
                both.event,
                skew
            );
        }
    }
}

#[test]
fn distinct_events_keep_distinct_keys() {
    let zero = 0;
    let key = |both: &BothWays| event_key(product_of(both), both.event, &both.connect);
    let first = both_ways::jira_issue_updated("KAN-7", "10026", "summary", "a", "b", zero);
    let second = both_ways::jira_issue_updated("KAN-7", "10027", "summary", "b", "c", zero);
    assert_ne!(key(&first), key(&second), "two changes of one issue");
    let other_issue = both_ways::jira_issue_created("KAN-8", "Other", zero);
    let issue = both_ways::jira_issue_created("KAN-7", "Login fails", zero);
    assert_ne!(key(&issue), key(&other_issue));
    let v9 = both_ways::confluence_page_updated(1, "t", "S", 9, zero);
    let v10 = both_ways::confluence_page_updated(1, "t", "S", 10, zero);
    assert_ne!(key(&v9), key(&v10), "two versions of one page");
}

/// With neither a changelog nor the issue's `updated` (a shape hookline has not seen, but
/// accepts), the key falls back to the delivery's timestamp: only equal timestamps match.
#[test]
fn an_event_told_apart_only_by_its_timestamp_matches_only_at_zero_skew() {
    let strip = |mut both: BothWays| {
        for body in [&mut both.connect, &mut both.forge] {
            if let Value::Object(map) = body {
                map.remove("changelog");
            }
            if let Some(fields) = body
                .pointer_mut("/issue/fields")
                .and_then(Value::as_object_mut)
            {
                fields.remove("updated");
            }
        }
        both
    };
    let at = |skew| {
        strip(both_ways::jira_issue_updated(
            "KAN-7", "1", "summary", "a", "b", skew,
        ))
    };
    assert!(same_key(&at(0)));
    assert!(!same_key(&at(1)));
}

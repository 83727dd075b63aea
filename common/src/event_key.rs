//! The key of one product event within its tenant, the same however the event reached
//! hookline: Forge's deliveries of it (which carry no delivery id, and whose retries differ by
//! `retryContext`), and, for a Connect app on Forge, the Connect webhook of the same event
//! (docs/migrating-to-forge.md). The ledger takes it as the delivery id, so the event's
//! effects happen once whichever way, and however often, it arrives.
//!
//! It is computed from the event as rules see it (the Connect webhook's shape; Forge events
//! are put in that shape first, `forge::events::connect_view`), from data of the *entity* the
//! event is about, which both deliveries carry alike: its id, and what tells one change of it
//! from the next (the changelog id, the version number, the comment's `updated` time). The
//! delivery's own `timestamp` is used only when the event carries nothing else that tells two
//! events apart, so the key does not depend on when either delivery was built.
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::tenant::ProductType;

/// The key of `event` (the rules' name, e.g. `jira:issue_updated`) of `product` with the
/// Connect-shaped payload `view`: `event:` and a SHA-256 in hex.
pub fn event_key(product: ProductType, event: &str, view: &Value) -> String {
    let parts = match product {
        ProductType::Jira => jira_parts(event, view),
        ProductType::Confluence => confluence_parts(event, view),
    };
    let mut hash = Sha256::new();
    hash.update(product.as_str());
    hash.update([0]);
    hash.update(event);
    for part in &parts {
        hash.update([0]);
        hash.update(part);
    }
    format!("event:{}", hex::encode(hash.finalize()))
}

/// A scalar at `pointer` as text (a number and its string form are the same).
fn text(view: &Value, pointer: &str) -> String {
    match view.pointer(pointer) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

/// The first of `pointers` with a value, with which one it was (so that two fallbacks can
/// never produce the same part).
fn first(view: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .map(|pointer| (pointer, text(view, pointer)))
        .find(|(_, value)| !value.is_empty())
        .map(|(pointer, value)| format!("{pointer}={value}"))
        .unwrap_or_default()
}

fn jira_parts(event: &str, view: &Value) -> Vec<String> {
    let issue = text(view, "/issue/id");
    match event {
        // One of each per issue.
        "jira:issue_created" | "jira:issue_deleted" => vec![issue],
        // One changelog per change; without one, the issue's own update time.
        "jira:issue_updated" => vec![
            issue,
            first(
                view,
                &["/changelog/id", "/issue/fields/updated", "/timestamp"],
            ),
        ],
        // One of each per comment.
        "comment_created" | "comment_deleted" => vec![issue, text(view, "/comment/id")],
        // Each edit moves the comment's `updated`.
        "comment_updated" => vec![
            issue,
            text(view, "/comment/id"),
            first(view, &["/comment/updated", "/timestamp"]),
        ],
        _ => vec![
            issue,
            text(view, "/changelog/id"),
            text(view, "/comment/id"),
            text(view, "/timestamp"),
        ],
    }
}

fn confluence_parts(event: &str, view: &Value) -> Vec<String> {
    let content = ["/comment", "/page", "/blog"]
        .iter()
        .find(|pointer| view.pointer(pointer).is_some())
        .copied()
        .unwrap_or("/content");
    // The same value either way (Connect sends both, Forge's view has both).
    let id = [format!("{content}/idAsString"), format!("{content}/id")]
        .iter()
        .map(|pointer| text(view, pointer))
        .find(|id| !id.is_empty())
        .unwrap_or_default();
    let version = text(view, &format!("{content}/version"));
    let once = event.ends_with("_created") || event.ends_with("_removed");
    match (once, version.is_empty()) {
        // Created or removed once; each update has its version number.
        (true, _) => vec![id],
        (false, false) => vec![id, version],
        (false, true) => vec![id, text(view, "/timestamp")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_delivery_timestamp_does_not_change_the_key_where_the_entity_says_enough() {
        let key = |timestamp: i64| {
            event_key(
                ProductType::Jira,
                "jira:issue_updated",
                &json!({"timestamp": timestamp, "issue": {"id": "10021", "key": "KAN-22"},
                    "changelog": {"id": "10026"}}),
            )
        };
        assert_eq!(key(1_735_442_025_214), key(1_735_442_025_999));
        let page = |timestamp: i64, version: u64| {
            event_key(
                ProductType::Confluence,
                "page_updated",
                &json!({"timestamp": timestamp, "page": {"id": 167_182_562, "idAsString": "167182562", "version": version}}),
            )
        };
        assert_eq!(page(1, 8), page(2, 8));
        assert_ne!(page(1, 8), page(1, 9), "each version is an event");
    }

    #[test]
    fn events_tell_apart_what_they_must() {
        let jira = |event: &str, view: Value| event_key(ProductType::Jira, event, &view);
        let created = json!({"issue": {"id": "1"}, "comment": {"id": "5", "updated": "a"}});
        assert_ne!(
            jira("comment_created", created.clone()),
            jira("comment_updated", created.clone()),
            "the event name is part of the key"
        );
        let edited = json!({"issue": {"id": "1"}, "comment": {"id": "5", "updated": "b"}});
        assert_ne!(
            jira("comment_updated", created),
            jira("comment_updated", edited),
            "each edit of a comment is an event"
        );
        let a = json!({"issue": {"id": "1"}, "changelog": {"id": "7"}});
        let b = json!({"issue": {"id": "1"}, "changelog": {"id": "8"}});
        assert_ne!(jira("jira:issue_updated", a), jira("jira:issue_updated", b));
        // An id given as a number or a string is the same id.
        assert_eq!(
            jira("jira:issue_created", json!({"issue": {"id": 1}})),
            jira("jira:issue_created", json!({"issue": {"id": "1"}}))
        );
    }
}

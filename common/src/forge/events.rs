//! Forge product events as hookline handles them: the body (flat, or wrapped in `payload`),
//! the event's name in the rules' vocabulary (Connect's: `avi:jira:created:issue` is
//! `jira:issue_created`), the Connect-shaped view rules are evaluated on, and the key that
//! identifies one product event across Forge's retries (docs/forge.md §4).
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::tenant::ProductType;

/// Forge event types and the rules' names for them. `avi:jira:commented:issue` is sent when a
/// comment is created or edited: see [`rule_event`].
pub const EVENTS: &[(&str, ProductType, &str)] = &[
    (
        "avi:jira:created:issue",
        ProductType::Jira,
        "jira:issue_created",
    ),
    (
        "avi:jira:updated:issue",
        ProductType::Jira,
        "jira:issue_updated",
    ),
    (
        "avi:jira:deleted:issue",
        ProductType::Jira,
        "jira:issue_deleted",
    ),
    (
        "avi:jira:commented:issue",
        ProductType::Jira,
        "comment_created",
    ),
    (
        "avi:jira:deleted:comment",
        ProductType::Jira,
        "comment_deleted",
    ),
    (
        "avi:confluence:created:page",
        ProductType::Confluence,
        "page_created",
    ),
    (
        "avi:confluence:updated:page",
        ProductType::Confluence,
        "page_updated",
    ),
    (
        "avi:confluence:created:blogpost",
        ProductType::Confluence,
        "blog_created",
    ),
    (
        "avi:confluence:updated:blogpost",
        ProductType::Confluence,
        "blog_updated",
    ),
    (
        "avi:confluence:created:comment",
        ProductType::Confluence,
        "comment_created",
    ),
    (
        "avi:confluence:updated:comment",
        ProductType::Confluence,
        "comment_updated",
    ),
    (
        "avi:confluence:deleted:comment",
        ProductType::Confluence,
        "comment_removed",
    ),
];

/// Forge's app lifecycle events.
pub const INSTALLED: &str = "avi:forge:installed:app";
/// Sent on major upgrades only.
pub const UPGRADED: &str = "avi:forge:upgraded:app";

/// Why a body is not an event hookline handles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not one JSON object (or its `payload` is not one).
    #[error("the body is not a Forge event (one JSON object, or one wrapped in payload)")]
    NotAnEvent,
    /// No `eventType`.
    #[error("the event has no eventType")]
    NoEventType,
    /// An event type hookline does not handle.
    #[error("hookline handles no Forge event {0:?}")]
    Unknown(String),
}

/// A Forge delivery, read.
#[derive(Debug)]
pub enum Delivery {
    /// A product event.
    Product(ProductEvent),
    /// `avi:forge:installed:app` or `avi:forge:upgraded:app`.
    Lifecycle {
        /// The event type.
        event_type: String,
    },
}

/// A product event, with everything the ingress needs to queue it.
#[derive(Debug)]
pub struct ProductEvent {
    /// Forge's name, e.g. `avi:jira:created:issue`.
    pub event_type: String,
    /// The product it comes from.
    pub product: ProductType,
    /// The rules' name for it, e.g. `jira:issue_created`.
    pub event: &'static str,
    /// The event object, raw (unwrapped from `payload` when it came wrapped).
    pub body: Box<RawValue>,
    /// The same product event's key across Forge's retries (see [`event_key`]).
    pub event_key: String,
    /// `selfGenerated`: the app's own call to the product caused it (its comment, label or
    /// property). Jira's triggers filter these (`ignoreSelf`); Confluence's cannot.
    pub self_generated: bool,
}

/// The outer body: the event itself, or `{"payload": event, ...}` (Atlassian documents both).
#[derive(Deserialize)]
struct Outer<'a> {
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(rename = "eventType")]
    event_type: Option<&'a RawValue>,
}

/// Reads a Forge delivery; `retryContext` and anything else outside the event are ignored.
pub fn parse(body: &str) -> Result<Delivery, EventError> {
    let outer: Outer<'_> = serde_json::from_str(body).map_err(|_| EventError::NotAnEvent)?;
    let raw = match (outer.payload, outer.event_type) {
        (Some(payload), None) => payload.get(),
        _ => body.trim(),
    };
    let event: Value = serde_json::from_str(raw).map_err(|_| EventError::NotAnEvent)?;
    let Value::Object(fields) = &event else {
        return Err(EventError::NotAnEvent);
    };
    let event_type = fields
        .get("eventType")
        .and_then(Value::as_str)
        .ok_or(EventError::NoEventType)?
        .to_owned();
    if event_type == INSTALLED || event_type == UPGRADED {
        return Ok(Delivery::Lifecycle { event_type });
    }
    let (product, name) =
        rule_event(&event_type, &event).ok_or_else(|| EventError::Unknown(event_type.clone()))?;
    let self_generated = fields.get("selfGenerated").and_then(Value::as_bool) == Some(true);
    let view = connect_view(product, name, event.clone());
    let body = RawValue::from_string(raw.to_owned()).map_err(|_| EventError::NotAnEvent)?;
    Ok(Delivery::Product(ProductEvent {
        event_key: crate::event_key::event_key(product, name, &view),
        event_type,
        product,
        event: name,
        body,
        self_generated,
    }))
}

/// The product and rules' name of a Forge event type; a Jira comment that was edited
/// (`updated` after `created`) is `comment_updated`.
pub fn rule_event(event_type: &str, event: &Value) -> Option<(ProductType, &'static str)> {
    let (_, product, name) = EVENTS.iter().find(|(forge, _, _)| *forge == event_type)?;
    if *name == "comment_created" && *product == ProductType::Jira {
        let comment = event.get("comment");
        let at = |field| comment.and_then(|c| c.get(field)).and_then(Value::as_str);
        if matches!((at("created"), at("updated")), (Some(c), Some(u)) if c != u) {
            return Some((*product, "comment_updated"));
        }
    }
    Some((*product, name))
}

/// The Forge event types the rules' `event` names (for the manifest's triggers).
pub fn forge_event_types(product: ProductType, event: &str) -> Vec<&'static str> {
    let jira_comment = product == ProductType::Jira && event == "comment_updated";
    EVENTS
        .iter()
        .filter(|(_, of, name)| {
            *of == product && (*name == event || (jira_comment && *name == "comment_created"))
        })
        .map(|(forge, _, _)| *forge)
        .collect()
}

/// The event as rules see it: Forge's fields, plus the Connect webhook's shape of the same
/// event where it differs, so one rule (its conditions, templates and subject) serves both
/// protocols. Nothing Forge sent is removed; `eventType` becomes the rules' name and Forge's
/// stays as `forgeEventType`.
pub fn connect_view(product: ProductType, event: &str, forge: Value) -> Value {
    let Value::Object(mut view) = forge else {
        return forge;
    };
    if let Some(forge_type) = view.insert("eventType".into(), json!(event)) {
        view.insert("forgeEventType".into(), forge_type);
    }
    if let Some(account) = view.get("atlassianId").cloned() {
        view.insert("userAccountId".into(), account.clone());
        view.entry("user")
            .or_insert_with(|| json!({ "accountId": account }));
    }
    match product {
        ProductType::Jira => {
            view.insert("webhookEvent".into(), json!(event));
            if let Some(ms) = view.get("timestamp").and_then(epoch_ms) {
                view.insert("timestamp".into(), json!(ms));
            }
        }
        ProductType::Confluence => {
            if let Some(ms) = view.get("eventCreatedDate").and_then(iso_ms) {
                view.insert("timestamp".into(), json!(ms));
            }
            if let Some(content) = view.get("content").cloned() {
                confluence_shape(&mut view, &content);
            }
        }
    }
    Value::Object(view)
}

/// `page`, `blog` or `comment` (with its `parent`) as Connect's Confluence webhooks carry them.
fn confluence_shape(view: &mut Map<String, Value>, content: &Value) {
    let kind = content
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("page");
    match kind {
        "comment" => {
            let mut comment = connect_content(content, "comment");
            if let Some(container) = content.get("container") {
                let parent_kind = container
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("page");
                comment["parent"] = connect_content(container, parent_kind);
            }
            view.insert("comment".into(), comment);
        }
        "blogpost" => {
            view.insert("blog".into(), connect_content(content, "blogpost"));
        }
        _ => {
            view.insert("page".into(), connect_content(content, "page"));
        }
    }
}

fn connect_content(content: &Value, kind: &str) -> Value {
    let id = content.get("id").map(|id| match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    let numeric = id.as_deref().and_then(|id| id.parse::<u64>().ok());
    json!({
        "id": numeric.map_or_else(|| json!(id), |n| json!(n)),
        "idAsString": id,
        "title": content.get("title"),
        "spaceKey": content.pointer("/space/key"),
        "contentType": kind,
        "version": content.pointer("/version/number"),
    })
}

/// An epoch-milliseconds timestamp given as a number or a numeric string.
fn epoch_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// An ISO 8601 date as epoch milliseconds.
fn iso_ms(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|date| date.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(body: &Value) -> ProductEvent {
        match parse(&body.to_string()).expect("an event") {
            Delivery::Product(event) => event,
            other => panic!("not a product event: {other:?}"),
        }
    }

    #[test]
    fn a_flat_and_a_wrapped_event_are_the_same_event_whatever_their_retry_context() {
        let event = json!({"eventType": "avi:jira:created:issue", "timestamp": "1700000000000",
            "issue": {"id": "10073", "key": "SP-10", "fields": {"summary": "A"}}});
        let flat = product(&event);
        let mut retried = event.clone();
        retried["retryContext"] = json!({"retryCount": 2, "retryReason": "TIMEOUT_ERROR"});
        let wrapped = product(&json!({"payload": retried, "context": {"cloudId": "c"}}));
        assert_eq!(flat.event, "jira:issue_created");
        assert_eq!(flat.product, ProductType::Jira);
        assert_eq!(flat.event_key, wrapped.event_key);
        assert!(
            wrapped.body.get().contains("retryContext"),
            "the event is kept as sent"
        );
    }

    #[test]
    fn a_self_generated_event_is_marked() {
        let event = |flag: Value| {
            json!({"eventType": "avi:confluence:created:comment", "selfGenerated": flag,
                "content": {"id": "1", "type": "comment", "container": {"id": "2", "type": "page"}}})
        };
        assert!(product(&event(json!(true))).self_generated);
        assert!(!product(&event(json!(false))).self_generated);
        assert!(
            !product(&event(json!("true"))).self_generated,
            "only a JSON true counts"
        );
    }

    #[test]
    fn an_edited_jira_comment_is_comment_updated() {
        let comment = |updated: &str| {
            json!({"eventType": "avi:jira:commented:issue", "issue": {"key": "K-1"},
                "comment": {"id": "5", "created": "2026-01-01T00:00:00.000+0000", "updated": updated}})
        };
        assert_eq!(
            product(&comment("2026-01-01T00:00:00.000+0000")).event,
            "comment_created"
        );
        assert_eq!(
            product(&comment("2026-01-02T00:00:00.000+0000")).event,
            "comment_updated"
        );
        assert_eq!(
            forge_event_types(ProductType::Jira, "comment_updated"),
            ["avi:jira:commented:issue"]
        );
    }

    #[test]
    fn a_confluence_comment_gets_its_page_as_the_connect_parent() {
        let event = json!({"eventType": "avi:confluence:created:comment",
            "eventCreatedDate": "2021-01-20T06:29:21.907Z", "atlassianId": "u-1",
            "content": {"id": "838205455", "type": "comment", "version": {"number": 1},
                "container": {"id": "838205441", "type": "page", "title": "A brand new page",
                    "space": {"key": "SP"}}}});
        let view = connect_view(ProductType::Confluence, "comment_created", event);
        assert_eq!(view["comment"]["parent"]["id"], 838_205_441_u64);
        assert_eq!(view["comment"]["parent"]["contentType"], "page");
        assert_eq!(view["comment"]["parent"]["spaceKey"], "SP");
        assert_eq!(view["eventType"], "comment_created");
        assert_eq!(view["forgeEventType"], "avi:confluence:created:comment");
        assert_eq!(view["timestamp"], 1_611_124_161_907_i64);
        assert_eq!(view["userAccountId"], "u-1");
    }

    #[test]
    fn lifecycle_unknown_and_malformed_bodies_are_told_apart() {
        let installed = json!({"payload": {"eventType": INSTALLED, "id": "x"}});
        assert!(matches!(
            parse(&installed.to_string()),
            Ok(Delivery::Lifecycle { .. })
        ));
        let unknown = json!({"eventType": "avi:jira:mentioned:comment"});
        assert!(matches!(
            parse(&unknown.to_string()),
            Err(EventError::Unknown(_))
        ));
        assert_eq!(parse("[]").unwrap_err(), EventError::NotAnEvent);
        assert_eq!(parse("{}").unwrap_err(), EventError::NoEventType);
    }

    #[test]
    fn different_changes_of_one_issue_are_different_events() {
        let update = |changelog: &str| {
            let event = json!({"eventType": "avi:jira:updated:issue", "timestamp": "1",
                "issue": {"id": "1", "key": "K-1"}, "changelog": {"id": changelog}});
            product(&event).event_key
        };
        assert_ne!(update("100"), update("101"));
        assert_eq!(update("100"), update("100"));
    }
}

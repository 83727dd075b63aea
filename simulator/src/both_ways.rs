//! One product event as a Connect app on Forge receives it twice, during its migration: as a
//! Connect webhook and as a Forge trigger's event (docs/migrating-to-forge.md).
//!
//! The model: Jira or Confluence builds each delivery on its own, from the same entity. So
//! both carry the entity's data alike (the issue's id and `updated`, the changelog id, the
//! comment's id and times; the page's id and version number), while each delivery's own time
//! (`timestamp` of a Jira webhook and of a Forge Jira event, `timestamp` of a Confluence
//! webhook, `eventCreatedDate` of a Forge Confluence event) is when that delivery was built:
//! the Forge one is `skew_ms` milliseconds later (or earlier, when negative). The captured Connect payloads
//! and the documented Forge shapes are kept; only the shared entity data is made equal.
use serde_json::{json, Value};

use crate::{forge, payloads};

/// The two deliveries of one product event.
#[derive(Debug, Clone, PartialEq)]
pub struct BothWays {
    /// The Connect event name (the webhook's), e.g. `jira:issue_updated`.
    pub event: &'static str,
    /// The Connect webhook body.
    pub connect: Value,
    /// The Forge event, as the trigger hands it over.
    pub forge: Value,
}

/// `jira:issue_created` of `issue_key`.
pub fn jira_issue_created(issue_key: &str, summary: &str, skew_ms: i64) -> BothWays {
    let project = project_of(issue_key);
    let forge = forge::payloads::jira_issue_created(issue_key, summary, project);
    let connect = payloads::jira_issue_created(issue_key, summary, project);
    jira("jira:issue_created", connect, forge, skew_ms)
}

/// `jira:issue_updated` of `issue_key` by changelog `changelog_id`: `field` from `from` to `to`.
pub fn jira_issue_updated(
    issue_key: &str,
    changelog_id: &str,
    field: &str,
    from: &str,
    to: &str,
    skew_ms: i64,
) -> BothWays {
    let forge = forge::payloads::jira_issue_updated(issue_key, changelog_id, field, from, to);
    let mut connect = payloads::jira_issue_updated(issue_key, field, from, to);
    connect["changelog"]["id"] = json!(changelog_id);
    jira("jira:issue_updated", connect, forge, skew_ms)
}

/// `comment_created`: comment `comment_id` on `issue_key`.
pub fn jira_comment_created(
    issue_key: &str,
    comment_id: &str,
    body: &str,
    skew_ms: i64,
) -> BothWays {
    let forge = forge::payloads::jira_commented(issue_key, comment_id, body, false);
    let mut connect = payloads::jira_comment_created(issue_key, body);
    connect["comment"]["id"] = json!(comment_id);
    for time in ["created", "updated"] {
        connect["comment"][time] = forge["comment"][time].clone();
    }
    jira("comment_created", connect, forge, skew_ms)
}

/// `page_updated` of page `page_id` at `version`.
pub fn confluence_page_updated(
    page_id: u64,
    title: &str,
    space_key: &str,
    version: u64,
    skew_ms: i64,
) -> BothWays {
    let mut forge =
        forge::payloads::confluence_page_updated(&page_id.to_string(), title, space_key, version);
    let mut connect = payloads::confluence_page_updated(page_id, title, space_key);
    connect["page"]["version"] = json!(version);
    let at = chrono::Utc::now();
    connect["timestamp"] = json!(at.timestamp_millis());
    forge["eventCreatedDate"] = json!((at + chrono::Duration::milliseconds(skew_ms))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    BothWays {
        event: "page_updated",
        connect,
        forge,
    }
}

/// A Jira event's two deliveries: the issue as Forge has it in both, each its own timestamp.
fn jira(event: &'static str, mut connect: Value, mut forge: Value, skew_ms: i64) -> BothWays {
    for field in ["id", "key"] {
        connect["issue"][field] = forge["issue"][field].clone();
    }
    for field in ["created", "updated"] {
        connect["issue"]["fields"][field] = forge["issue"]["fields"][field].clone();
    }
    let at = chrono::Utc::now().timestamp_millis();
    connect["timestamp"] = json!(at);
    forge["timestamp"] = json!((at + skew_ms).to_string());
    BothWays {
        event,
        connect,
        forge,
    }
}

fn project_of(issue_key: &str) -> &str {
    issue_key.rsplit_once('-').map_or(issue_key, |(p, _)| p)
}

//! Rules as their authors write them (JSON), for the scenarios to install.
use serde_json::{json, Value};

/// A rule that comments `template` (REST v2 text) on the issue of every `event`.
pub fn jira_comment(event: &str, template: &str) -> Value {
    json!({"name": "comment", "event": event,
        "action": {"type": "jira_comment", "template": template}})
}

/// A rule that adds a footer comment `template` to the page of every `event`.
pub fn confluence_comment(event: &str, template: &str) -> Value {
    json!({"name": "comment", "event": event,
        "action": {"type": "confluence_comment", "template": template}})
}

/// The template of [`echo`]'s comments.
pub const ECHO: &str = "Seen {{ issue.key }}";

/// A rule that comments `Seen {key}` on every created issue.
pub fn echo() -> Value {
    jira_comment("jira:issue_created", ECHO)
}

//! The actions a rule can take, one file per product. Each returns the id of what it created
//! (when it creates something) or a classified [`CallError`].
mod confluence;
mod jira;

use std::sync::Arc;

use common::rules::Action;
use common::subject::Subject;
use common::tenant::Tenant;
use serde_json::Value;

use crate::client::{CallError, ProductClient};

/// Everything an action needs about the event.
pub struct ActionContext<'a> {
    /// The tenant whose product is called.
    pub tenant: &'a Tenant,
    /// The event name.
    pub event: &'a str,
    /// The webhook payload.
    pub payload: &'a Arc<Value>,
    /// The issue, page or blog post the action applies to.
    pub subject: &'a Subject,
    /// A marker unique to this (delivery, rule), stored with created comments where the product
    /// allows, so a retry after a crash can find the comment instead of posting it again.
    pub marker: &'a str,
    /// Whether an earlier attempt may already have created the effect (look before acting).
    pub may_exist: bool,
}

/// Whether a subject is safe to place in a URL path (keys and ids only; never `.` or `..`).
pub fn valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.len() <= 255
        && subject != "."
        && subject != ".."
        && subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Performs `action` and returns the id of what it created, if anything.
pub async fn perform(
    client: &ProductClient,
    action: &Action,
    context: &ActionContext<'_>,
) -> Result<Option<String>, CallError> {
    if !valid_subject(&context.subject.id) {
        return Err(CallError::Permanent(
            "the event's issue key, page id or blog post id is not usable in a URL".into(),
        ));
    }
    match action {
        Action::JiraComment { template, format } => {
            jira::comment(client, context, template, *format).await
        }
        Action::JiraLabel { label } => jira::label(client, context, label).await,
        Action::JiraProperty { key, value } => jira::property(client, context, key, value).await,
        Action::ConfluenceComment { template } => {
            confluence::comment(client, context, template).await
        }
        Action::ConfluenceLabel { label } => confluence::label(client, context, label).await,
        Action::ConfluenceProperty { key, value } => {
            confluence::property(client, context, key, value).await
        }
    }
}

/// Renders a comment template; a failure is permanent (the rule is wrong, not the product).
fn render(
    template: &str,
    context: &ActionContext<'_>,
    escape: common::rules::template::Escape,
) -> Result<String, CallError> {
    let variables = common::rules::template::context(context.event, context.payload.clone());
    common::rules::template::render(template, &variables, escape)
        .map_err(|e| CallError::Permanent(format!("template: {e}")))
}

/// The id field of a created entity (a string or a number).
fn created_id(answer: &Value) -> Option<String> {
    match answer.get("id")? {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_keys_and_ids_are_usable_subjects() {
        assert!(valid_subject("KAN-1") && valid_subject("194347009"));
        for bad in ["", ".", "..", "a/b", "KAN 1", "x?y"] {
            assert!(!valid_subject(bad), "{bad}");
        }
    }
}

//! Jira actions (docs/protocol.md §5): comments (v2 text or v3 ADF), labels, issue properties.
//!
//! Comments carry an entity property `hookline` holding the (delivery, rule) marker. When an
//! earlier attempt may have created the comment (a crash between Jira's 201 and the ledger
//! write), the issue's comments are read first and a comment with the marker is reused.
use common::rules::template::Escape;
use common::rules::CommentFormat;
use reqwest::Method;
use serde_json::{json, Value};

use super::{created_id, render, ActionContext};
use crate::client::{segment, CallError, ProductClient};

/// The comment property that marks hookline's comments.
pub const MARKER_PROPERTY: &str = "hookline";

pub async fn comment(
    client: &ProductClient,
    context: &ActionContext<'_>,
    template: &str,
    format: CommentFormat,
) -> Result<Option<String>, CallError> {
    let issue = segment(&context.subject.id);
    if context.may_exist {
        if let Some(id) = existing_comment(client, context, &issue).await? {
            tracing::info!(comment_id = %id, "comment from an earlier attempt found; not posting again");
            return Ok(Some(id));
        }
    }
    let text = render(template, context, Escape::None)?;
    let properties = json!([{ "key": MARKER_PROPERTY, "value": { "marker": context.marker } }]);
    let (path, body) = match format {
        CommentFormat::Text => (
            format!("/rest/api/2/issue/{issue}/comment"),
            json!({ "body": text, "properties": properties }),
        ),
        CommentFormat::Adf => (
            format!("/rest/api/3/issue/{issue}/comment"),
            json!({ "body": adf(&text), "properties": properties }),
        ),
    };
    let answer = client
        .send(context.tenant, Method::POST, &path, Some(&body))
        .await?;
    Ok(created_id(&answer))
}

async fn existing_comment(
    client: &ProductClient,
    context: &ActionContext<'_>,
    issue: &str,
) -> Result<Option<String>, CallError> {
    let path = format!(
        "/rest/api/2/issue/{issue}/comment?expand=properties&maxResults=100&orderBy=-created"
    );
    let answer = client
        .send(context.tenant, Method::GET, &path, None)
        .await?;
    let comments = answer
        .get("comments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(comments.iter().find_map(|comment| {
        let marked = comment
            .get("properties")?
            .as_array()?
            .iter()
            .any(|property| {
                property.get("key").and_then(Value::as_str) == Some(MARKER_PROPERTY)
                    && property.pointer("/value/marker").and_then(Value::as_str)
                        == Some(context.marker)
            });
        marked.then(|| created_id(comment)).flatten()
    }))
}

pub async fn label(
    client: &ProductClient,
    context: &ActionContext<'_>,
    label: &str,
) -> Result<Option<String>, CallError> {
    let path = format!("/rest/api/2/issue/{}", segment(&context.subject.id));
    let body = json!({ "update": { "labels": [{ "add": label }] } });
    client
        .send(context.tenant, Method::PUT, &path, Some(&body))
        .await
        .map(|_| None)
}

pub async fn property(
    client: &ProductClient,
    context: &ActionContext<'_>,
    key: &str,
    value: &Value,
) -> Result<Option<String>, CallError> {
    let path = format!(
        "/rest/api/2/issue/{}/properties/{}",
        segment(&context.subject.id),
        segment(key)
    );
    client
        .send(context.tenant, Method::PUT, &path, Some(value))
        .await
        .map(|_| None)
}

/// Plain text as an Atlassian Document Format document: one paragraph per line.
pub fn adf(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .lines()
        .map(|line| {
            if line.is_empty() {
                json!({ "type": "paragraph", "content": [] })
            } else {
                json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] })
            }
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_one_adf_paragraph_per_line() {
        let doc = adf("Hello\n\nWorld");
        assert_eq!(doc["type"], "doc");
        assert_eq!(doc["content"].as_array().map(Vec::len), Some(3));
        assert_eq!(doc["content"][2]["content"][0]["text"], "World");
    }
}

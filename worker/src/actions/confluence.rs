//! Confluence actions (docs/protocol.md §5): footer comments, labels, content properties. Paths
//! are relative to the tenant's baseUrl, which ends in `/wiki`; the qsh excludes `/wiki`.
//!
//! Blog posts are acted on like pages, through their own REST paths (`blogPostId`,
//! `/api/v2/blogposts/...`); labels take the same path for both.
//!
//! Footer comments cannot carry a marker the way Jira comments do, so a crash between
//! Confluence's 201 and the ledger write can repeat one comment (the documented bound).
use common::rules::template::Escape;
use common::subject::SubjectKind;
use reqwest::Method;
use serde_json::{json, Value};

use super::{created_id, render, ActionContext};
use crate::client::{segment, CallError, ProductClient};

pub async fn comment(
    client: &ProductClient,
    context: &ActionContext<'_>,
    template: &str,
) -> Result<Option<String>, CallError> {
    let text = render(template, context, Escape::Html)?;
    let mut body = json!({ "body": { "representation": "storage", "value": text } });
    body[content(context).id_field] = json!(context.subject.id);
    let answer = client
        .send(
            context.tenant,
            Method::POST,
            "/api/v2/footer-comments",
            Some(&body),
        )
        .await?;
    Ok(created_id(&answer))
}

pub async fn label(
    client: &ProductClient,
    context: &ActionContext<'_>,
    label: &str,
) -> Result<Option<String>, CallError> {
    let path = format!("/rest/api/content/{}/label", segment(&context.subject.id));
    let body = json!([{ "prefix": "global", "name": label }]);
    client
        .send(context.tenant, Method::POST, &path, Some(&body))
        .await
        .map(|_| None)
}

/// Sets a content property: created when absent, else replaced under the next version (a
/// create of an existing key is refused by Confluence, e.g. when a retry follows a success).
pub async fn property(
    client: &ProductClient,
    context: &ActionContext<'_>,
    key: &str,
    value: &Value,
) -> Result<Option<String>, CallError> {
    let content = content(context);
    let base = format!(
        "/api/v2/{}/{}/properties",
        content.collection,
        segment(&context.subject.id)
    );
    let lookup = format!("{base}?key={}", segment(key));
    let existing = client
        .send(context.tenant, Method::GET, &lookup, None)
        .await?;
    let current = existing
        .get("results")
        .and_then(Value::as_array)
        .and_then(|results| results.first().cloned());
    match current {
        None => {
            let body = json!({ "key": key, "value": value });
            client
                .send(context.tenant, Method::POST, &base, Some(&body))
                .await
                .map(|_| None)
        }
        Some(property) => {
            let id = created_id(&property)
                .ok_or_else(|| CallError::Permanent("the existing property has no id".into()))?;
            let version = property
                .pointer("/version/number")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let body = json!({ "key": key, "value": value, "version": { "number": version + 1 } });
            let path = format!("{base}/{}", segment(&id));
            client
                .send(context.tenant, Method::PUT, &path, Some(&body))
                .await
                .map(|_| None)
        }
    }
}

/// How the v2 API names a kind of content.
struct Content {
    /// The field of a footer comment naming its content.
    id_field: &'static str,
    /// The path segment of the content's collection.
    collection: &'static str,
}

fn content(context: &ActionContext<'_>) -> Content {
    match context.subject.kind {
        SubjectKind::BlogPost => Content {
            id_field: "blogPostId",
            collection: "blogposts",
        },
        SubjectKind::Page | SubjectKind::Issue => Content {
            id_field: "pageId",
            collection: "pages",
        },
    }
}

//! The Confluence Cloud REST endpoints the worker calls (docs/protocol.md §5), relative to
//! `/t/{site}/wiki`.
use std::time::Instant;

use serde_json::{json, Value};
use warp::reply::Response;

use super::faults::Endpoint;
use super::records::{RecordedComment, RecordedLabel, RecordedProperty};
use super::reply::{self, confluence_error as error};
use super::state::{StoredProperty, Tenant};

const REPRESENTATIONS: [&str; 3] = ["storage", "atlas_doc_format", "wiki"];
const LABEL_PREFIXES: [&str; 3] = ["global", "my", "team"];

/// A Confluence endpoint the simulator implements.
#[derive(Debug)]
pub(crate) enum Route {
    AddComment,
    ListComments { page: String },
    AddLabels { page: String },
    AddProperty { page: String },
    ListProperties { page: String },
    UpdateProperty { page: String, id: String },
}

impl Route {
    /// Recognises `method` on the path `segments` (percent-decoded, `/t/{site}/wiki` removed).
    pub(crate) fn parse(method: &str, segments: &[&str]) -> Option<Self> {
        let page = |s: &&str| (*s).to_owned();
        // Pages and blog posts have the same v2 endpoints under their own collections.
        let content = |collection: &str| matches!(collection, "pages" | "blogposts");
        Some(match (method, segments) {
            ("POST", ["api", "v2", "footer-comments"]) => Self::AddComment,
            ("GET", ["api", "v2", c, id, "footer-comments"]) if content(c) => {
                Self::ListComments { page: page(id) }
            }
            ("POST", ["rest", "api", "content", id, "label"]) => Self::AddLabels { page: page(id) },
            ("POST", ["api", "v2", c, id, "properties"]) if content(c) => {
                Self::AddProperty { page: page(id) }
            }
            ("GET", ["api", "v2", c, id, "properties"]) if content(c) => {
                Self::ListProperties { page: page(id) }
            }
            ("PUT", ["api", "v2", c, id, "properties", property]) if content(c) => {
                Self::UpdateProperty {
                    page: page(id),
                    id: page(property),
                }
            }
            _ => return None,
        })
    }

    /// The fault family of this endpoint.
    pub(crate) fn endpoint(&self) -> Endpoint {
        match self {
            Self::AddComment | Self::ListComments { .. } => Endpoint::Comment,
            Self::AddLabels { .. } => Endpoint::Label,
            Self::AddProperty { .. }
            | Self::ListProperties { .. }
            | Self::UpdateProperty { .. } => Endpoint::Property,
        }
    }

    /// Handles a verified request on this endpoint.
    pub(crate) fn handle(self, tenant: &mut Tenant, query: &str, body: &[u8]) -> Response {
        match self {
            Self::AddComment => with_json(body, |request| add_comment(tenant, request)),
            Self::ListComments { page } => list_comments(tenant, &page, query),
            Self::AddLabels { page } => {
                with_json(body, |request| add_labels(tenant, page, &request))
            }
            Self::AddProperty { page } => {
                with_json(body, |request| add_property(tenant, page, request))
            }
            Self::ListProperties { page } => list_properties(tenant, &page, query),
            Self::UpdateProperty { page, id } => {
                with_json(body, |request| update_property(tenant, &page, &id, request))
            }
        }
    }
}

fn with_json(body: &[u8], handle: impl FnOnce(Value) -> Response) -> Response {
    match reply::parse_body(body) {
        Ok(request) => handle(request),
        Err(message) => error(400, &message),
    }
}

fn query_param(query: &str, wanted: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == wanted)
        .map(|(_, value)| value.into_owned())
}

fn add_comment(tenant: &mut Tenant, request: Value) -> Response {
    // A footer comment names its page or its blog post.
    let content = ["pageId", "blogPostId"]
        .iter()
        .find_map(|field| match &request[*field] {
            Value::String(id) if !id.is_empty() => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        });
    let Some(page) = content else {
        return error(400, "pageId or blogPostId is required.");
    };
    let body = &request["body"];
    let representation = body["representation"].as_str().unwrap_or_default();
    if !REPRESENTATIONS.contains(&representation) || !body["value"].is_string() {
        return error(400, "body must have a representation and a string value.");
    }
    let id = tenant.next_id();
    let answer = comment_json(&id, &page, body, Some(representation));
    tenant.comments.push(RecordedComment {
        client_key: tenant.client_key.clone(),
        target: page,
        body: request,
        id,
        properties: Value::Null,
        at: Instant::now(),
    });
    reply::json(201, &answer)
}

fn comment_json(id: &str, page: &str, body: &Value, format: Option<&str>) -> Value {
    let shown = match format {
        Some(format) if body["representation"] == format => json!({ format: body }),
        _ => json!({}),
    };
    json!({ "id": id, "status": "current", "pageId": page, "version": { "number": 1 }, "body": shown })
}

fn property_json(stored: &StoredProperty) -> Value {
    json!({
        "id": stored.id,
        "key": stored.record.key,
        "value": stored.record.value,
        "version": { "number": stored.version },
    })
}

fn list_comments(tenant: &Tenant, page: &str, query: &str) -> Response {
    let format = query_param(query, "body-format");
    let results: Vec<Value> = tenant
        .comments
        .iter()
        .filter(|comment| comment.target == page)
        .map(|comment| comment_json(&comment.id, page, &comment.body["body"], format.as_deref()))
        .collect();
    reply::json(200, &json!({ "results": results, "_links": {} }))
}

fn list_properties(tenant: &Tenant, page: &str, query: &str) -> Response {
    let key = query_param(query, "key");
    let results: Vec<Value> = tenant
        .properties
        .iter()
        .filter(|stored| stored.record.target == page)
        .filter(|stored| key.iter().all(|key| *key == stored.record.key))
        .map(property_json)
        .collect();
    reply::json(200, &json!({ "results": results, "_links": {} }))
}

fn add_labels(tenant: &mut Tenant, page: String, request: &Value) -> Response {
    let labels = match request {
        Value::Array(labels) => labels.iter().collect::<Vec<_>>(),
        Value::Object(_) => vec![request],
        _ => return error(400, "Expected a label or a list of labels."),
    };
    let mut added = Vec::new();
    for label in labels {
        let prefix = label["prefix"].as_str().unwrap_or("global");
        let name = label["name"].as_str().unwrap_or_default();
        if !LABEL_PREFIXES.contains(&prefix)
            || name.is_empty()
            || name.contains(char::is_whitespace)
        {
            return error(400, &format!("Invalid label: {label}"));
        }
        added.push(name.to_lowercase());
    }
    for label in added {
        let known = tenant
            .labels
            .iter()
            .any(|l| l.target == page && l.label == label);
        if !known {
            tenant.labels.push(RecordedLabel {
                client_key: tenant.client_key.clone(),
                target: page.clone(),
                label,
            });
        }
    }
    let results: Vec<Value> = tenant
        .labels
        .iter()
        .filter(|l| l.target == page)
        .map(|l| json!({ "prefix": "global", "name": l.label, "label": l.label }))
        .collect();
    let size = results.len();
    reply::json(
        200,
        &json!({ "results": results, "start": 0, "limit": 200, "size": size }),
    )
}

fn add_property(tenant: &mut Tenant, page: String, request: Value) -> Response {
    let Some(key) = request["key"].as_str().filter(|key| !key.is_empty()) else {
        return error(400, "key is required.");
    };
    let Some(value) = request.get("value").cloned() else {
        return error(400, "value is required.");
    };
    if tenant.property_mut(&page, key).is_some() {
        return error(
            409,
            &format!("Cannot add a property with key '{key}': one already exists."),
        );
    }
    let stored = StoredProperty {
        record: RecordedProperty {
            client_key: tenant.client_key.clone(),
            target: page,
            key: key.to_owned(),
            value,
        },
        id: tenant.next_id(),
        version: 1,
    };
    let answer = property_json(&stored);
    tenant.properties.push(stored);
    reply::json(200, &answer)
}

fn update_property(tenant: &mut Tenant, page: &str, id: &str, request: Value) -> Response {
    let stored = tenant
        .properties
        .iter_mut()
        .find(|p| p.record.target == page && p.id == id);
    let Some(stored) = stored else {
        return error(404, &format!("No property {id} on page {page}."));
    };
    let Some(value) = request.get("value").cloned() else {
        return error(400, "value is required.");
    };
    if request["key"]
        .as_str()
        .is_some_and(|key| key != stored.record.key)
    {
        return error(400, "The key of a property cannot change.");
    }
    if request["version"]["number"].as_u64() != Some(stored.version + 1) {
        let expected = stored.version + 1;
        return error(
            409,
            &format!("Version conflict: version.number must be {expected}."),
        );
    }
    stored.record.value = value;
    stored.version += 1;
    reply::json(200, &property_json(stored))
}

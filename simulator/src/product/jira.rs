//! The Jira Cloud REST endpoints the worker calls (docs/protocol.md §5), relative to `/t/{site}`.
use std::time::Instant;

use serde_json::{json, Value};
use warp::reply::Response;

use super::faults::Endpoint;
use super::records::{RecordedComment, RecordedLabel, RecordedProperty};
use super::reply::{self, error, field_error};
use super::state::{StoredProperty, Tenant};

/// Jira refuses entity property values above 32 KiB.
const MAX_PROPERTY_BYTES: usize = 32 * 1024;
/// Jira refuses property keys above 255 characters.
const MAX_PROPERTY_KEY_CHARS: usize = 255;

/// A Jira endpoint the simulator implements.
#[derive(Debug)]
pub(crate) enum Route {
    AddComment { issue: String, adf: bool },
    ListComments { issue: String },
    EditIssue { issue: String },
    SetProperty { issue: String, key: String },
    GetProperty { issue: String, key: String },
}

impl Route {
    /// Recognises `method` on the path `segments` (percent-decoded, base path removed).
    pub(crate) fn parse(method: &str, segments: &[&str]) -> Option<Self> {
        let (version, rest) = match segments {
            ["rest", "api", version @ ("2" | "3"), "issue", rest @ ..] => (*version, rest),
            _ => return None,
        };
        let owned = |s: &&str| (*s).to_owned();
        Some(match (method, rest) {
            ("POST", [issue, "comment"]) => Self::AddComment {
                issue: owned(issue),
                adf: version == "3",
            },
            ("GET", [issue, "comment"]) => Self::ListComments {
                issue: owned(issue),
            },
            ("PUT", [issue]) => Self::EditIssue {
                issue: owned(issue),
            },
            ("PUT", [issue, "properties", key]) => Self::SetProperty {
                issue: owned(issue),
                key: owned(key),
            },
            ("GET", [issue, "properties", key]) => Self::GetProperty {
                issue: owned(issue),
                key: owned(key),
            },
            _ => return None,
        })
    }

    /// The fault family of this endpoint.
    pub(crate) fn endpoint(&self) -> Endpoint {
        match self {
            Self::AddComment { .. } | Self::ListComments { .. } => Endpoint::Comment,
            Self::EditIssue { .. } => Endpoint::Label,
            Self::SetProperty { .. } | Self::GetProperty { .. } => Endpoint::Property,
        }
    }

    /// Handles a verified request on this endpoint.
    pub(crate) fn handle(self, tenant: &mut Tenant, query: &str, body: &[u8]) -> Response {
        match self {
            Self::AddComment { issue, adf } => add_comment(tenant, issue, adf, body),
            Self::ListComments { issue } => list_comments(tenant, &issue, query),
            Self::EditIssue { issue } => edit_issue(tenant, issue, body),
            Self::SetProperty { issue, key } => set_property(tenant, issue, key, body),
            Self::GetProperty { issue, key } => match tenant.property_mut(&issue, &key) {
                Some(stored) => {
                    reply::json(200, &json!({ "key": key, "value": stored.record.value }))
                }
                None => error(
                    404,
                    &format!("The property with key '{key}' does not exist."),
                ),
            },
        }
    }
}

fn add_comment(tenant: &mut Tenant, issue: String, adf: bool, body: &[u8]) -> Response {
    let request = match reply::parse_body(body) {
        Ok(request) => request,
        Err(message) => return error(400, &message),
    };
    let text = &request["body"];
    if adf {
        let is_doc = text["type"] == "doc" && text["version"] == 1 && text["content"].is_array();
        if !is_doc {
            return field_error(
                "comment",
                "Comment body is not valid Atlassian Document Format.",
            );
        }
    } else if text.as_str().unwrap_or_default().trim().is_empty() {
        return field_error("comment", "Comment body can not be empty!");
    }
    let properties = request.get("properties").cloned().unwrap_or(Value::Null);
    if !properties.is_null() && !are_properties(&properties) {
        return field_error("properties", "Properties must be a list of {key, value}.");
    }
    let id = tenant.next_id();
    let answer = json!({ "id": id, "body": text, "properties": properties.as_array().cloned().unwrap_or_default() });
    tenant.comments.push(RecordedComment {
        client_key: tenant.client_key.clone(),
        target: issue,
        body: request,
        id,
        properties,
        at: Instant::now(),
    });
    reply::json(201, &answer)
}

fn are_properties(properties: &Value) -> bool {
    properties.as_array().is_some_and(|list| {
        list.iter()
            .all(|p| p["key"].as_str().is_some_and(|k| !k.is_empty()) && p.get("value").is_some())
    })
}

fn list_comments(tenant: &Tenant, issue: &str, query: &str) -> Response {
    let with_properties = form_urlencoded::parse(query.as_bytes())
        .any(|(name, value)| name == "expand" && value.split(',').any(|v| v == "properties"));
    let comments: Vec<Value> = tenant
        .comments
        .iter()
        .filter(|comment| comment.target == issue)
        .map(|comment| {
            let mut value = json!({ "id": comment.id, "body": comment.body["body"] });
            if with_properties {
                value["properties"] =
                    json!(comment.properties.as_array().cloned().unwrap_or_default());
            }
            value
        })
        .collect();
    let total = comments.len();
    reply::json(
        200,
        &json!({ "startAt": 0, "maxResults": 5000, "total": total, "comments": comments }),
    )
}

fn edit_issue(tenant: &mut Tenant, issue: String, body: &[u8]) -> Response {
    let request = match reply::parse_body(body) {
        Ok(request) if request.is_object() => request,
        Ok(_) => return error(400, "The request body must be a JSON object."),
        Err(message) => return error(400, &message),
    };
    let operations = match &request["update"]["labels"] {
        Value::Null => return reply::empty(204),
        Value::Array(operations) => operations,
        _ => return field_error("labels", "Operations must be a list."),
    };
    let mut added = Vec::new();
    for operation in operations {
        let labels: Vec<&Value> = match operation.as_object().filter(|op| op.len() == 1) {
            Some(op) if op.contains_key("add") || op.contains_key("remove") => {
                op.values().collect()
            }
            Some(op) if op.contains_key("set") => op["set"]
                .as_array()
                .map(|v| v.iter().collect())
                .unwrap_or_default(),
            _ => {
                return field_error(
                    "labels",
                    "Each operation must be one of add, remove or set.",
                )
            }
        };
        for label in labels {
            let Some(label) = label.as_str().filter(|label| !label.is_empty()) else {
                return field_error("labels", "A label must be a non-empty string.");
            };
            if label.contains(char::is_whitespace) {
                return field_error(
                    "labels",
                    &format!("The label '{label}' contains spaces which is invalid."),
                );
            }
            if operation.get("remove").is_none() {
                added.push(label.to_owned());
            }
        }
    }
    for label in added {
        tenant.labels.push(RecordedLabel {
            client_key: tenant.client_key.clone(),
            target: issue.clone(),
            label,
        });
    }
    reply::empty(204)
}

fn set_property(tenant: &mut Tenant, issue: String, key: String, body: &[u8]) -> Response {
    if key.is_empty() || key.chars().count() > MAX_PROPERTY_KEY_CHARS {
        return error(400, "The property key must be 1 to 255 characters long.");
    }
    if body.len() > MAX_PROPERTY_BYTES {
        return error(
            400,
            "The property value is too large (32768 bytes at most).",
        );
    }
    let value = match reply::parse_body(body) {
        Ok(value) => value,
        Err(message) => return error(400, &message),
    };
    if let Some(stored) = tenant.property_mut(&issue, &key) {
        stored.record.value = value;
        stored.version += 1;
        return reply::empty(200);
    }
    let id = tenant.next_id();
    tenant.properties.push(StoredProperty {
        record: RecordedProperty {
            client_key: tenant.client_key.clone(),
            target: issue,
            key,
            value,
        },
        id,
        version: 1,
    });
    reply::empty(201)
}

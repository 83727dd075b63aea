//! Building the JSON answers the products give.
use serde_json::{json, Value};
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::hyper::Body;
use warp::reply::Response;

/// An answer with `status` (500 if it is not a valid status code) and no body.
pub(crate) fn empty(status: u16) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// An answer with `status` and a JSON body.
pub(crate) fn json(status: u16, body: &Value) -> Response {
    let mut response = empty(status);
    *response.body_mut() = Body::from(body.to_string());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error in Jira's shape: `{"errorMessages": [...], "errors": {}}`.
pub(crate) fn error(status: u16, message: &str) -> Response {
    json(status, &json!({ "errorMessages": [message], "errors": {} }))
}

/// A field error in Jira's shape: `{"errorMessages": [], "errors": {field: message}}`.
pub(crate) fn field_error(field: &str, message: &str) -> Response {
    json(
        400,
        &json!({ "errorMessages": [], "errors": { field: message } }),
    )
}

/// An error in Confluence v2's shape: `{"errors": [{"status", "code", "title"}]}`.
pub(crate) fn confluence_error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("ERROR")
        .to_uppercase()
        .replace(' ', "_");
    json(
        status,
        &json!({ "errors": [{ "status": status, "code": code, "title": message, "detail": null }] }),
    )
}

/// Parses a request body as JSON; the error says why it is not acceptable.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Err("the request body is empty".to_owned());
    }
    serde_json::from_slice(body).map_err(|error| format!("the request body is not JSON: {error}"))
}

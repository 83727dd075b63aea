//! `POST /webhooks/{product}/{event}`: verify, wrap in an envelope, publish with confirm, and
//! only then answer 2xx.
use chrono::Utc;
use common::connect::QshRule;
use common::envelope::EventEnvelope;
use common::tenant::ProductType;
use serde_json::value::RawValue;
use warp::http::{HeaderMap, StatusCode};
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::auth::{authenticate, request_target, token_of, RequestTarget};
use crate::errors::ApiError;
use crate::state::AppState;

const WEBHOOK_ID: &str = "x-atlassian-webhook-identifier";
const WEBHOOK_RETRY: &str = "x-atlassian-webhook-retry";
const WEBHOOK_FLOW: &str = "x-atlassian-webhook-flow";
const MAX_WEBHOOK_ID_LEN: usize = 128;

pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let body_limit = state.settings.server.body_limit_bytes;
    warp::path!("webhooks" / String / String)
        .and(warp::post())
        .and(request_target())
        .and(warp::header::headers_cloned())
        .and(warp::body::content_length_limit(body_limit))
        .and(warp::body::bytes())
        .and(with_state(state))
        .then(
            |product: String, event: String, request, headers, body, state| async move {
                receive(product, event, request, headers, body, state)
                    .await
                    .unwrap_or_else(Reply::into_response)
            },
        )
}

#[tracing::instrument(name = "webhook", skip_all, fields(product = %product, event, client_key, event_id))]
async fn receive(
    product: String,
    event: String,
    request: RequestTarget,
    headers: HeaderMap,
    body: Bytes,
    state: AppState,
) -> Result<Response, ApiError> {
    let event = percent_encoding::percent_decode_str(&event)
        .decode_utf8_lossy()
        .into_owned();
    tracing::Span::current().record("event", event.as_str());
    let product = subscribed(&state, &product, &event)?;

    let token = token_of(&headers, &request);
    let tenant = authenticate(&state, token.as_deref(), &request, QshRule::Request)
        .await?
        .tenant;
    tracing::Span::current().record("client_key", tenant.client_key.as_str());
    if !tenant.is_active() {
        tracing::info!(
            state = tenant.state.as_str(),
            "event of an inactive tenant refused"
        );
        return Err(ApiError::forbidden(
            "tenant_inactive",
            "the app is not enabled for this site",
        ));
    }
    if tenant.product_type != product {
        return Err(ApiError::forbidden(
            "product_mismatch",
            "this site cannot send events for that product",
        ));
    }

    let envelope = EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        client_key: tenant.client_key.as_str().to_owned(),
        product,
        event,
        webhook_id: webhook_id(&headers)?,
        retry: header(&headers, WEBHOOK_RETRY)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
        flow: header(&headers, WEBHOOK_FLOW)
            .filter(|flow| matches!(*flow, "Primary" | "Secondary"))
            .map(str::to_owned),
        received_at: Utc::now(),
        payload: json_object(&body)?,
    };
    tracing::Span::current().record("event_id", tracing::field::display(envelope.event_id));
    state.publisher.publish_confirmed(&envelope).await?;
    state.metrics.event_accepted(envelope.product.as_str());
    tracing::info!(
        webhook_id = envelope.webhook_id.as_deref(),
        retry = envelope.retry,
        "event accepted"
    );
    let body = warp::reply::json(&serde_json::json!({ "eventId": envelope.event_id }));
    Ok(warp::reply::with_status(body, StatusCode::ACCEPTED).into_response())
}

/// The product of a configured `product:event` subscription, else 404.
fn subscribed(state: &AppState, product: &str, event: &str) -> Result<ProductType, ApiError> {
    let known = state
        .settings
        .app
        .webhooks
        .iter()
        .any(|w| w.split_once(':') == Some((product, event)));
    match ProductType::parse(product) {
        Ok(product) if known => Ok(product),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_event",
            "this app does not subscribe to that event",
        )),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn webhook_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(WEBHOOK_ID) else {
        return Ok(None);
    };
    let id = value.to_str().unwrap_or_default();
    let valid = !id.is_empty()
        && id.len() <= MAX_WEBHOOK_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(Some(id.to_owned()))
    } else {
        Err(ApiError::bad_request(
            "invalid_webhook_id",
            "X-Atlassian-Webhook-Identifier must be 1 to 128 visible ASCII characters",
        ))
    }
}

/// The body as raw JSON, checked to be one JSON object (never re-serialised).
fn json_object(body: &Bytes) -> Result<Box<RawValue>, ApiError> {
    let invalid = || ApiError::bad_request("invalid_json", "the body is not a JSON object");
    let raw: Box<RawValue> = serde_json::from_slice(body).map_err(|_| invalid())?;
    if !raw.get().trim_start().starts_with('{') {
        return Err(invalid());
    }
    // Reading raw JSON skips nested values without serde_json's depth limit; the worker parses
    // the payload fully, so refuse here what it could not read.
    if nesting_depth(raw.get().as_bytes()) > MAX_JSON_DEPTH {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body nests deeper than 128 levels",
        ));
    }
    Ok(raw)
}

/// serde_json's own recursion limit.
const MAX_JSON_DEPTH: usize = 128;

/// The deepest nesting of arrays and objects in valid JSON text.
fn nesting_depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings_only() {
        assert_eq!(nesting_depth(br#"{"a":[1,{"b":"[[[{{{"}]}"#), 3);
        assert_eq!(nesting_depth(br#"{"a":"quote \" [ inside"}"#), 1);
        assert_eq!(nesting_depth(b"{}"), 1);
    }

    #[test]
    fn a_body_nested_past_serde_jsons_limit_is_refused() {
        let mut deep = b"{\"a\":".to_vec();
        deep.extend(std::iter::repeat_n(b'[', 200));
        deep.extend(std::iter::repeat_n(b']', 200));
        deep.push(b'}');
        let error = json_object(&Bytes::from(deep)).unwrap_err();
        assert_eq!(error.code, "invalid_json");
        assert!(error.message.contains("128"));
        assert!(json_object(&Bytes::from_static(br#"{"issue":{"key":"KAN-1"}}"#)).is_ok());
    }
}

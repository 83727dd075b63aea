//! `POST /webhooks/{product}/{event}`: verify, wrap in an envelope, publish with confirm, and
//! only then answer 2xx.
use chrono::Utc;
use common::connect::QshRule;
use common::envelope::EventEnvelope;
use common::tenant::{ProductType, TenantId};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::body::{BodyError, PendingBody};
use crate::caller::{self, Caller};
use crate::errors::ApiError;
use crate::state::AppState;

const WEBHOOK_ID: &str = "x-atlassian-webhook-identifier";
const WEBHOOK_RETRY: &str = "x-atlassian-webhook-retry";
const WEBHOOK_FLOW: &str = "x-atlassian-webhook-flow";
const MAX_WEBHOOK_ID_LEN: usize = 128;

pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // The caller is verified before the body is read: the qsh covers the method, path and
    // query, not the body, so a forged request is refused without reading it, and a body over
    // the limit is logged with its verified tenant.
    warp::path!("webhooks" / String / String)
        .and(warp::post())
        .and(caller::connect(state.clone(), QshRule::Request))
        .and(warp::header::headers_cloned())
        .and(crate::body::pending())
        .and(with_state(state))
        .then(
            |product: String, event: String, caller, headers, body, state| async move {
                receive(product, event, caller, headers, body, state)
                    .await
                    .unwrap_or_else(Reply::into_response)
            },
        )
}

#[tracing::instrument(name = "webhook", skip_all, fields(product = %product, event, event_id))]
async fn receive(
    product: String,
    event: String,
    caller: Caller,
    headers: HeaderMap,
    body: PendingBody,
    state: AppState,
) -> Result<Response, ApiError> {
    let event = percent_encoding::percent_decode_str(&event)
        .decode_utf8_lossy()
        .into_owned();
    tracing::Span::current().record("event", event.as_str());
    let product = subscribed(&state, &product, &event)?;
    let tenant = caller.tenant;
    if tenant.product_type != product {
        return Err(ApiError::forbidden(
            "product_mismatch",
            "this site cannot send events for that product",
        ));
    }
    let webhook_id = webhook_id(&headers)?;
    let announced = body.announced();
    let body = state.body_limits.read(body).await.map_err(|error| {
        if let BodyError::TooLarge { size } = error {
            state.metrics.body_too_large(product.as_str(), &event);
            tracing::warn!(
                webhook_id = webhook_id.as_deref(),
                size,
                announced,
                limit = state.body_limits.limit(),
                "webhook body over server.body_limit_bytes refused; the product will not retry it"
            );
        }
        ApiError::from(error)
    })?;
    let (body, slot) = body.into_parts();
    let payload = json_object(body)?;
    let envelope = EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        tenant: TenantId::Connect(tenant.client_key),
        product,
        event,
        webhook_id,
        retry: header(&headers, WEBHOOK_RETRY)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
        flow: header(&headers, WEBHOOK_FLOW)
            .filter(|flow| matches!(*flow, "Primary" | "Secondary"))
            .map(str::to_owned),
        received_at: Utc::now(),
        payload,
    };
    tracing::Span::current().record("event_id", tracing::field::display(envelope.event_id));
    state.publisher.publish_confirmed(&envelope).await?;
    // Held until the event is confirmed: a large body keeps its slot while it is in memory.
    drop((envelope.payload, slot));
    state
        .metrics
        .event_accepted(envelope.product.as_str(), "connect");
    tracing::info!(
        webhook_id = envelope.webhook_id.as_deref(),
        retry = envelope.retry,
        "event accepted"
    );
    let body = warp::reply::json(&serde_json::json!({ "eventId": envelope.event_id }));
    Ok(warp::reply::with_status(body, StatusCode::ACCEPTED).into_response())
}

/// The product of a configured `product:event` subscription, else 404.
pub(crate) fn subscribed(
    state: &AppState,
    product: &str,
    event: &str,
) -> Result<ProductType, ApiError> {
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

/// The body as raw JSON, checked to be one JSON object (never re-serialised, and not copied
/// when it has no surrounding whitespace) that the worker can read.
pub fn json_object(body: Vec<u8>) -> Result<Box<RawValue>, ApiError> {
    let invalid = || ApiError::bad_request("invalid_json", "the body is not a JSON object");
    let text = String::from_utf8(body).map_err(|_| invalid())?;
    let raw = RawValue::from_string(text).map_err(|_| invalid())?;
    if !raw.get().starts_with('{') {
        return Err(invalid());
    }
    // Reading raw JSON skips nested values without the checks of a full parse: serde_json's
    // depth limit (127 levels), numbers beyond f64 and lone UTF-16 surrogates in `\u` escapes.
    // The worker parses the payload fully (into a `Value`), so refuse here what it could not
    // read, with the same parser, rather than answer 202 for an event it would dead-letter.
    if serde_json::from_str::<Readable>(raw.get()).is_err() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body is not JSON the worker can read (nested deeper than 127 levels, a number out of range or a lone surrogate)",
        ));
    }
    Ok(raw)
}

/// Reads a JSON value exactly as `serde_json::Value` does, keeping nothing of it.
struct Readable;

impl<'de> Deserialize<'de> for Readable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Readable)
    }
}

impl<'de> Visitor<'de> for Readable {
    type Value = Readable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_str<E>(self, _: &str) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_unit<E>(self) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Readable, A::Error> {
        while seq.next_element::<Readable>()?.is_some() {}
        Ok(Readable)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Readable, A::Error> {
        while map.next_entry::<Readable, Readable>()?.is_some() {}
        Ok(Readable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(body: &str) -> bool {
        json_object(body.as_bytes().to_vec()).is_ok()
    }

    fn nested(depth: usize) -> String {
        format!(
            "{{\"a\":{}{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    }

    #[test]
    fn a_body_nested_past_serde_jsons_limit_is_refused() {
        let error = json_object(nested(200).into_bytes()).unwrap_err();
        assert_eq!(error.code, "invalid_json");
        assert!(error.message.contains("127"));
        assert!(json_object(br#"{"issue":{"key":"KAN-1"}}"#.to_vec()).is_ok());
    }

    // Found by fuzz/fuzz_targets/webhook_body.rs: the old nesting count let 128 levels through,
    // one more than serde_json reads.
    #[test]
    fn a_body_nested_exactly_at_serde_jsons_limit_is_refused_and_one_less_is_accepted() {
        assert!(accepts(&nested(127)));
        assert!(!accepts(&nested(128)));
        assert!(serde_json::from_str::<serde_json::Value>(&nested(128)).is_err());
    }

    // Found by fuzz/fuzz_targets/webhook_body.rs: raw JSON does not range-check numbers.
    #[test]
    fn a_number_beyond_f64_is_refused_and_large_ones_are_accepted() {
        assert!(!accepts(r#"{"a":1e400}"#));
        assert!(!accepts(r#"{"a":[-1e309]}"#));
        assert!(accepts(
            r#"{"a":1e300,"b":18446744073709551616,"c":-0,"d":1e-400}"#
        ));
    }

    // Found by fuzz/fuzz_targets/webhook_body.rs (`"conte\udc00ntType"` in a fixture payload):
    // raw JSON does not pair surrogate escapes, the worker's parse does.
    #[test]
    fn a_lone_surrogate_escape_is_refused_and_a_pair_is_accepted() {
        assert!(!accepts(r#"{"a":"\ud800"}"#));
        assert!(!accepts(r#"{"conte\udc00ntType":"page"}"#));
        assert!(accepts(r#"{"a":"\ud83d\ude00 [{ \" "}"#));
    }

    #[test]
    fn only_a_json_object_is_accepted() {
        for body in ["[]", "1", "\"{}\"", "{} {}", "{", ""] {
            assert!(!accepts(body), "{body}");
        }
        assert!(accepts(" \n{} \n"));
    }
}

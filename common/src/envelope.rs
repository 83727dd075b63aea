//! The message the ingress hands to the queue and the worker consumes: a versioned, tagged
//! enum, so producer and consumer agree by type and a new version can be added beside the old.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::tenant::ProductType;

/// Room for an envelope's fields around its payload, bytes (ids, names, timestamps).
const ENVELOPE_OVERHEAD: usize = 1024;

/// A message on the event queues: `{"event.v1": {...}}`.
///
/// Externally tagged on purpose: serde reads the payload as raw JSON only when it need not
/// buffer the variant's content, which internal tagging would force.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum QueueMessage {
    /// Version 1 of the event envelope.
    #[serde(rename = "event.v1")]
    EventV1(EventEnvelope),
}

/// One verified webhook, tagged with its tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// hookline's id of this receipt (new for every request, including Jira's retries).
    pub event_id: Uuid,
    /// The tenant the webhook came from (verified `iss`).
    pub client_key: String,
    /// The product that sent it.
    pub product: ProductType,
    /// The event name, e.g. `jira:issue_created` or `page_created`.
    pub event: String,
    /// `X-Atlassian-Webhook-Identifier`: the same across Jira's retries of one delivery.
    pub webhook_id: Option<String>,
    /// `X-Atlassian-Webhook-Retry`: 0 for the first delivery.
    pub retry: u32,
    /// `X-Atlassian-Webhook-Flow` (`Primary` or `Secondary`), when sent.
    pub flow: Option<String>,
    /// When the ingress received it.
    pub received_at: DateTime<Utc>,
    /// The webhook body exactly as received (valid JSON, never re-serialised).
    pub payload: Box<RawValue>,
}

impl EventEnvelope {
    /// The delivery's identity within its tenant: the webhook identifier, or when Jira sent
    /// none, a hash of the body (identical retries then share it).
    pub fn delivery_id(&self) -> String {
        match &self.webhook_id {
            Some(id) => id.clone(),
            None => body_hash(self.payload.get().as_bytes()),
        }
    }

    /// The topic routing key: `{product}.{event}`.
    pub fn routing_key(&self) -> String {
        format!("{}.{}", self.product.as_str(), self.event)
    }
}

/// `sha256:` and the hex SHA-256 of a body.
pub fn body_hash(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

/// The same wire form as [`QueueMessage`], borrowing the envelope (no copy of the payload).
#[derive(Serialize)]
enum QueueMessageRef<'a> {
    #[serde(rename = "event.v1")]
    EventV1(&'a EventEnvelope),
}

impl QueueMessage {
    /// Serialises the message for the queue.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::EventV1(event) => Self::encode_event(event),
        }
    }

    /// Serialises `event` as a version-1 message without copying it.
    pub fn encode_event(event: &EventEnvelope) -> Vec<u8> {
        // Sized once: a large payload is not copied again each time the buffer would grow.
        let mut bytes = Vec::with_capacity(event.payload.get().len() + ENVELOPE_OVERHEAD);
        // Serialising this type cannot fail: every field is a string, number or raw JSON.
        let _ = serde_json::to_writer(&mut bytes, &QueueMessageRef::EventV1(event));
        bytes
    }

    /// Parses a message from the queue.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(webhook_id: Option<&str>) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::nil(),
            client_key: "tenant-a".into(),
            product: ProductType::Jira,
            event: "jira:issue_created".into(),
            webhook_id: webhook_id.map(str::to_owned),
            retry: 0,
            flow: None,
            received_at: DateTime::<Utc>::from_timestamp(0, 0).expect("epoch"),
            payload: RawValue::from_string(r#"{"issue": {"key": "KAN-1"}}"#.into()).expect("json"),
        }
    }

    #[test]
    fn a_message_round_trips_with_its_payload_byte_for_byte() {
        let message = QueueMessage::EventV1(envelope(Some("wh-1")));
        let QueueMessage::EventV1(back) =
            QueueMessage::from_bytes(&message.to_bytes()).expect("parses");
        assert_eq!(back.payload.get(), r#"{"issue": {"key": "KAN-1"}}"#);
        assert_eq!(back.routing_key(), "jira.jira:issue_created");
        assert!(String::from_utf8(message.to_bytes())
            .expect("utf8")
            .starts_with(r#"{"event.v1":"#));
    }

    #[test]
    fn the_delivery_id_is_the_webhook_id_or_else_the_body_hash() {
        assert_eq!(envelope(Some("wh-1")).delivery_id(), "wh-1");
        let hashed = envelope(None).delivery_id();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 7 + 64);
    }
}

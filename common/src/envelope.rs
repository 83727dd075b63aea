//! The message the ingress hands to the queue and the worker consumes: a versioned, tagged
//! enum, so producer and consumer agree by type and a new version can be added beside the old.
use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::tenant::{ClientKey, ForgeInstallation, ProductType, TenantId};

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
///
/// On the wire (version 1) a Connect tenant is the field `client_key`, as it has been since
/// the first release: an older worker reads a newer ingress's envelopes and the reverse. A
/// Forge tenant is the field `forge` (`installation_id`, `cloud_id`) and no `client_key`: a
/// worker of a release before Forge cannot read it and dead-letters it, to be replayed once
/// it is upgraded (docs/operations.md: enable Forge after the workers run this release).
#[derive(Debug, Clone)]
pub struct EventEnvelope {
    /// hookline's id of this receipt (new for every request, including Jira's retries).
    pub event_id: Uuid,
    /// The tenant the event came from, as its verified token named it.
    pub tenant: TenantId,
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

/// The envelope's fields as written: the identity spelled out per protocol.
#[derive(Serialize)]
struct WireRef<'a> {
    event_id: &'a Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key: Option<&'a ClientKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forge: Option<&'a ForgeInstallation>,
    product: ProductType,
    event: &'a str,
    webhook_id: &'a Option<String>,
    retry: u32,
    flow: &'a Option<String>,
    received_at: &'a DateTime<Utc>,
    payload: &'a RawValue,
}

/// The envelope's fields as read.
#[derive(Deserialize)]
struct Wire {
    event_id: Uuid,
    client_key: Option<ClientKey>,
    forge: Option<ForgeInstallation>,
    product: ProductType,
    event: String,
    webhook_id: Option<String>,
    retry: u32,
    flow: Option<String>,
    received_at: DateTime<Utc>,
    payload: Box<RawValue>,
}

impl Serialize for EventEnvelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (client_key, forge) = match &self.tenant {
            TenantId::Connect(client_key) => (Some(client_key), None),
            TenantId::Forge(forge) => (None, Some(forge)),
        };
        WireRef {
            event_id: &self.event_id,
            client_key,
            forge,
            product: self.product,
            event: &self.event,
            webhook_id: &self.webhook_id,
            retry: self.retry,
            flow: &self.flow,
            received_at: &self.received_at,
            payload: &self.payload,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EventEnvelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let tenant = match (wire.client_key, wire.forge) {
            (Some(client_key), None) => TenantId::Connect(client_key),
            (None, Some(forge)) => TenantId::Forge(forge),
            (None, None) => return Err(D::Error::custom("the envelope names no tenant")),
            (Some(_), Some(_)) => return Err(D::Error::custom("the envelope names two tenants")),
        };
        Ok(Self {
            event_id: wire.event_id,
            tenant,
            product: wire.product,
            event: wire.event,
            webhook_id: wire.webhook_id,
            retry: wire.retry,
            flow: wire.flow,
            received_at: wire.received_at,
            payload: wire.payload,
        })
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
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            Self::EventV1(event) => Self::encode_event(event),
        }
    }

    /// Serialises `event` as a version-1 message without copying it.
    pub fn encode_event(event: &EventEnvelope) -> Result<Vec<u8>, serde_json::Error> {
        // Sized once: a large payload is not copied again each time the buffer would grow.
        let mut bytes = Vec::with_capacity(event.payload.get().len() + ENVELOPE_OVERHEAD);
        serde_json::to_writer(&mut bytes, &QueueMessageRef::EventV1(event))?;
        Ok(bytes)
    }

    /// Parses a message from the queue.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// A `jira:issue_created` event of Connect tenant `client_key` for unit tests, received now.
#[cfg(test)]
pub(crate) fn test_event(
    client_key: &ClientKey,
    webhook_id: Option<String>,
    payload: &str,
) -> EventEnvelope {
    EventEnvelope {
        event_id: Uuid::new_v4(),
        tenant: TenantId::Connect(client_key.clone()),
        product: ProductType::Jira,
        event: "jira:issue_created".into(),
        webhook_id,
        retry: 0,
        flow: None,
        received_at: Utc::now(),
        payload: RawValue::from_string(payload.to_owned()).expect("valid JSON"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(webhook_id: Option<&str>) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::nil(),
            tenant: TenantId::Connect(ClientKey::parse("tenant-a").expect("a key")),
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
            QueueMessage::from_bytes(&message.to_bytes().expect("encodes")).expect("parses");
        assert_eq!(back.payload.get(), r#"{"issue": {"key": "KAN-1"}}"#);
        assert_eq!(back.routing_key(), "jira.jira:issue_created");
        assert!(String::from_utf8(message.to_bytes().expect("encodes"))
            .expect("utf8")
            .starts_with(r#"{"event.v1":"#));
        assert_eq!(back.tenant.to_string(), "tenant-a");
    }

    #[test]
    fn the_delivery_id_is_the_webhook_id_or_else_the_body_hash() {
        assert_eq!(envelope(Some("wh-1")).delivery_id(), "wh-1");
        let hashed = envelope(None).delivery_id();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 7 + 64);
    }

    /// The wire form of the first release, byte for byte as its ingress wrote it: a new
    /// worker must read it, and an old worker must read what a new ingress writes.
    const FIRST_RELEASE: &str = r#"{"event.v1":{"event_id":"00000000-0000-0000-0000-000000000000","client_key":"tenant-a","product":"jira","event":"jira:issue_created","webhook_id":"wh-1","retry":0,"flow":null,"received_at":"1970-01-01T00:00:00Z","payload":{"issue": {"key": "KAN-1"}}}}"#;

    #[test]
    fn the_wire_form_stays_readable_across_a_rolling_upgrade_both_ways() {
        let QueueMessage::EventV1(old) = QueueMessage::from_bytes(FIRST_RELEASE.as_bytes())
            .expect("a new worker reads the first release's envelope");
        assert_eq!(
            old.tenant,
            TenantId::Connect(ClientKey::parse("tenant-a").expect("a key"))
        );
        let written = QueueMessage::encode_event(&envelope(Some("wh-1"))).expect("encodes");
        assert_eq!(
            String::from_utf8(written).expect("utf8"),
            FIRST_RELEASE,
            "a new ingress writes what the first release's worker reads"
        );
    }

    #[test]
    fn an_envelope_without_a_tenant_is_refused() {
        let message = FIRST_RELEASE.replace(r#""client_key":"tenant-a","#, "");
        let error = QueueMessage::from_bytes(message.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("names no tenant"), "{error}");
    }

    #[test]
    fn a_forge_tenant_is_its_installation_and_cloud_on_the_wire() {
        let mut event = envelope(Some("event:abc"));
        event.tenant = TenantId::Forge(ForgeInstallation {
            installation_id: crate::forge::InstallationId::parse("0a3a7799-aaaa").unwrap(),
            cloud_id: crate::forge::CloudId::parse("d0d52620").unwrap(),
        });
        let bytes = QueueMessage::encode_event(&event).expect("encodes");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(!text.contains("client_key"), "{text}");
        assert!(text.contains(r#""forge":{"installation_id":"ari:cloud:ecosystem::installation/0a3a7799-aaaa","cloud_id":"d0d52620"}"#), "{text}");
        let QueueMessage::EventV1(back) = QueueMessage::from_bytes(&bytes).expect("parses");
        assert_eq!(back.tenant, event.tenant);
    }
}

//! What the benchmarks send: a real Jira `jira:issue_created` webhook body (about 11 KB).
use chrono::Utc;
use common::envelope::{EventEnvelope, QueueMessage};
use common::tenant::{ClientKey, ProductType, TenantId};
use serde_json::value::RawValue;

/// A real `jira:issue_created` body, as Jira sends it.
pub const JIRA_ISSUE_CREATED: &[u8] =
    include_bytes!("../../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json");

/// The webhook route the ingress serves for that event.
pub const WEBHOOK_PATH: &str = "/webhooks/jira/jira:issue_created";

/// The event name, as in the app's subscriptions.
pub const EVENT: &str = "jira:issue_created";

/// The queue message the ingress publishes for the fixture, byte for byte in size.
pub fn envelope_message(client_key: &str) -> Vec<u8> {
    let payload = std::str::from_utf8(JIRA_ISSUE_CREATED)
        .ok()
        .and_then(|text| RawValue::from_string(text.to_owned()).ok())
        .expect("the fixture is a JSON document");
    let envelope = EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        tenant: TenantId::Connect(ClientKey::parse(client_key).expect("a client key")),
        product: ProductType::Jira,
        event: EVENT.to_owned(),
        webhook_id: Some(uuid::Uuid::new_v4().to_string()),
        retry: 0,
        flow: Some("Primary".to_owned()),
        received_at: Utc::now(),
        payload,
    };
    QueueMessage::EventV1(envelope).to_bytes().expect("encodes")
}

/// `len` bytes of webhook-like text: the fixture, repeated or cut.
pub fn body_of_len(len: usize) -> Vec<u8> {
    JIRA_ISSUE_CREATED
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_is_a_typical_webhook_of_about_eleven_kilobytes() {
        assert!((10_000..13_000).contains(&JIRA_ISSUE_CREATED.len()));
        serde_json::from_slice::<serde_json::Value>(JIRA_ISSUE_CREATED).unwrap();
    }

    #[test]
    fn the_envelope_carries_the_whole_fixture_and_reads_back() {
        let message = envelope_message("tenant-1");
        assert!(message.len() > JIRA_ISSUE_CREATED.len());
        let QueueMessage::EventV1(envelope) = QueueMessage::from_bytes(&message).unwrap();
        assert_eq!(envelope.tenant.to_string(), "tenant-1");
    }

    #[test]
    fn bodies_of_any_length_can_be_made() {
        assert_eq!(body_of_len(0).len(), 0);
        assert_eq!(body_of_len(100), JIRA_ISSUE_CREATED[..100]);
        assert_eq!(body_of_len(30_000).len(), 30_000);
    }
}

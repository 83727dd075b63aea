//! Arbitrary bytes as a webhook body, through the ingress's body check
//! (`ingress::routes::webhooks::json_object`: one JSON object, kept raw, that the worker can
//! read), then into an envelope and out of the queue as the worker reads it.
//!
//! The contract both ways: the ingress accepts a body exactly when the worker's full parse
//! (`serde_json::from_str::<Value>`, dispatch.rs) reads it as an object. Accepting more would
//! answer 202 for events the worker dead-letters; refusing more would drop valid events.
#![no_main]

use chrono::{DateTime, Utc};
use common::envelope::{EventEnvelope, QueueMessage};
use common::tenant::{ClientKey, ProductType, TenantId};
use ingress::routes::webhooks::json_object;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let worker_reads = serde_json::from_slice::<Value>(data).is_ok_and(|v| v.is_object());
    match json_object(data.to_vec()) {
        Ok(raw) => {
            assert!(
                worker_reads,
                "accepted a body the worker cannot read: {data:?}"
            );
            let text = std::str::from_utf8(data).expect("accepted bodies are UTF-8");
            let json_whitespace = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
            assert_eq!(
                raw.get(),
                text.trim_matches(json_whitespace),
                "not kept raw"
            );
            through_the_queue(raw);
        }
        Err(error) => {
            assert_eq!((error.status.as_u16(), error.code), (400, "invalid_json"));
            assert!(
                !worker_reads,
                "refused a JSON object the worker reads: {data:?}"
            );
        }
    }
});

/// The envelope the ingress publishes, read back as the consumer and dispatcher do.
fn through_the_queue(payload: Box<RawValue>) {
    let envelope = EventEnvelope {
        event_id: uuid::Uuid::nil(),
        tenant: TenantId::Connect(ClientKey::parse("tenant-a").expect("a client key")),
        product: ProductType::Jira,
        event: "jira:issue_created".into(),
        webhook_id: None,
        retry: 0,
        flow: None,
        received_at: DateTime::<Utc>::from_timestamp(0, 0).expect("epoch"),
        payload,
    };
    let bytes = QueueMessage::encode_event(&envelope).expect("an accepted event encodes");
    let QueueMessage::EventV1(read) = QueueMessage::from_bytes(&bytes).expect("consumer reads it");
    assert_eq!(
        read.payload.get(),
        envelope.payload.get(),
        "payload changed"
    );
    assert_eq!(read.delivery_id(), envelope.delivery_id());
    let value: Value = serde_json::from_str(read.payload.get()).expect("dispatcher reads it");
    assert!(value.is_object());
}

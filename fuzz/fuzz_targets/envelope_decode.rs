//! Arbitrary bytes as a queue message, decoded as the worker's consumer does
//! (`QueueMessage::from_bytes`), then the envelope's derived values the dispatcher uses.
//!
//! Round trip: whatever decodes re-encodes to a message that decodes to the same envelope,
//! payload byte for byte, and that encoding is a fixed point.
#![no_main]

use common::envelope::{EventEnvelope, QueueMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(QueueMessage::EventV1(event)) = QueueMessage::from_bytes(data) else {
        return;
    };
    let _ = (event.delivery_id(), event.routing_key());
    let encoded = QueueMessage::encode_event(&event)
        .unwrap_or_else(|error| panic!("decoded envelope does not encode ({error}): {event:?}"));
    assert!(!encoded.is_empty(), "encoding empty for {event:?}");
    let QueueMessage::EventV1(again) = QueueMessage::from_bytes(&encoded)
        .unwrap_or_else(|error| panic!("re-encoded message unreadable ({error}): {event:?}"));
    assert_same(&event, &again);
    assert_eq!(
        QueueMessage::encode_event(&again).expect("encodes"),
        encoded,
        "not a fixed point"
    );
    assert_eq!(
        QueueMessage::EventV1(again).to_bytes().expect("encodes"),
        encoded,
        "to_bytes and encode_event differ"
    );
});

fn assert_same(a: &EventEnvelope, b: &EventEnvelope) {
    assert_eq!(a.event_id, b.event_id);
    assert_eq!(a.tenant, b.tenant);
    assert_eq!(a.product, b.product);
    assert_eq!(a.event, b.event);
    assert_eq!(a.webhook_id, b.webhook_id);
    assert_eq!(a.retry, b.retry);
    assert_eq!(a.flow, b.flow);
    assert_eq!(a.received_at, b.received_at);
    assert_eq!(a.payload.get(), b.payload.get(), "payload changed");
    assert_eq!(a.delivery_id(), b.delivery_id());
}

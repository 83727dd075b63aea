//! What the dispatcher reads of a queued event: the payload as rules see it, and the ledger's
//! delivery id.
use common::envelope::EventEnvelope;
use common::event_key::event_key;
use common::forge::events::connect_view;
use common::tenant::TenantId;
use serde_json::Value;

/// The event as rules see it: a Forge event in the Connect webhook's shape, so that one rule
/// serves both protocols; `None` if the payload is not JSON.
pub(crate) fn view_of(event: &EventEnvelope) -> Option<Value> {
    let payload = serde_json::from_str::<Value>(event.payload.get()).ok()?;
    Some(match event.tenant {
        TenantId::Forge(_) => connect_view(event.product, &event.event, payload),
        TenantId::Connect(_) => payload,
    })
}

/// The ledger's delivery ids of `event`: the one to record it under, and the one an earlier
/// copy may have been recorded under.
pub(crate) struct DeliveryIds {
    /// The id new records use.
    pub primary: String,
    /// The other id of a Connect event: if the ledger knows the event under it (recorded
    /// before hookline keyed Connect events by event), that record stands.
    pub earlier: Option<String>,
}

/// The ledger's delivery ids of `event`. A Forge event's is its event key. A Connect event's
/// is Connect's webhook id, or, when hookline is a Forge remote too (`event_keys`: a Connect
/// app on Forge, whose events may come both ways), the event key its Forge delivery has too
/// (docs/migrating-to-forge.md), with the webhook id as the earlier one. Chosen by the
/// settings, not by the tenant, so that it does not change when a site's Forge installation
/// first calls, between the two deliveries of one event.
pub(crate) fn delivery_ids_of(
    event: &EventEnvelope,
    view: &Value,
    event_keys: bool,
) -> DeliveryIds {
    match &event.tenant {
        TenantId::Connect(_) if event_keys => DeliveryIds {
            primary: event_key(event.product, &event.event, view),
            earlier: Some(event.delivery_id()),
        },
        _ => DeliveryIds {
            primary: event.delivery_id(),
            earlier: None,
        },
    }
}

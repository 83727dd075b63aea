//! What the dispatcher reads of a queued event: the payload as rules see it, the tenant as it
//! is now (a Forge-only tenant may have been adopted by its Connect install meanwhile), and
//! the ledger's delivery id (docs/migrating-to-forge.md).
use common::envelope::EventEnvelope;
use common::event_key::event_key;
use common::forge::events::connect_view;
use common::tenant::{ClientKey, Tenant, TenantId};
use serde_json::Value;

use crate::dispatch::{store_unavailable, Dispatcher, Outcome};

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

impl Dispatcher {
    /// The tenant as it is now, if a Connect install may have adopted it since this process
    /// cached it (docs/migrating-to-forge.md): a tenant known only through Forge whose cached
    /// copy has no rule for the event (they moved with the adoption) is read again, with its
    /// rules. Anything else is returned as it is, at no cost.
    pub(crate) async fn adopted_meanwhile(
        &self,
        event: &EventEnvelope,
        tenant: Tenant,
    ) -> Result<Tenant, Outcome> {
        if tenant.has_connect() || !matches!(event.tenant, TenantId::Forge(_)) {
            return Ok(tenant);
        }
        let rules = self.rules.for_event(&tenant.client_key, &event.event).await;
        if !rules.is_ok_and(|rules| rules.is_empty()) {
            return Ok(tenant);
        }
        self.tenants.invalidate(&tenant.client_key).await;
        let now = match self.tenants.find(&event.tenant, event.product).await {
            Ok(Some(now)) => now,
            Ok(None) => return Err(Outcome::Skipped("unknown tenant")),
            Err(error) => return Err(store_unavailable("tenant store", &error)),
        };
        if now.client_key != tenant.client_key {
            tracing::info!(from = %tenant.client_key, to = %now.client_key, "the tenant was adopted by its Connect install");
            self.rules.invalidate(&now.client_key).await;
        }
        Ok(now)
    }

    /// The id the event's ledger rows have: its primary id, unless the ledger already holds
    /// the event under its earlier one (see [`delivery_ids_of`]).
    pub(crate) async fn delivery_id(
        &self,
        event: &EventEnvelope,
        client_key: &ClientKey,
        view: &Value,
    ) -> Result<String, Outcome> {
        let DeliveryIds { primary, earlier } = delivery_ids_of(event, view, self.event_keys);
        let Some(earlier) = earlier else {
            return Ok(primary);
        };
        match self.ledger.knows_delivery(client_key, &earlier).await {
            Ok(true) => Ok(earlier),
            Ok(false) => Ok(primary),
            Err(error) => Err(store_unavailable("ledger", &error)),
        }
    }
}

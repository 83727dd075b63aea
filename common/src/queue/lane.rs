//! Fair share between tenants: the work queue is split into lanes. Every tenant's events go to
//! the main lane up to its share (`fairness.tenant_events_per_second`, with bursts of
//! `fairness.tenant_event_burst`, counted per process); what a tenant sends above it goes to one
//! of [`OVERFLOW_LANES`] overflow lanes, chosen by a stable hash of the tenant. Workers consume
//! every lane at once, each with its own window (`worker.prefetch`), so a flood waits in durable
//! storage in its overflow lane and never stands in front of other tenants' events in the main
//! lane. A worker moves an event from the main lane to its tenant's overflow lane when the
//! tenant is out of call budget, so the main lane never waits on one tenant either.
//!
//! RabbitMQ: the main lane is `{p}.work`, the overflow lanes `{p}.work.overflow.{n}` (quorum
//! queues like it). The embedded queue: a `lane` column. Design and limits: docs/operations.md,
//! "Fair share between tenants".
use std::sync::Arc;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use super::{EventPublisher, PublishError};
use crate::envelope::EventEnvelope;
use crate::rate::KeyedRate;
use crate::tenant::TenantId;

/// How many overflow lanes there are. Fixed, not a setting: every publisher and every worker
/// must agree on it, or events would wait in a lane nobody consumes.
pub const OVERFLOW_LANES: u8 = 4;

/// One lane of the work queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Every tenant's events within its share.
    Main,
    /// What tenants send above their share; the number is below [`OVERFLOW_LANES`].
    Overflow(u8),
}

impl Lane {
    /// Every lane, the main one first.
    pub fn all() -> impl Iterator<Item = Lane> {
        std::iter::once(Lane::Main).chain((0..OVERFLOW_LANES).map(Lane::Overflow))
    }

    /// The overflow lane of `tenant`: the same in every process and release.
    pub fn overflow_for(tenant: &TenantId) -> Lane {
        let digest = Sha256::digest(tenant.to_string().as_bytes());
        Lane::Overflow(digest[0] % OVERFLOW_LANES)
    }

    /// The stored number: 0 for the main lane, 1 and up for the overflow lanes.
    pub fn index(self) -> i16 {
        match self {
            Lane::Main => 0,
            Lane::Overflow(n) => i16::from(n) + 1,
        }
    }

    /// The lane of a stored number; an unknown one is read as the main lane, so that no event
    /// is ever left where no worker looks.
    pub fn from_index(index: i16) -> Lane {
        match u8::try_from(index - 1) {
            Ok(n) if n < OVERFLOW_LANES => Lane::Overflow(n),
            _ => Lane::Main,
        }
    }

    /// `main` or `overflow`, for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Lane::Main => "main",
            Lane::Overflow(_) => "overflow",
        }
    }
}

/// Hands an event to one lane of the queue, returning once the queue made it durable.
pub trait LanePublisher: Send + Sync {
    /// Publishes `event` to `lane` persistently and waits for the confirm.
    fn publish_to<'a>(
        &'a self,
        event: &'a EventEnvelope,
        lane: Lane,
    ) -> BoxFuture<'a, Result<(), PublishError>>;

    /// Whether publishing can succeed right now (for readiness checks).
    fn is_ready(&self) -> bool;
}

/// Picks each event's lane by its tenant's share.
#[derive(Clone)]
pub struct LanePicker {
    share: KeyedRate<TenantId>,
}

impl LanePicker {
    /// Each tenant may send `per_second` events a second to the main lane, `burst` at once;
    /// 0: every event goes to the main lane.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            share: KeyedRate::new(per_second, burst),
        }
    }

    /// The lane for the next event of `tenant`.
    pub fn pick(&self, tenant: &TenantId) -> Lane {
        match self.share.take(tenant) {
            Ok(()) => Lane::Main,
            Err(_) => Lane::overflow_for(tenant),
        }
    }
}

/// Called with each event sent to an overflow lane (a metric).
pub type OnOverflow = Arc<dyn Fn(&EventEnvelope) + Send + Sync>;

/// The [`EventPublisher`] the services use: each event goes to the lane its tenant's share
/// picks.
pub struct FairPublisher {
    inner: Arc<dyn LanePublisher>,
    picker: LanePicker,
    on_overflow: Option<OnOverflow>,
}

impl FairPublisher {
    /// Publishes through `inner`, lanes picked by `picker`.
    pub fn new(inner: Arc<dyn LanePublisher>, picker: LanePicker) -> Self {
        Self {
            inner,
            picker,
            on_overflow: None,
        }
    }

    /// Publishes through `inner`, each tenant's share from the `fairness` settings.
    pub fn from_settings(
        inner: Arc<dyn LanePublisher>,
        fairness: &crate::config::FairnessSettings,
    ) -> Self {
        Self::new(
            inner,
            LanePicker::new(
                fairness.tenant_events_per_second,
                fairness.tenant_event_burst,
            ),
        )
    }

    /// Calls `on_overflow` for each event sent to an overflow lane.
    pub fn on_overflow(mut self, on_overflow: OnOverflow) -> Self {
        self.on_overflow = Some(on_overflow);
        self
    }
}

impl EventPublisher for FairPublisher {
    fn publish_confirmed<'a>(
        &'a self,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        let lane = self.picker.pick(&event.tenant);
        if let (Lane::Overflow(_), Some(on_overflow)) = (lane, &self.on_overflow) {
            on_overflow(event);
        }
        self.inner.publish_to(event, lane)
    }

    fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::ClientKey;

    fn tenant(raw: &str) -> TenantId {
        TenantId::Connect(ClientKey::parse(raw).expect("a client key"))
    }

    #[test]
    fn a_tenant_above_its_share_goes_to_its_own_overflow_lane_and_others_stay_main() {
        let picker = LanePicker::new(1.0, 5);
        let flood = tenant("flood");
        let lanes: Vec<Lane> = (0..8).map(|_| picker.pick(&flood)).collect();
        assert_eq!(
            &lanes[..5],
            &[Lane::Main; 5],
            "the burst stays in the main lane"
        );
        assert!(lanes[5..].iter().all(|l| *l == Lane::overflow_for(&flood)));
        assert_eq!(picker.pick(&tenant("quiet")), Lane::Main);
    }

    #[test]
    fn without_a_share_everything_is_main() {
        let picker = LanePicker::new(0.0, 0);
        assert!((0..1000).all(|_| picker.pick(&tenant("a")) == Lane::Main));
    }

    #[test]
    fn lane_numbers_round_trip_and_unknown_ones_read_as_main() {
        for lane in Lane::all() {
            assert_eq!(Lane::from_index(lane.index()), lane);
        }
        assert_eq!(Lane::all().count(), usize::from(OVERFLOW_LANES) + 1);
        assert_eq!(Lane::from_index(99), Lane::Main);
        assert_eq!(Lane::from_index(-3), Lane::Main);
    }

    #[test]
    fn tenants_spread_over_the_overflow_lanes() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..64 {
            seen.insert(Lane::overflow_for(&tenant(&format!("site-{n}"))));
        }
        assert_eq!(seen.len(), usize::from(OVERFLOW_LANES));
    }
}

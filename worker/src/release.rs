//! The releaser: puts the held events of resumed tenants back into the queue
//! (docs/operations.md, "Pausing a tenant").
//!
//! Every [`INTERVAL`] it looks for tenants with held events that are not paused (any more),
//! and for each moves its events back in the order they were held, [`BATCH`] at a time: it
//! claims a batch ([`HeldEvents::take_batch`], for [`CLAIM_LEASE`]), publishes each event
//! through an [`EventPublisher`] (whose `publish_confirmed` returns only once the queue made
//! it durable), and deletes the rows whose publish was confirmed. The queue then delivers them
//! as it delivers any event, as a first attempt.
//!
//! - **A crash** between a confirm and the delete leaves rows that are published again once
//!   the claim expires: a duplicate message, which the event ledger keeps from repeating an
//!   effect (it dedupes by delivery id, like any redelivery).
//! - **Several workers** may run releasers at once: a tenant's batch is claimed by one of them
//!   only (a conditional update), and no other claims that tenant's events while the claim
//!   holds, so nothing is published twice and each tenant's events go back in order.
//! - **A publish that fails** (the broker is down) gives the rest of the batch back; the next
//!   pass tries again.
//! - **Paused again** while it is being released: the events already put back are held again
//!   by the worker that takes them, and the releaser stops at the end of the batch.
use std::sync::Arc;
use std::time::Duration;

use common::db::DbErr;
use common::held::{Claim, HeldEvents};
use common::queue::EventPublisher;
use common::tenant::ClientKey;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// How often the releaser looks for resumed tenants' events.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// How many events of one tenant are claimed and published at a time.
pub const BATCH: u64 = 200;
/// How often the gauge of held events is set (a count of the whole table), in passes.
pub const GAUGE_EVERY: u32 = 15;
/// How long a claimed batch is this releaser's: far longer than publishing it takes, so
/// another releaser takes it over only from a releaser that died.
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// Moves resumed tenants' held events back into the queue; cheap to clone.
#[derive(Clone)]
pub struct Releaser {
    held: HeldEvents,
    publisher: Arc<dyn EventPublisher>,
    metrics: Metrics,
}

/// Why a pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The held events could not be read or changed.
    #[error("the held events are unavailable: {0}")]
    Store(#[from] DbErr),
    /// The queue did not take an event; the rest of its batch was given back.
    #[error("the queue did not take a released event: {0}")]
    Publish(String),
}

impl Releaser {
    /// A releaser publishing through `publisher` (RabbitMQ's events exchange, or the local
    /// queue in the embedded mode), counting in `metrics`.
    pub fn new(held: HeldEvents, publisher: Arc<dyn EventPublisher>, metrics: Metrics) -> Self {
        Self {
            held,
            publisher,
            metrics,
        }
    }

    /// One pass: every resumed tenant's held events, batch by batch, until none is left, the
    /// publisher fails, or `shutdown` fires (between batches). Returns how many events went
    /// back into the queue.
    pub async fn release_once(&self, shutdown: &CancellationToken) -> Result<u64, ReleaseError> {
        let mut released = 0;
        loop {
            if shutdown.is_cancelled() || !self.publisher.is_ready() {
                return Ok(released);
            }
            let tenants = self.held.releasable().await?;
            let mut moved = false;
            for client_key in &tenants {
                if shutdown.is_cancelled() {
                    return Ok(released);
                }
                let n = self.release_batch(client_key).await?;
                released += n;
                moved |= n > 0;
            }
            // Nothing left, or every batch claimed by another releaser.
            if !moved {
                return Ok(released);
            }
        }
    }

    /// Claims and publishes one batch of `client_key`'s held events; how many went back.
    async fn release_batch(&self, client_key: &ClientKey) -> Result<u64, ReleaseError> {
        let claim = self.held.take_batch(client_key, BATCH, CLAIM_LEASE).await?;
        if claim.events.is_empty() {
            return Ok(0);
        }
        let mut confirmed = Vec::with_capacity(claim.events.len());
        let mut failure = None;
        for held in &claim.events {
            let event = match &held.event {
                Ok(event) => event,
                Err(error) => {
                    // Written by a newer release, say: kept for it, never dropped.
                    tracing::warn!(id = held.id, %error, tenant = %client_key, "a held event cannot be read; it stays held");
                    continue;
                }
            };
            match self.publisher.publish_confirmed(event).await {
                Ok(()) => confirmed.push(held.id),
                Err(error) => {
                    failure = Some(error.to_string());
                    break;
                }
            }
        }
        let deleted = self.settle(&claim, &confirmed).await;
        let released = u64::try_from(confirmed.len()).unwrap_or(u64::MAX);
        self.metrics.released(released);
        if released > 0 {
            tracing::info!(tenant = %client_key, released, "held events released into the queue");
        }
        deleted?;
        match failure {
            Some(error) => Err(ReleaseError::Publish(error)),
            None => Ok(released),
        }
    }

    /// Deletes the confirmed rows and gives back the rest of the claim.
    async fn settle(&self, claim: &Claim, confirmed: &[i64]) -> Result<(), DbErr> {
        // Should the delete fail, the rows are published again once the claim expires, and
        // the ledger keeps those duplicates from acting twice.
        self.held.released(claim, confirmed).await?;
        self.held.give_back(claim).await?;
        Ok(())
    }

    /// Sets the gauge of held events.
    async fn measure(&self) {
        match self.held.total().await {
            Ok(total) => self.metrics.set_held_now(total),
            Err(error) => tracing::warn!(%error, "cannot count the held events"),
        }
    }
}

/// Starts the releaser: a pass every [`INTERVAL`], and the held-events gauge every
/// [`GAUGE_EVERY`] passes, until `shutdown` fires. Every worker process may run one; see the
/// module docs.
pub fn spawn(
    held: HeldEvents,
    publisher: Arc<dyn EventPublisher>,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let releaser = Releaser::new(held, publisher, metrics);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pass: u32 = 0;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            if let Err(error) = releaser.release_once(&shutdown).await {
                tracing::warn!(%error, "releasing held events stopped; retrying");
            }
            if pass.is_multiple_of(GAUGE_EVERY) {
                releaser.measure().await;
            }
            pass = pass.wrapping_add(1);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use common::envelope::EventEnvelope;
    use common::queue::PublishError;
    use common::tenant::{ProductType, TenantId};
    use futures::future::BoxFuture;
    use serde_json::value::RawValue;

    use super::*;

    /// Records what it publishes; refuses from the `fail_at`-th publish on.
    #[derive(Default)]
    struct Recorder {
        published: Mutex<Vec<String>>,
        fail_at: Option<usize>,
    }

    impl EventPublisher for Recorder {
        fn publish_confirmed<'a>(
            &'a self,
            event: &'a EventEnvelope,
        ) -> BoxFuture<'a, Result<(), PublishError>> {
            Box::pin(async move {
                let mut published = self.published.lock().unwrap();
                if self.fail_at.is_some_and(|n| published.len() >= n) {
                    return Err(PublishError::Unavailable);
                }
                published.push(event.delivery_id());
                Ok(())
            })
        }

        fn is_ready(&self) -> bool {
            true
        }
    }

    fn event(client_key: &ClientKey, n: usize) -> EventEnvelope {
        EventEnvelope {
            event_id: uuid::Uuid::new_v4(),
            tenant: TenantId::Connect(client_key.clone()),
            product: ProductType::Jira,
            event: "jira:issue_created".into(),
            webhook_id: Some(format!("{client_key}-{n}")),
            retry: 0,
            flow: None,
            received_at: chrono::Utc::now(),
            payload: RawValue::from_string("{}".into()).unwrap(),
        }
    }

    /// The tenant `site-a` (not paused) with `events` held events.
    async fn held_with(events: usize) -> HeldEvents {
        let db = common::db::connect("sqlite::memory:").await.unwrap();
        common::db::migrate(&db).await.unwrap();
        let keyring =
            common::crypto::Keyring::from_spec("k1=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
                .unwrap();
        let install = serde_json::json!({
            "key": "hookline", "clientKey": "site-a", "sharedSecret": "s",
            "baseUrl": "https://site-a.atlassian.net", "productType": "jira",
            "eventType": "installed"
        });
        common::tenant::TenantStore::new(db.clone(), Arc::new(keyring), Duration::ZERO)
            .save_install(&serde_json::from_value(install).unwrap())
            .await
            .unwrap();
        let held = HeldEvents::new(db);
        let a = ClientKey::parse("site-a").unwrap();
        for n in 0..events {
            held.hold(&a, &event(&a, n)).await.unwrap();
        }
        held
    }

    #[tokio::test]
    async fn every_held_event_goes_back_in_order_across_batches() {
        let total = usize::try_from(BATCH).unwrap() + 5;
        let held = held_with(total).await;
        let recorder = Arc::new(Recorder::default());
        let metrics = Metrics::new();
        let releaser = Releaser::new(held.clone(), recorder.clone(), metrics.clone());
        let released = releaser
            .release_once(&CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(released, u64::try_from(total).unwrap());
        let expected: Vec<String> = (0..total).map(|n| format!("site-a-{n}")).collect();
        assert_eq!(*recorder.published.lock().unwrap(), expected);
        assert_eq!(held.total().await.unwrap(), 0);
        assert!(metrics
            .render()
            .contains(&format!("hookline_events_released_total {total}")));
    }

    #[test]
    fn the_pause_metrics_are_exported_from_the_start() {
        let text = Metrics::new().render();
        for family in [
            "# TYPE hookline_events_held_total counter",
            "hookline_events_held_total{product=\"jira\"} 0",
            "# TYPE hookline_events_released_total counter",
            "# TYPE hookline_events_held gauge",
        ] {
            assert!(text.contains(family), "{family} in\n{text}");
        }
    }

    #[tokio::test]
    async fn a_failed_publish_keeps_the_unconfirmed_events_for_the_next_pass() {
        let held = held_with(5).await;
        let failing = Arc::new(Recorder {
            fail_at: Some(2),
            ..Recorder::default()
        });
        let releaser = Releaser::new(held.clone(), failing, Metrics::new());
        let error = releaser.release_once(&CancellationToken::new()).await;
        assert!(matches!(error, Err(ReleaseError::Publish(_))), "{error:?}");
        assert_eq!(held.total().await.unwrap(), 3, "only confirmed ones go");

        let recorder = Arc::new(Recorder::default());
        let releaser = Releaser::new(held.clone(), recorder.clone(), Metrics::new());
        releaser
            .release_once(&CancellationToken::new())
            .await
            .unwrap();
        let expected: Vec<String> = (2..5).map(|n| format!("site-a-{n}")).collect();
        assert_eq!(*recorder.published.lock().unwrap(), expected);
        assert_eq!(held.total().await.unwrap(), 0);
    }
}

//! The embedded mode's queue as a [`Source`]: the table-backed [`LocalQueue`], with the same
//! retry steps and dead letters as the RabbitMQ path. One process consumes it (the embedded
//! mode locks its data directory), so at start it takes back every lease an earlier run left.
use std::sync::Arc;
use std::time::Duration;

use common::db::DbErr;
use common::envelope::QueueMessage;
use common::ledger::LedgerStore;
use common::queue::local::{LocalDelivery, LocalQueue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::settle::{Delivery, RetryStep, Source};

/// How long a claimed message is leased before it is delivered again (a crash mid-event
/// that no restart follows).
const LEASE: Duration = Duration::from_secs(120);
/// How often delayed messages are looked for when nothing new arrives.
const POLL: Duration = Duration::from_millis(250);

/// Claims messages from the local queue, at most `prefetch` in flight.
pub struct LocalSource {
    queue: LocalQueue,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
}

impl LocalSource {
    /// A source with `prefetch` events in flight at most, once every lease an earlier run
    /// left in the queue and the ledger was taken back: that run died (SIGKILL, OOM) without
    /// finishing its events, which are then done within moments of the restart rather than
    /// after their leases (2 minutes) expire. Jira comments are looked for before being posted
    /// again.
    pub async fn start(
        queue: LocalQueue,
        ledger: &LedgerStore,
        prefetch: u16,
        shutdown: CancellationToken,
    ) -> Self {
        match (queue.release_claims().await, ledger.release_leases().await) {
            (Ok(0), Ok(0)) => {}
            (Ok(events), Ok(effects)) => tracing::info!(
                events,
                effects,
                "took back the leases of an earlier run that stopped without finishing"
            ),
            (Err(error), _) | (_, Err(error)) => tracing::warn!(
                %error,
                "cannot take back earlier leases; their events wait for the leases to expire"
            ),
        }
        Self {
            queue,
            slots: Arc::new(Semaphore::new(usize::from(prefetch.max(1)))),
            shutdown,
        }
    }
}

impl Source for LocalSource {
    type Delivery = Claimed;

    async fn next(&mut self) -> Option<Vec<Claimed>> {
        while !self.shutdown.is_cancelled() {
            let free = self.slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                let limit = u64::try_from(free).unwrap_or(1);
                self.queue
                    .claim(limit, LEASE)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "cannot read the local queue; retrying");
                        Vec::new()
                    })
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = self.queue.wait(POLL) => {}
                    () = self.shutdown.cancelled() => {}
                }
                continue;
            }
            let mut deliveries = Vec::with_capacity(claimed.len());
            for delivery in claimed {
                // At most `free` were claimed, so a slot is free for each.
                let permit = self.slots.clone().acquire_owned().await.ok()?;
                deliveries.push(Claimed {
                    queue: self.queue.clone(),
                    delivery,
                    _slot: permit,
                });
            }
            return Some(deliveries);
        }
        None
    }

    async fn close(self) {}
}

/// A claimed message; its slot is freed when it is settled.
pub struct Claimed {
    queue: LocalQueue,
    delivery: LocalDelivery,
    _slot: OwnedSemaphorePermit,
}

impl Delivery for Claimed {
    type Error = DbErr;

    fn take_message(&mut self) -> Result<QueueMessage, String> {
        std::mem::replace(&mut self.delivery.message, Err("taken".into()))
    }

    fn attempt(&self) -> u32 {
        self.delivery.attempt
    }

    async fn ack(self) -> Result<(), DbErr> {
        self.queue.ack(self.delivery.id).await
    }

    async fn retry(self, step: RetryStep, attempt: u32) -> Result<(), DbErr> {
        self.queue
            .retry(self.delivery.id, attempt, step.delay)
            .await
    }

    async fn dead_letter(self, reason: &str, _attempt: u32) -> Result<(), DbErr> {
        self.queue.dead_letter(self.delivery.id, reason).await
    }
}

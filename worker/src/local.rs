//! The embedded mode's queue as a [`Source`]: the table-backed [`LocalQueue`], with the same
//! retry steps and dead letters as the RabbitMQ path. One process consumes it (the embedded
//! mode locks its data directory), so at start it takes back every lease an earlier run left.
use std::sync::Arc;
use std::time::Duration;

use common::db::DbErr;
use common::envelope::QueueMessage;
use common::ledger::LedgerStore;
use common::queue::lane::Lane;
use common::queue::local::{LocalDelivery, LocalQueue};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::settle::{Delivery, RetryStep, Source};

/// How long a claimed message is leased before it is delivered again (a crash mid-event
/// that no restart follows).
const LEASE: Duration = Duration::from_secs(120);
/// How often delayed messages are looked for when nothing new arrives.
const POLL: Duration = Duration::from_millis(250);

/// Claims messages from the local queue, at most `prefetch` in flight in each lane (the same
/// windows as a RabbitMQ worker's consumers, one per lane).
pub struct LocalSource {
    queue: LocalQueue,
    lanes: Vec<(Lane, Arc<Semaphore>)>,
    /// Told when a claimed message is settled: its lane has a free slot again.
    freed: Arc<Notify>,
    shutdown: CancellationToken,
}

impl LocalSource {
    /// A source with `prefetch` events in flight at most per lane, once every lease an earlier run
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
        let window = usize::from(prefetch.max(1));
        Self {
            queue,
            lanes: Lane::all()
                .map(|lane| (lane, Arc::new(Semaphore::new(window))))
                .collect(),
            freed: Arc::new(Notify::new()),
            shutdown,
        }
    }
}

impl Source for LocalSource {
    type Delivery = Claimed;

    async fn next(&mut self) -> Option<Vec<Claimed>> {
        while !self.shutdown.is_cancelled() {
            let mut deliveries = Vec::new();
            for (lane, slots) in &self.lanes {
                let free = slots.available_permits();
                if free == 0 {
                    continue;
                }
                let limit = u64::try_from(free).unwrap_or(1);
                let claimed = self
                    .queue
                    .claim(*lane, limit, LEASE)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "cannot read the local queue; retrying");
                        Vec::new()
                    });
                for delivery in claimed {
                    // At most `free` were claimed, so a slot is free for each.
                    let permit = slots.clone().acquire_owned().await.ok()?;
                    deliveries.push(Claimed {
                        queue: self.queue.clone(),
                        delivery,
                        _slot: Slot {
                            _permit: permit,
                            freed: self.freed.clone(),
                        },
                    });
                }
            }
            if !deliveries.is_empty() {
                return Some(deliveries);
            }
            // Until a message arrives, a slot is freed, or delayed messages may be due.
            tokio::select! {
                () = self.queue.wait(POLL) => {}
                () = self.freed.notified() => {}
                () = self.shutdown.cancelled() => {}
            }
        }
        None
    }

    async fn close(self) {}
}

/// A claimed message; its slot is freed when it is settled.
pub struct Claimed {
    queue: LocalQueue,
    delivery: LocalDelivery,
    _slot: Slot,
}

/// A lane's slot, given back (and the source told) when dropped.
struct Slot {
    _permit: OwnedSemaphorePermit,
    freed: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.freed.notify_one();
    }
}

impl Delivery for Claimed {
    type Error = DbErr;

    fn take_message(&mut self) -> Result<QueueMessage, String> {
        std::mem::replace(&mut self.delivery.message, Err("taken".into()))
    }

    fn attempt(&self) -> u32 {
        self.delivery.attempt
    }

    fn lane(&self) -> Lane {
        self.delivery.lane
    }

    async fn move_to(self, lane: Lane, _attempt: u32) -> Result<(), DbErr> {
        self.queue.move_to(self.delivery.id, lane).await
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

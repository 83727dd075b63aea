//! The embedded mode's consumer: the same [`Dispatcher`] over the table-backed
//! [`LocalQueue`], with the same retry steps and dead letters as the RabbitMQ path.
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::envelope::QueueMessage;
use common::queue::local::{LocalDelivery, LocalQueue};
use common::queue::retry_step;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dispatch::{Dispatcher, Outcome};
use crate::metrics::{reason_label, Metrics};

/// How long a claimed message is leased before it is delivered again (a crash mid-event).
const LEASE: Duration = Duration::from_secs(120);
/// How often delayed messages are looked for when nothing new arrives.
const POLL: Duration = Duration::from_millis(250);

/// Consumes the local queue until shutdown.
pub struct LocalConsumer {
    queue: LocalQueue,
    dispatcher: Arc<Dispatcher>,
    metrics: Metrics,
    retry_delays_secs: Vec<u64>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
}

impl LocalConsumer {
    /// A consumer with `prefetch` events in flight at most.
    pub fn new(
        queue: LocalQueue,
        dispatcher: Arc<Dispatcher>,
        metrics: Metrics,
        retry_delays_secs: &[u64],
        prefetch: u16,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            queue,
            dispatcher,
            metrics,
            retry_delays_secs: retry_delays_secs.to_vec(),
            slots: Arc::new(Semaphore::new(usize::from(prefetch.max(1)))),
            shutdown,
        }
    }

    /// Claims and processes messages until shutdown, then waits up to `grace` for in-flight
    /// ones (unfinished ones are delivered again when their lease ends).
    pub async fn run(self, grace: Duration) {
        self.take_back_leases().await;
        let tracker = TaskTracker::new();
        while !self.shutdown.is_cancelled() {
            let free = self.slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match self
                    .queue
                    .claim(u64::try_from(free).unwrap_or(1), LEASE)
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the local queue; retrying");
                        Vec::new()
                    }
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = self.queue.wait(POLL) => {}
                    () = self.shutdown.cancelled() => {}
                }
                continue;
            }
            for delivery in claimed {
                let Ok(permit) = self.slots.clone().acquire_owned().await else {
                    break;
                };
                let handler = Handler {
                    queue: self.queue.clone(),
                    dispatcher: self.dispatcher.clone(),
                    metrics: self.metrics.clone(),
                    delays: self.retry_delays_secs.clone(),
                };
                tracker.spawn(async move {
                    handler.handle(delivery).await;
                    drop(permit);
                });
            }
        }
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                ?grace,
                "in-flight events did not finish; they are delivered again after their lease"
            );
        }
    }
}

impl LocalConsumer {
    /// This consumer is the only one (the embedded mode locks its data directory), so every
    /// lease in the queue and the ledger was held by an earlier run that died: take them all
    /// back, so its events are done within moments of the restart rather than after their
    /// leases (2 minutes) expire. Jira comments are looked for before being posted again.
    async fn take_back_leases(&self) {
        let queue = self.queue.release_claims().await;
        let ledger = self.dispatcher.ledger.release_leases().await;
        match (queue, ledger) {
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
    }
}

struct Handler {
    queue: LocalQueue,
    dispatcher: Arc<Dispatcher>,
    metrics: Metrics,
    delays: Vec<u64>,
}

impl Handler {
    async fn handle(self, delivery: LocalDelivery) {
        let started = Instant::now();
        self.metrics.in_flight().inc();
        let outcome = match &delivery.message {
            Ok(QueueMessage::EventV1(event)) => {
                self.metrics.consumed(event.product.as_str());
                self.dispatcher.dispatch(event, delivery.attempt).await
            }
            Err(_) => Outcome::DeadLetter {
                reason: "unreadable message".into(),
            },
        };
        let settled = match &outcome {
            Outcome::Done | Outcome::Skipped(_) => self.queue.ack(delivery.id).await,
            Outcome::RetryAfter { delay, reason } | Outcome::Defer { delay, reason } => {
                self.metrics.retried(reason_label(reason));
                let (_, wait) = retry_step(&self.delays, delivery.attempt, *delay);
                let next = outcome.next_attempt(delivery.attempt);
                self.queue.retry(delivery.id, next, wait.max(*delay)).await
            }
            Outcome::DeadLetter { reason } => {
                self.metrics.dead_lettered(reason_label(reason));
                tracing::warn!(%reason, "dead-lettering event");
                self.queue.dead_letter(delivery.id, reason).await
            }
        };
        if let Err(error) = settled {
            tracing::warn!(%error, "could not settle a local delivery; it is delivered again after its lease");
        }
        self.metrics.in_flight().dec();
        self.metrics.processed(outcome.label(), started.elapsed());
    }
}

//! One consumer loop over both queues, in the way svix's queue abstraction covers its Redis
//! and RabbitMQ backends: a [`Source`] hands out deliveries, each [`Delivery`] knows how to be
//! settled (ack, retry after a delay, dead-letter with a reason), and [`run`] and [`handle`]
//! hold everything else: concurrency, dispatching, metrics, the retry step, the drain on
//! shutdown. `consumer.rs` (RabbitMQ) and `local.rs` (the embedded queue) implement the two
//! traits and nothing more.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::envelope::QueueMessage;
use common::queue::retry_step;
use tokio_util::task::TaskTracker;

use crate::dispatch::{Dispatcher, Outcome};
use crate::metrics::{reason_label, Metrics};

/// Where a retried event waits: the index of the delay step (RabbitMQ's retry queue) and how
/// long it waits (the local queue's `available_at`): the step's delay, or longer when the
/// product asked for longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryStep {
    /// Index into `amqp.retry_delays_secs`.
    pub index: usize,
    /// How long the event waits.
    pub delay: Duration,
}

/// One message taken from a queue, to be settled exactly once.
pub trait Delivery: Send + 'static {
    /// Why a settle failed (the message is then delivered again, and the ledger keeps its
    /// effects single).
    type Error: std::fmt::Display + Send;

    /// The message, or why it cannot be read.
    fn take_message(&mut self) -> Result<QueueMessage, String>;

    /// hookline's attempt (1 for the first delivery).
    fn attempt(&self) -> u32;

    /// Done with it: remove it from the queue.
    fn ack(self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Deliver it again after `step`, as attempt `attempt`.
    fn retry(
        self,
        step: RetryStep,
        attempt: u32,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Give up on it, keeping it with `reason` for inspection and replay.
    fn dead_letter(
        self,
        reason: &str,
        attempt: u32,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Where deliveries come from.
pub trait Source: Send {
    /// What it hands out.
    type Delivery: Delivery;

    /// The next deliveries (waiting for some); `None` once shutdown was asked for.
    fn next(&mut self) -> impl Future<Output = Option<Vec<Self::Delivery>>> + Send;

    /// Called once every started delivery was settled, or the grace period ended.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// What handling needs beside the delivery; cheap to clone.
#[derive(Clone)]
pub struct Handling {
    /// Decides what to do with each event.
    pub dispatcher: Arc<Dispatcher>,
    /// The worker's metrics.
    pub metrics: Metrics,
    /// `amqp.retry_delays_secs`.
    pub retry_delays_secs: Arc<[u64]>,
}

/// Takes deliveries from `source` and handles each concurrently until the source ends
/// (shutdown), then waits up to `grace` for those in flight; unfinished ones are delivered
/// again (the broker redelivers, the local queue's lease is taken back at start).
pub async fn run<S: Source>(mut source: S, handling: Handling, grace: Duration) {
    let tracker = TaskTracker::new();
    while let Some(deliveries) = source.next().await {
        for delivery in deliveries {
            tracker.spawn(handle(delivery, handling.clone()));
        }
    }
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            ?grace,
            "in-flight events did not finish; they are delivered again"
        );
    }
    source.close().await;
}

/// Dispatches one delivery and settles it by the outcome.
pub async fn handle<D: Delivery>(mut delivery: D, handling: Handling) {
    let Handling {
        dispatcher,
        metrics,
        retry_delays_secs,
    } = handling;
    let started = Instant::now();
    metrics.in_flight().inc();
    let attempt = delivery.attempt();
    let outcome = match delivery.take_message() {
        Ok(QueueMessage::EventV1(event)) => {
            metrics.consumed(event.product.as_str(), event.tenant.protocol());
            dispatcher.dispatch(&event, attempt).await
        }
        Err(_) => Outcome::DeadLetter {
            reason: "unreadable message".into(),
        },
    };
    let settled = match &outcome {
        Outcome::Done | Outcome::Skipped(_) => delivery.ack().await,
        Outcome::RetryAfter { delay, reason } | Outcome::Defer { delay, reason } => {
            metrics.retried(reason_label(reason));
            let (index, step) = retry_step(&retry_delays_secs, attempt, *delay);
            let step = RetryStep {
                index,
                delay: step.max(*delay),
            };
            delivery.retry(step, outcome.next_attempt(attempt)).await
        }
        Outcome::DeadLetter { reason } => {
            metrics.dead_lettered(reason_label(reason));
            tracing::warn!(%reason, "dead-lettering event");
            delivery.dead_letter(reason, attempt).await
        }
    };
    if let Err(error) = settled {
        // The ledger keeps the next delivery of it from repeating an effect.
        tracing::warn!(%error, "could not settle a delivery; it is delivered again");
    }
    metrics.in_flight().dec();
    metrics.processed(outcome.label(), started.elapsed());
}

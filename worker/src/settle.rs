//! One consumer loop over both queues, in the way svix's queue abstraction covers its Redis
//! and RabbitMQ backends: a [`Source`] hands out deliveries, each [`Delivery`] knows how to be
//! settled (ack, retry after a delay, dead-letter with a reason), and [`run`] and [`handle`]
//! hold everything else: concurrency, dispatching, metrics, the retry step, the drain on
//! shutdown. `consumer.rs` (RabbitMQ) and `local.rs` (the embedded queue) implement the two
//! traits and nothing more.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::envelope::{EventEnvelope, QueueMessage};
use common::queue::lane::Lane;
use common::queue::retry_step;
use common::tenant::ClientKey;
use tokio_util::task::TaskTracker;

use crate::dispatch::{Dispatcher, Outcome};
use crate::metrics::{reason_label, Metrics};

/// The longest an event in an overflow lane waits in place for its tenant's call budget;
/// longer waits go through a retry delay instead, freeing the lane's slot.
const BUDGET_WAIT_IN_PLACE: Duration = Duration::from_secs(10);

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

    /// The lane it came from.
    fn lane(&self) -> Lane;

    /// Move it to `lane`, ready at once, as attempt `attempt` (the same: nothing was tried).
    fn move_to(
        self,
        lane: Lane,
        attempt: u32,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

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
    let lane = delivery.lane();
    let (outcome, event) = match delivery.take_message() {
        Ok(QueueMessage::EventV1(event)) => {
            metrics.consumed(event.product.as_str(), event.tenant.protocol());
            let outcome = dispatch_in(lane, &dispatcher, &event, attempt).await;
            (outcome, Some(event))
        }
        Err(_) => (
            Outcome::DeadLetter {
                reason: "unreadable message".into(),
            },
            None,
        ),
    };
    let settled = match (&outcome, &event) {
        (Outcome::OverBudget { .. }, Some(event)) if lane == Lane::Main => {
            // Out of the main lane, so that it waits on its own tenant's budget only.
            metrics.moved_to_overflow(event.product.as_str());
            delivery
                .move_to(Lane::overflow_for(&event.tenant), attempt)
                .await
        }
        (Outcome::Held { client_key }, Some(event)) => {
            let held = Held {
                client_key,
                event,
                attempt,
            };
            hold(delivery, held, &dispatcher, &metrics, &retry_delays_secs).await
        }
        _ => settle(delivery, &outcome, attempt, &metrics, &retry_delays_secs).await,
    };
    if let Err(error) = settled {
        // The ledger keeps the next delivery of it from repeating an effect.
        tracing::warn!(%error, "could not settle a delivery; it is delivered again");
    }
    metrics.in_flight().dec();
    metrics.processed(outcome.label(), started.elapsed());
}

/// Dispatches `event`. In an overflow lane, an event whose tenant is out of call budget waits
/// for it in place (up to [`BUDGET_WAIT_IN_PLACE`] at a time) and is dispatched again, its
/// finished rules skipped by the ledger: the lane holds only tenants above their share.
async fn dispatch_in(
    lane: Lane,
    dispatcher: &Dispatcher,
    event: &EventEnvelope,
    attempt: u32,
) -> Outcome {
    loop {
        let outcome = dispatcher.dispatch(event, attempt).await;
        match outcome {
            Outcome::OverBudget { wait } if lane != Lane::Main && wait <= BUDGET_WAIT_IN_PLACE => {
                tokio::time::sleep(wait).await;
            }
            outcome => return outcome,
        }
    }
}

/// A paused tenant's event, as dispatch left it.
struct Held<'a> {
    client_key: &'a ClientKey,
    event: &'a EventEnvelope,
    attempt: u32,
}

/// Stores a paused tenant's event among its held events and only then acknowledges it. An
/// event that cannot be stored is delivered again after the shortest retry delay, with the
/// same attempt (nothing was tried): it is never acknowledged unstored. A failed ack after
/// the store holds a second copy, which the ledger keeps from acting twice once released.
async fn hold<D: Delivery>(
    delivery: D,
    held: Held<'_>,
    dispatcher: &Dispatcher,
    metrics: &Metrics,
    retry_delays_secs: &[u64],
) -> Result<(), D::Error> {
    match dispatcher.held.hold(held.client_key, held.event).await {
        Ok(()) => {
            metrics.held(held.event.product.as_str());
            delivery.ack().await
        }
        Err(error) => {
            tracing::warn!(%error, "cannot hold the event of a paused tenant; it is delivered again");
            metrics.retried("held");
            delivery
                .retry(shortest_step(retry_delays_secs), held.attempt)
                .await
        }
    }
}

/// The first retry step, at its own delay.
fn shortest_step(retry_delays_secs: &[u64]) -> RetryStep {
    let (index, delay) = retry_step(retry_delays_secs, 1, Duration::ZERO);
    RetryStep { index, delay }
}

/// Settles `delivery` by its outcome: ack, retry after a delay, or dead-letter.
async fn settle<D: Delivery>(
    delivery: D,
    outcome: &Outcome,
    attempt: u32,
    metrics: &Metrics,
    retry_delays_secs: &[u64],
) -> Result<(), D::Error> {
    match outcome {
        Outcome::Done | Outcome::Skipped(_) => delivery.ack().await,
        Outcome::OverBudget { wait } => {
            metrics.retried("budget");
            let (index, _) = retry_step(retry_delays_secs, 1, *wait);
            let step = RetryStep {
                index,
                delay: *wait,
            };
            delivery.retry(step, attempt).await
        }
        Outcome::RetryAfter { delay, reason } | Outcome::Defer { delay, reason } => {
            metrics.retried(reason_label(reason));
            let (index, step) = retry_step(retry_delays_secs, attempt, *delay);
            let step = RetryStep {
                index,
                delay: step.max(*delay),
            };
            delivery.retry(step, outcome.next_attempt(attempt)).await
        }
        // Held outcomes are settled by `hold`, which has the event; without it, deliver it
        // again rather than acknowledge it unstored.
        Outcome::Held { .. } => {
            delivery
                .retry(shortest_step(retry_delays_secs), attempt)
                .await
        }
        Outcome::DeadLetter { reason } => {
            metrics.dead_lettered(reason_label(reason));
            tracing::warn!(%reason, "dead-lettering event");
            delivery.dead_letter(reason, attempt).await
        }
    }
}

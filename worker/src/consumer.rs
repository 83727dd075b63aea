//! The RabbitMQ side of the worker: consume with a prefetch, run each event through the
//! [`Dispatcher`] concurrently, then ack, move to a delay queue, or dead-letter — acking the
//! original only after the republish is confirmed, and checking every ack and nack.
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::amqp::{headers, Link, Topology};
use common::envelope::QueueMessage;
use common::queue::retry_step;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dispatch::{Dispatcher, Outcome};
use crate::metrics::{reason_label, Metrics};

/// Consumes the work queue until shutdown.
pub struct Consumer {
    link: Link<Channel>,
    topology: Topology,
    dispatcher: Arc<Dispatcher>,
    metrics: Metrics,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// Stops the broker link; fired only after in-flight events have been settled, since they
    /// still ack and republish during the grace period.
    link_stop: CancellationToken,
}

impl Consumer {
    /// Starts the supervised link (confirm channel with `prefetch`, topology declared).
    pub fn start(
        url: &str,
        name: &str,
        topology: Topology,
        prefetch: u16,
        dispatcher: Arc<Dispatcher>,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> Self {
        let declared = topology.clone();
        let link_stop = CancellationToken::new();
        let link = Link::spawn(
            url.to_owned(),
            name.to_owned(),
            move |connection: Arc<Connection>| {
                let topology = declared.clone();
                async move {
                    let channel = connection.create_channel().await?;
                    channel
                        .basic_qos(prefetch, BasicQosOptions::default())
                        .await?;
                    channel
                        .confirm_select(ConfirmSelectOptions::default())
                        .await?;
                    topology.declare(&channel).await?;
                    Ok(channel)
                }
            },
            link_stop.clone(),
        );
        Self {
            link,
            topology,
            dispatcher,
            metrics,
            tracker: TaskTracker::new(),
            shutdown,
            link_stop,
        }
    }

    /// Waits until the broker link is up.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.link.wait_up(timeout).await.is_some()
    }

    /// Consumes (reconnecting as needed) until shutdown, then waits up to `grace` for in-flight
    /// events; any still unfinished are redelivered by the broker when the channel closes.
    pub async fn run(self, grace: Duration) {
        while !self.shutdown.is_cancelled() {
            let channel = tokio::select! {
                channel = self.link.wait_up(Duration::from_secs(3600)) => channel,
                () = self.shutdown.cancelled() => None,
            };
            let Some(channel) = channel else { continue };
            if let Err(error) = self.consume(&channel).await {
                tracing::warn!(%error, "consuming stopped; reconnecting");
                self.link.report_broken();
            }
            self.metrics.set_broker_connected(false);
        }
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "in-flight events did not finish; the broker will redeliver them"
            );
        }
        self.link_stop.cancel();
    }

    async fn consume(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let tag = format!("hookline-worker-{}", uuid::Uuid::new_v4().simple());
        let mut deliveries = channel
            .basic_consume(
                &self.topology.work_queue(),
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        self.metrics.set_broker_connected(true);
        tracing::info!(queue = %self.topology.work_queue(), "consuming");
        loop {
            let next = tokio::select! {
                next = deliveries.next() => next,
                () = self.shutdown.cancelled() => {
                    let _ = channel.basic_cancel(&tag, lapin::options::BasicCancelOptions::default()).await;
                    return Ok(());
                }
            };
            match next {
                Some(Ok(delivery)) => {
                    let handler = Handler {
                        channel: channel.clone(),
                        topology: self.topology.clone(),
                        dispatcher: self.dispatcher.clone(),
                        metrics: self.metrics.clone(),
                    };
                    self.tracker.spawn(handler.handle(delivery));
                }
                Some(Err(error)) => return Err(error),
                None => {
                    return Err(lapin::Error::InvalidChannelState(
                        lapin::ChannelState::Closed,
                    ))
                }
            }
        }
    }
}

/// Handles one delivery on the channel it came from.
struct Handler {
    channel: Channel,
    topology: Topology,
    dispatcher: Arc<Dispatcher>,
    metrics: Metrics,
}

impl Handler {
    async fn handle(self, delivery: Delivery) {
        let started = Instant::now();
        self.metrics.in_flight().inc();
        let attempt = attempt_of(&delivery.properties);
        let outcome = match QueueMessage::from_bytes(&delivery.data) {
            Ok(QueueMessage::EventV1(event)) => {
                self.metrics.consumed(event.product.as_str());
                self.dispatcher.dispatch(&event, attempt).await
            }
            Err(_) => Outcome::DeadLetter {
                reason: "unreadable message".into(),
            },
        };
        let settled = match &outcome {
            Outcome::Done | Outcome::Skipped(_) => self.ack(&delivery).await,
            Outcome::RetryAfter { delay, reason } | Outcome::Defer { delay, reason } => {
                let (index, _) = retry_step(self.topology.retry_delays_secs(), attempt, *delay);
                self.metrics.retried(reason_label(reason));
                let queue = self.topology.retry_queue(index);
                let next = outcome.next_attempt(attempt);
                self.republish(&delivery, &queue, next, None).await
            }
            Outcome::DeadLetter { reason } => {
                self.metrics.dead_lettered(reason_label(reason));
                tracing::warn!(%reason, "dead-lettering event");
                self.republish(
                    &delivery,
                    &self.topology.dead_letter_queue(),
                    attempt,
                    Some(reason),
                )
                .await
            }
        };
        if let Err(error) = settled {
            // The channel is likely gone; the broker redelivers the unacked message, and the
            // ledger keeps the redelivery from repeating an effect.
            tracing::warn!(%error, "could not settle a delivery; it will be redelivered");
        }
        self.metrics.in_flight().dec();
        self.metrics.processed(outcome.label(), started.elapsed());
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), lapin::Error> {
        delivery.acker.ack(BasicAckOptions::default()).await
    }

    /// Publishes a copy to `queue` (via the default exchange), waits for the confirm, then
    /// acks the original; if the copy is not confirmed, the original is requeued instead.
    async fn republish(
        &self,
        delivery: &Delivery,
        queue: &str,
        attempt: u32,
        dead_reason: Option<&str>,
    ) -> Result<(), lapin::Error> {
        let properties = with_headers(&delivery.properties, attempt, dead_reason);
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirmed = async {
            let confirm = self
                .channel
                .basic_publish("", queue, options, &delivery.data, properties)
                .await?;
            Ok::<_, lapin::Error>(matches!(confirm.await?, Confirmation::Ack(None)))
        }
        .await;
        match confirmed {
            Ok(true) => self.ack(delivery).await,
            Ok(false) => {
                tracing::warn!(%queue, "republish not confirmed; requeueing the original");
                delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await
            }
            Err(error) => Err(error),
        }
    }
}

/// The delivery's hookline attempt (1 for a first delivery).
fn attempt_of(properties: &BasicProperties) -> u32 {
    let value = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(headers::ATTEMPT).cloned());
    match value {
        Some(AMQPValue::LongUInt(n)) => n,
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(n).unwrap_or(1),
        Some(AMQPValue::LongInt(n)) => u32::try_from(n).unwrap_or(1),
        _ => 1,
    }
    .max(1)
}

fn with_headers(
    properties: &BasicProperties,
    attempt: u32,
    dead_reason: Option<&str>,
) -> BasicProperties {
    let mut table = properties.headers().clone().unwrap_or_default();
    table.insert(
        ShortString::from(headers::ATTEMPT),
        AMQPValue::LongUInt(attempt),
    );
    if let Some(reason) = dead_reason {
        table.insert(
            ShortString::from(headers::DEAD_REASON),
            AMQPValue::LongString(LongString::from(reason)),
        );
    }
    properties.clone().with_headers(table).with_delivery_mode(2)
}

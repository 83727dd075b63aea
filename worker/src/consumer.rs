//! The RabbitMQ side of the worker as a [`Source`]: consume the work queue with a prefetch
//! over a supervised link (reconnecting as needed), and settle each delivery on the channel it
//! came from: ack, move to a delay queue, or dead-letter — acking the original only after the
//! republish is confirmed, and checking every ack and nack.
use std::sync::Arc;
use std::time::Duration;

use common::amqp::{headers, Link, Topology};
use common::envelope::QueueMessage;
use futures::StreamExt;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::settle::{Delivery, RetryStep, Source};

/// How long the consumer waits for the link at a time before looking at shutdown again.
const LINK_WAIT: Duration = Duration::from_secs(3600);

/// Consumes the work queue.
pub struct Consumer {
    link: Link<Channel>,
    topology: Topology,
    metrics: Metrics,
    shutdown: CancellationToken,
    /// Stops the broker link; fired by [`Source::close`], once in-flight events are settled,
    /// since they still ack and republish during the grace period.
    link_stop: CancellationToken,
    consuming: Option<Consuming>,
}

/// The consumer on the current channel.
struct Consuming {
    channel: Channel,
    tag: String,
    deliveries: lapin::Consumer,
}

impl Consumer {
    /// Starts the supervised link (confirm channel with `prefetch`, topology declared).
    pub fn start(
        url: &str,
        name: &str,
        topology: Topology,
        prefetch: u16,
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
            metrics,
            shutdown,
            link_stop,
            consuming: None,
        }
    }

    /// Waits until the broker link is up.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.link.wait_up(timeout).await.is_some()
    }

    /// Starts consuming on the link's channel (waiting for it), or `None` at shutdown.
    async fn consume(&self) -> Option<Consuming> {
        while !self.shutdown.is_cancelled() {
            let channel = tokio::select! {
                channel = self.link.wait_up(LINK_WAIT) => channel,
                () = self.shutdown.cancelled() => None,
            };
            let Some(channel) = channel else { continue };
            let tag = format!("hookline-worker-{}", uuid::Uuid::new_v4().simple());
            let started = channel
                .basic_consume(
                    &self.topology.work_queue(),
                    &tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await;
            match started {
                Ok(deliveries) => {
                    self.metrics.set_broker_connected(true);
                    tracing::info!(queue = %self.topology.work_queue(), "consuming");
                    return Some(Consuming {
                        channel,
                        tag,
                        deliveries,
                    });
                }
                Err(error) => self.broken(&error),
            }
        }
        None
    }

    fn broken(&self, error: &lapin::Error) {
        tracing::warn!(%error, "consuming stopped; reconnecting");
        self.link.report_broken();
        self.metrics.set_broker_connected(false);
    }
}

impl Source for Consumer {
    type Delivery = Received;

    async fn next(&mut self) -> Option<Vec<Received>> {
        loop {
            let Some(consuming) = self.consuming.as_mut() else {
                self.consuming = Some(self.consume().await?);
                continue;
            };
            let next = tokio::select! {
                next = consuming.deliveries.next() => next,
                () = self.shutdown.cancelled() => {
                    let cancel = BasicCancelOptions::default();
                    let _ = consuming.channel.basic_cancel(&consuming.tag, cancel).await;
                    return None;
                }
            };
            match next {
                Some(Ok(delivery)) => {
                    return Some(vec![Received {
                        channel: consuming.channel.clone(),
                        topology: self.topology.clone(),
                        delivery,
                    }])
                }
                Some(Err(error)) => self.broken(&error),
                None => self.broken(&lapin::Error::InvalidChannelState(
                    lapin::ChannelState::Closed,
                )),
            }
            self.consuming = None;
        }
    }

    async fn close(self) {
        self.metrics.set_broker_connected(false);
        self.link_stop.cancel();
        self.link.stopped().await;
    }
}

/// A delivery with the channel it came on.
pub struct Received {
    channel: Channel,
    topology: Topology,
    delivery: AmqpDelivery,
}

impl Received {
    async fn ack(&self) -> Result<(), lapin::Error> {
        self.delivery.acker.ack(BasicAckOptions::default()).await
    }

    /// Publishes a copy to `queue` (via the default exchange), waits for the confirm, then
    /// acks the original; if the copy is not confirmed, the original is requeued instead.
    async fn republish(
        &self,
        queue: &str,
        attempt: u32,
        dead_reason: Option<&str>,
    ) -> Result<(), lapin::Error> {
        let properties = with_headers(&self.delivery.properties, attempt, dead_reason);
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirmed = async {
            let confirm = self
                .channel
                .basic_publish("", queue, options, &self.delivery.data, properties)
                .await?;
            Ok::<_, lapin::Error>(matches!(confirm.await?, Confirmation::Ack(None)))
        }
        .await;
        match confirmed {
            Ok(true) => self.ack().await,
            Ok(false) => {
                tracing::warn!(%queue, "republish not confirmed; requeueing the original");
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                };
                self.delivery.acker.nack(requeue).await
            }
            Err(error) => Err(error),
        }
    }
}

impl Delivery for Received {
    type Error = lapin::Error;

    fn take_message(&mut self) -> Result<QueueMessage, String> {
        QueueMessage::from_bytes(&self.delivery.data).map_err(|error| error.to_string())
    }

    fn attempt(&self) -> u32 {
        attempt_of(&self.delivery.properties)
    }

    async fn ack(self) -> Result<(), lapin::Error> {
        Received::ack(&self).await
    }

    async fn retry(self, step: RetryStep, attempt: u32) -> Result<(), lapin::Error> {
        let queue = self.topology.retry_queue(step.index);
        self.republish(&queue, attempt, None).await
    }

    async fn dead_letter(self, reason: &str, attempt: u32) -> Result<(), lapin::Error> {
        let queue = self.topology.dead_letter_queue();
        self.republish(&queue, attempt, Some(reason)).await
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

//! The RabbitMQ side of the worker as a [`Source`]: consume the work queue with a prefetch
//! over a supervised link (reconnecting as needed), and settle each delivery on the channel it
//! came from: ack, move to a delay queue, or dead-letter — acking the original only after the
//! republish is confirmed, and checking every ack and nack.
use std::sync::Arc;
use std::time::Duration;

use common::amqp::{headers, publish_event, Brokers, Link, Topology};
use common::envelope::{EventEnvelope, QueueMessage};
use common::queue::lane::{Lane, LanePublisher};
use common::queue::PublishError;
use futures::future::BoxFuture;
use futures::stream::SelectAll;
use futures::Stream;
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

/// One lane's deliveries, tagged with the lane.
type LaneStream =
    std::pin::Pin<Box<dyn Stream<Item = (Lane, lapin::Result<AmqpDelivery>)> + Send + Sync>>;

/// The consumers of every lane on the current channel.
struct Consuming {
    channel: Channel,
    tags: Vec<String>,
    deliveries: SelectAll<LaneStream>,
}

impl Consumer {
    /// Starts the supervised link (confirm channel with `prefetch`, topology declared).
    pub fn start(
        brokers: Brokers,
        name: &str,
        topology: Topology,
        prefetch: u16,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> Self {
        let declared = topology.clone();
        let link_stop = CancellationToken::new();
        let link = Link::spawn(
            brokers,
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

    /// Starts consuming every lane on the link's channel (waiting for it), or `None` at
    /// shutdown. Each lane is its own consumer with its own prefetch window, so a flood in an
    /// overflow lane never holds the main lane's window.
    async fn consume(&self) -> Option<Consuming> {
        while !self.shutdown.is_cancelled() {
            let channel = tokio::select! {
                channel = self.link.wait_up(LINK_WAIT) => channel,
                () = self.shutdown.cancelled() => None,
            };
            let Some(channel) = channel else { continue };
            match self.consume_lanes(&channel).await {
                Ok((tags, deliveries)) => {
                    self.metrics.set_broker_connected(true);
                    tracing::info!(queue = %self.topology.work_queue(), "consuming every lane");
                    return Some(Consuming {
                        channel,
                        tags,
                        deliveries,
                    });
                }
                Err(error) => self.broken(&error),
            }
        }
        None
    }

    async fn consume_lanes(
        &self,
        channel: &Channel,
    ) -> lapin::Result<(Vec<String>, SelectAll<LaneStream>)> {
        let mut tags = Vec::new();
        let mut deliveries = SelectAll::new();
        for lane in Lane::all() {
            let tag = format!("hookline-worker-{}", uuid::Uuid::new_v4().simple());
            let consumer = channel
                .basic_consume(
                    &self.topology.lane_queue(lane),
                    &tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            tags.push(tag);
            deliveries.push(Box::pin(consumer.map(move |delivery| (lane, delivery))) as LaneStream);
        }
        Ok((tags, deliveries))
    }

    /// Publishes events on this consumer's channel (confirmed), e.g. held events released
    /// back into the queue.
    pub fn publisher(&self, app_id: &str, confirm_timeout: Duration) -> ChannelPublisher {
        ChannelPublisher {
            link: self.link.clone(),
            topology: self.topology.clone(),
            app_id: app_id.to_owned(),
            confirm_timeout,
        }
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
                    for tag in &consuming.tags {
                        let cancel = BasicCancelOptions::default();
                        let _ = consuming.channel.basic_cancel(tag, cancel).await;
                    }
                    return None;
                }
            };
            match next {
                Some((lane, Ok(delivery))) => {
                    return Some(vec![Received {
                        channel: consuming.channel.clone(),
                        topology: self.topology.clone(),
                        lane,
                        delivery,
                    }])
                }
                Some((_, Err(error))) => self.broken(&error),
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

/// Publishes to the lanes over a consumer's link.
pub struct ChannelPublisher {
    link: Link<Channel>,
    topology: Topology,
    app_id: String,
    confirm_timeout: Duration,
}

impl LanePublisher for ChannelPublisher {
    fn publish_to<'a>(
        &'a self,
        event: &'a EventEnvelope,
        lane: Lane,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let channel = self.link.current().ok_or(PublishError::Unavailable)?;
            let published = publish_event(
                &channel,
                &self.topology,
                event,
                lane,
                &self.app_id,
                self.confirm_timeout,
            )
            .await;
            published.map_err(|failure| {
                if failure.broken {
                    self.link.report_broken();
                }
                failure.error
            })
        })
    }

    fn is_ready(&self) -> bool {
        self.link
            .current()
            .is_some_and(|channel| channel.status().connected())
    }
}

/// A delivery with the channel and lane it came on.
pub struct Received {
    channel: Channel,
    topology: Topology,
    lane: Lane,
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

    fn lane(&self) -> Lane {
        self.lane
    }

    async fn move_to(self, lane: Lane, attempt: u32) -> Result<(), lapin::Error> {
        let queue = self.topology.lane_queue(lane);
        self.republish(&queue, attempt, None).await
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

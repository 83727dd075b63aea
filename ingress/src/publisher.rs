//! Publishing events to RabbitMQ with publisher confirms over one supervised channel.
//!
//! Every request shares one confirm-mode channel: lapin pipelines publishes, so many are in
//! flight at once and each awaits its own confirm. The channel lives in a [`Link`] that
//! rebuilds it after the broker restarts; meanwhile publishes fail fast with `Unavailable`.
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::amqp::{headers, Link, LinkState, Topology};
use common::envelope::{EventEnvelope, QueueMessage};
use common::queue::{EventPublisher, PublishError};
use futures::future::BoxFuture;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Publishes to the topology's events exchange and waits for the broker's confirm.
#[derive(Clone)]
pub struct AmqpPublisher {
    link: Link<Channel>,
    topology: Topology,
    app_id: String,
    confirm_timeout: Duration,
    metrics: Metrics,
}

/// The name the ingress gives its broker connection: unique per app key and queue prefix, so
/// operators (and tests sharing one broker) can tell each ingress apart in `rabbitmqctl
/// list_connections client_properties`.
pub fn connection_name(app_key: &str, prefix: &str) -> String {
    format!("{app_key}-ingress-{prefix}")
}

impl AmqpPublisher {
    /// Starts the supervised link: connect as `connection_name`, open a confirm channel,
    /// declare the topology.
    pub fn start(
        url: &str,
        connection_name: String,
        topology: Topology,
        app_id: &str,
        confirm_timeout: Duration,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> Self {
        let declared = topology.clone();
        let gauge = metrics.clone();
        let link = Link::spawn(
            url.to_owned(),
            connection_name,
            move |connection: Arc<Connection>| {
                let topology = declared.clone();
                let gauge = gauge.clone();
                async move {
                    let channel = connection.create_channel().await?;
                    channel
                        .confirm_select(ConfirmSelectOptions::default())
                        .await?;
                    topology.declare(&channel).await?;
                    let on_error = gauge.clone();
                    channel.on_error(move |_| on_error.set_broker_connected(false));
                    Ok(channel)
                }
            },
            shutdown,
        );
        // The link going down for any reason (a connection error, a timeout noticed by a
        // publish, a cut network found by heartbeats) shows on the gauge at once.
        let gauge = metrics.clone();
        link.on_state_change(move |state| gauge.set_broker_connected(state == LinkState::Up));
        Self {
            link,
            topology,
            app_id: app_id.to_owned(),
            confirm_timeout,
            metrics,
        }
    }

    /// Waits until the link stopped (after its shutdown token fired) and said goodbye.
    pub async fn stopped(&self) {
        self.link.stopped().await;
    }

    /// Waits until the broker link is up, for start-up and tests.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.link.wait_up(timeout).await.is_some()
    }

    async fn publish(&self, event: &EventEnvelope) -> Result<(), PublishError> {
        let channel = self.link.current().ok_or(PublishError::Unavailable)?;
        if !channel.status().connected() {
            self.broken();
            return Err(PublishError::Unavailable);
        }
        let payload = QueueMessage::encode_event(event).map_err(|error| {
            tracing::error!(%error, "an event could not be encoded");
            PublishError::Rejected("unencodable")
        })?;
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirm = channel
            .basic_publish(
                &self.topology.events_exchange(),
                &event.routing_key(),
                options,
                &payload,
                self.properties(event),
            )
            .await
            .map_err(|error| {
                self.broken();
                PublishError::Channel(error.to_string())
            })?;
        // The channel has its own copy now: a large event is not held twice until the confirm.
        drop(payload);
        match tokio::time::timeout(self.confirm_timeout, confirm).await {
            Err(_) => Err(PublishError::Timeout),
            Ok(Err(error)) => {
                self.broken();
                Err(PublishError::Channel(error.to_string()))
            }
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            // Acked but returned: no queue is bound, so the event would be lost. The queue or
            // its binding was deleted under us: rebuilding the link declares them again.
            Ok(Ok(Confirmation::Ack(Some(_)))) => {
                self.broken();
                Err(PublishError::Rejected("unroutable"))
            }
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Rejected("nack")),
            Ok(Ok(Confirmation::NotRequested)) => Err(PublishError::Rejected("confirms off")),
        }
    }

    fn broken(&self) {
        self.metrics.set_broker_connected(false);
        self.link.report_broken();
    }

    fn properties(&self, event: &EventEnvelope) -> BasicProperties {
        let mut headers = FieldTable::default();
        let tenant = event.tenant.to_string();
        for (name, value) in [
            (headers::CLIENT_KEY, tenant.as_str()),
            (headers::PRODUCT, event.product.as_str()),
            (headers::EVENT, event.event.as_str()),
        ] {
            headers.insert(
                ShortString::from(name),
                AMQPValue::LongString(LongString::from(value)),
            );
        }
        BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/json"))
            .with_message_id(ShortString::from(event.delivery_id()))
            .with_app_id(ShortString::from(self.app_id.as_str()))
            .with_timestamp(u64::try_from(event.received_at.timestamp()).unwrap_or_default())
            .with_headers(headers)
    }
}

impl EventPublisher for AmqpPublisher {
    fn publish_confirmed<'a>(
        &'a self,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.publish(event).await;
            let outcome = result.as_ref().map(|_| ()).map_err(PublishError::code);
            self.metrics.publish_finished(outcome, started.elapsed());
            if let Err(error) = &result {
                tracing::warn!(event_id = %event.event_id, reason = error.code(), "event not confirmed");
            }
            result
        })
    }

    fn is_ready(&self) -> bool {
        self.link
            .current()
            .is_some_and(|channel| channel.status().connected())
    }
}

//! Publishing events to RabbitMQ with publisher confirms over one supervised channel.
//!
//! Every request shares one confirm-mode channel: lapin pipelines publishes, so many are in
//! flight at once and each awaits its own confirm. The channel lives in a [`Link`] that
//! rebuilds it after the broker restarts; meanwhile publishes fail fast with `Unavailable`.
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::amqp::{publish_event, Brokers, Link, LinkState, Topology};
use common::envelope::EventEnvelope;
use common::queue::lane::{Lane, LanePublisher};
use common::queue::PublishError;
use futures::future::BoxFuture;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
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
        brokers: Brokers,
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
            brokers,
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

    async fn publish(&self, event: &EventEnvelope, lane: Lane) -> Result<(), PublishError> {
        let channel = self.link.current().ok_or(PublishError::Unavailable)?;
        if !channel.status().connected() {
            self.broken();
            return Err(PublishError::Unavailable);
        }
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
                self.broken();
            }
            failure.error
        })
    }

    fn broken(&self) {
        self.metrics.set_broker_connected(false);
        self.link.report_broken();
    }
}

impl LanePublisher for AmqpPublisher {
    fn publish_to<'a>(
        &'a self,
        event: &'a EventEnvelope,
        lane: Lane,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.publish(event, lane).await;
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

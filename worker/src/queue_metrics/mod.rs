//! Queue depth and backlog age, polled from the broker (every 15 s by default) into the
//! worker's registry:
//!
//! - `hookline_queue_messages{queue="work|overflow|retry|dead"}`: messages ready in the work
//!   queue (its main lane), in the overflow lanes together, in every delay queue together, and
//!   in the dead-letter queue (passive `queue.declare`);
//! - `hookline_queue_consumers{queue="work"}`: consumers attached to the work queue;
//! - `hookline_queue_oldest_message_age_seconds{queue="work"}`: age of the message at the head
//!   of the work queue, from the RabbitMQ management API's `head_message_timestamp`.
//!
//! The poller has a broker link of its own: a passive declare of a missing queue closes its
//! channel, which must never take the consumer's channel (and its unacked events) down with it.
//! Every worker replica polls; the values are the broker's, so dashboards take `max` across
//! instances. When a poll fails the series are removed rather than left stale.
mod management;

use std::time::Duration;

use common::amqp::{Brokers, Link, Topology};
use common::config::Settings;
use common::queue::lane::Lane;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use prometheus::{
    register_gauge_vec_with_registry, register_int_gauge_vec_with_registry, GaugeVec, IntGaugeVec,
    Opts,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use management::{HeadAge, ManagementApi};

use crate::metrics::Metrics;

/// How often the broker is asked (a Prometheus scrape interval).
pub const POLL_INTERVAL: Duration = Duration::from_secs(15);

/// Starts polling the queues of `settings.amqp.prefix` into `metrics`, with the management API
/// guessed from the first broker's URL (same host, port 15672, same credentials and vhost).
pub fn spawn_for(
    settings: &Settings,
    brokers: &Brokers,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let topology = Topology::new(&settings.amqp.prefix, &settings.amqp.retry_delays_secs);
    let name = format!(
        "{}-queue-metrics-{}",
        settings.app.key, settings.amqp.prefix
    );
    let monitor = QueueMonitor::new(topology, metrics)?
        .with_management(ManagementApi::for_amqp_url(brokers.url(0)));
    // It stops with `shutdown`; the worker waits for its connection to close before exiting.
    Ok(monitor.spawn(brokers.clone(), &name, shutdown))
}

/// The three gauges, registered in the worker's registry.
#[derive(Clone)]
struct QueueGauges {
    messages: IntGaugeVec,
    consumers: IntGaugeVec,
    oldest_age: GaugeVec,
}

impl QueueGauges {
    fn register(metrics: &Metrics) -> prometheus::Result<Self> {
        let registry = metrics.registry();
        Ok(Self {
            messages: register_int_gauge_vec_with_registry!(
                Opts::new(
                    "hookline_queue_messages",
                    "Messages ready in hookline's queues (retry: every delay queue summed), polled from the broker",
                ),
                &["queue"],
                registry
            )?,
            consumers: register_int_gauge_vec_with_registry!(
                Opts::new(
                    "hookline_queue_consumers",
                    "Consumers attached to the queue, polled from the broker",
                ),
                &["queue"],
                registry
            )?,
            oldest_age: register_gauge_vec_with_registry!(
                Opts::new(
                    "hookline_queue_oldest_message_age_seconds",
                    "Age of the message at the head of the queue (RabbitMQ management API)",
                ),
                &["queue"],
                registry
            )?,
        })
    }

    fn clear_depth(&self) {
        self.messages.reset();
        self.consumers.reset();
    }
}

/// One broker poll's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Depth {
    work: u32,
    work_consumers: u32,
    overflow: u64,
    retry: u64,
    dead: u32,
}

/// Polls queue depth (and, when the management API answers, head age) into the gauges.
pub struct QueueMonitor {
    topology: Topology,
    gauges: QueueGauges,
    management: Option<ManagementApi>,
    interval: Duration,
    /// Whether "no age from the management API" was already logged (it is said once).
    age_unavailable_logged: bool,
}

impl QueueMonitor {
    /// A monitor of `topology`'s queues whose gauges live in `metrics`' registry.
    pub fn new(topology: Topology, metrics: &Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            topology,
            gauges: QueueGauges::register(metrics)?,
            management: None,
            interval: POLL_INTERVAL,
            age_unavailable_logged: false,
        })
    }

    /// Also reads the head message's age from this management API.
    pub fn with_management(mut self, management: Option<ManagementApi>) -> Self {
        self.management = management;
        self
    }

    /// Polls every `interval` instead of [`POLL_INTERVAL`].
    pub fn every(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Connects as `name` and polls until `shutdown`; the task ends once its connection closed.
    pub fn spawn(
        self,
        brokers: Brokers,
        name: &str,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        let link = Link::spawn(
            brokers,
            name.to_owned(),
            |connection: std::sync::Arc<Connection>| async move { connection.create_channel().await },
            shutdown.clone(),
        );
        tokio::spawn(self.run(link, shutdown))
    }

    async fn run(mut self, link: Link<Channel>, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.poll(&link).await,
                () = shutdown.cancelled() => break,
            }
        }
        link.stopped().await;
    }

    async fn poll(&mut self, link: &Link<Channel>) {
        match link.current() {
            Some(channel) => match self.depth(&channel).await {
                Ok(depth) => self.set_depth(depth),
                Err(error) => {
                    tracing::debug!(%error, "cannot read queue depth; will retry");
                    // A failed passive declare (a queue not declared yet) closes the channel:
                    // ask for a fresh one. Only then: a report while the link is still
                    // connecting would tear down the connection it is about to get.
                    link.report_broken();
                    self.gauges.clear_depth();
                }
            },
            None => self.gauges.clear_depth(),
        }
        self.poll_age().await;
    }

    async fn depth(&self, channel: &Channel) -> Result<Depth, lapin::Error> {
        let (work, work_consumers) = declare_passive(channel, &self.topology.work_queue()).await?;
        let (dead, _) = declare_passive(channel, &self.topology.dead_letter_queue()).await?;
        let mut overflow = 0;
        for lane in Lane::all().filter(|lane| *lane != Lane::Main) {
            let (ready, _) = declare_passive(channel, &self.topology.lane_queue(lane)).await?;
            overflow += u64::from(ready);
        }
        let mut retry = 0;
        for index in 0..self.topology.retry_delays_secs().len() {
            let (ready, _) = declare_passive(channel, &self.topology.retry_queue(index)).await?;
            retry += u64::from(ready);
        }
        Ok(Depth {
            work,
            work_consumers,
            overflow,
            retry,
            dead,
        })
    }

    fn set_depth(&self, depth: Depth) {
        let messages = &self.gauges.messages;
        messages.with_label_values(&["work"]).set(depth.work.into());
        messages
            .with_label_values(&["overflow"])
            .set(i64::try_from(depth.overflow).unwrap_or(i64::MAX));
        messages
            .with_label_values(&["retry"])
            .set(i64::try_from(depth.retry).unwrap_or(i64::MAX));
        messages.with_label_values(&["dead"]).set(depth.dead.into());
        self.gauges
            .consumers
            .with_label_values(&["work"])
            .set(depth.work_consumers.into());
    }

    async fn poll_age(&mut self) {
        let Some(management) = &self.management else {
            return;
        };
        let queue = self.topology.work_queue();
        let age = management.head_age(&queue).await;
        let gauge = &self.gauges.oldest_age;
        match age {
            HeadAge::Seconds(seconds) => gauge.with_label_values(&["work"]).set(seconds),
            HeadAge::Empty => gauge.with_label_values(&["work"]).set(0.0),
            HeadAge::NotReported | HeadAge::Unavailable(_) => {
                let _ = gauge.remove_label_values(&["work"]);
                if !self.age_unavailable_logged {
                    self.age_unavailable_logged = true;
                    tracing::debug!(%queue, answer = ?age, "no head message age from the RabbitMQ management API; exporting queue depth only");
                }
            }
        }
    }
}

/// `(ready messages, consumers)` of an existing queue; an error (and a closed channel) if the
/// queue does not exist.
async fn declare_passive(channel: &Channel, queue: &str) -> Result<(u32, u32), lapin::Error> {
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue, options, FieldTable::default())
        .await?;
    Ok((declared.message_count(), declared.consumer_count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(metrics: &Metrics, series: &str) -> Option<String> {
        metrics.render().lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')
                .map(String::from)
        })
    }

    #[test]
    fn depth_is_exported_per_queue_with_the_retry_queues_summed() {
        let metrics = Metrics::new();
        let monitor = QueueMonitor::new(Topology::new("t", &[5, 30]), &metrics).expect("gauges");
        monitor.set_depth(Depth {
            work: 7,
            work_consumers: 2,
            overflow: 40,
            retry: 3,
            dead: 1,
        });
        let value = |series: &str| sample(&metrics, series);
        assert_eq!(
            value("hookline_queue_messages{queue=\"work\"}").as_deref(),
            Some("7")
        );
        assert_eq!(
            value("hookline_queue_messages{queue=\"overflow\"}").as_deref(),
            Some("40")
        );
        assert_eq!(
            value("hookline_queue_messages{queue=\"retry\"}").as_deref(),
            Some("3")
        );
        assert_eq!(
            value("hookline_queue_messages{queue=\"dead\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            value("hookline_queue_consumers{queue=\"work\"}").as_deref(),
            Some("2")
        );
    }

    #[test]
    fn a_failed_poll_removes_the_depth_series_instead_of_leaving_them_stale() {
        let metrics = Metrics::new();
        let monitor = QueueMonitor::new(Topology::new("t", &[5]), &metrics).expect("gauges");
        monitor.set_depth(Depth {
            work: 7,
            work_consumers: 1,
            overflow: 0,
            retry: 0,
            dead: 0,
        });
        monitor.gauges.clear_depth();
        assert!(!metrics.render().contains("hookline_queue_messages{"));
    }
}

//! The benchmark's own broker connections: declaring a fresh topology and cleaning it away.
use anyhow::Context;
use common::amqp::Topology;
use common::config::AmqpSettings;
use common::testing::{amqp_url, unique_prefix};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};

/// A topology no one else uses, with the production retry queues.
pub fn fresh_topology() -> Topology {
    Topology::new(&unique_prefix(), &AmqpSettings::default().retry_delays_secs)
}

/// A connection to the test broker, named for the management UI.
pub async fn connect(name: &str) -> anyhow::Result<Connection> {
    let url = amqp_url();
    common::amqp::connect(&url, name)
        .await
        .with_context(|| format!("connecting to RabbitMQ at {url} (run scripts/bench)"))
}

/// Counts the messages on the work queue, then deletes every queue and the exchange.
pub async fn count_and_delete(topology: &Topology) -> anyhow::Result<u32> {
    let connection = connect("hookline-bench-cleanup").await?;
    let channel = connection.create_channel().await?;
    let outcome = count_and_delete_on(&channel, topology).await;
    let _ = connection.close(200, "done").await;
    outcome
}

async fn count_and_delete_on(channel: &Channel, topology: &Topology) -> anyhow::Result<u32> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare(&topology.work_queue(), passive, FieldTable::default())
        .await
        .with_context(|| format!("reading the depth of {}", topology.work_queue()))?;
    topology
        .delete(channel)
        .await
        .with_context(|| format!("deleting the queues of {}", topology.events_exchange()))?;
    Ok(queue.message_count())
}

//! RabbitMQ: the topology both services declare, connecting to one node of several, and a
//! supervised link that reconnects by itself, to another node if need be, after a broker
//! restart or a node's loss.
mod brokers;
mod publish;
mod supervisor;
mod topology;

pub use brokers::Brokers;
pub use publish::{publish_event, PublishFailure};
pub use supervisor::{Link, LinkHandle, LinkState};
pub use topology::{headers, Topology};

use lapin::{Connection, ConnectionProperties};

/// Opens a connection on the tokio runtime, named so operators can tell processes apart in
/// the management UI (`rabbitmqctl list_connections client_properties`).
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    Connection::connect(url, properties).await
}

//! Publishing one event to a lane with a confirm, on a confirm-mode channel: what the ingress
//! does for every webhook and a worker does when it releases a resumed tenant's held events.
use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};

use super::{headers, Topology};
use crate::envelope::{EventEnvelope, QueueMessage};
use crate::queue::lane::Lane;
use crate::queue::PublishError;

/// Why a publish failed, and whether the channel is to be rebuilt.
#[derive(Debug)]
pub struct PublishFailure {
    /// The failure.
    pub error: PublishError,
    /// The channel failed, or the topology is missing (a deleted queue or binding): the link
    /// must be rebuilt, which declares it again.
    pub broken: bool,
}

impl PublishFailure {
    fn broken(error: PublishError) -> Self {
        Self {
            error,
            broken: true,
        }
    }

    fn refused(error: PublishError) -> Self {
        Self {
            error,
            broken: false,
        }
    }
}

/// Publishes `event` persistently to `lane` (the main lane through the events exchange with
/// routing key `{product}.{event}`, an overflow lane straight to its queue) and waits up to
/// `confirm_timeout` for the broker's confirm. `app_id` names the publishing app.
pub async fn publish_event(
    channel: &Channel,
    topology: &Topology,
    event: &EventEnvelope,
    lane: Lane,
    app_id: &str,
    confirm_timeout: Duration,
) -> Result<(), PublishFailure> {
    let payload = QueueMessage::encode_event(event).map_err(|error| {
        tracing::error!(%error, "an event could not be encoded");
        PublishFailure::refused(PublishError::Rejected("unencodable"))
    })?;
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let (exchange, routing_key) = match lane {
        Lane::Main => (topology.events_exchange(), event.routing_key()),
        Lane::Overflow(_) => (String::new(), topology.lane_queue(lane)),
    };
    let confirm = channel
        .basic_publish(
            &exchange,
            &routing_key,
            options,
            &payload,
            properties(event, app_id),
        )
        .await
        .map_err(|error| PublishFailure::broken(PublishError::Channel(error.to_string())))?;
    // The channel has its own copy now: a large event is not held twice until the confirm.
    drop(payload);
    match tokio::time::timeout(confirm_timeout, confirm).await {
        Err(_) => Err(PublishFailure::refused(PublishError::Timeout)),
        Ok(Err(error)) => Err(PublishFailure::broken(PublishError::Channel(
            error.to_string(),
        ))),
        Ok(Ok(Confirmation::Ack(None))) => Ok(()),
        // Acked but returned: no queue is bound, so the event would be lost. The queue or its
        // binding was deleted under us: rebuilding the link declares them again.
        Ok(Ok(Confirmation::Ack(Some(_)))) => {
            Err(PublishFailure::broken(PublishError::Rejected("unroutable")))
        }
        Ok(Ok(Confirmation::Nack(_))) => {
            Err(PublishFailure::refused(PublishError::Rejected("nack")))
        }
        Ok(Ok(Confirmation::NotRequested)) => Err(PublishFailure::refused(PublishError::Rejected(
            "confirms off",
        ))),
    }
}

/// The message properties of an event: persistent, JSON, its delivery id as the message id,
/// and the tenant, product and event as headers.
fn properties(event: &EventEnvelope, app_id: &str) -> BasicProperties {
    let mut table = FieldTable::default();
    let tenant = event.tenant.to_string();
    for (name, value) in [
        (headers::CLIENT_KEY, tenant.as_str()),
        (headers::PRODUCT, event.product.as_str()),
        (headers::EVENT, event.event.as_str()),
    ] {
        table.insert(
            ShortString::from(name),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_message_id(ShortString::from(event.delivery_id()))
        .with_app_id(ShortString::from(app_id))
        .with_timestamp(u64::try_from(event.received_at.timestamp()).unwrap_or_default())
        .with_headers(table)
}

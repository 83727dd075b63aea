//! Dead letters on RabbitMQ, in `{prefix}.dead`.
//!
//! Everything works by basic.get with manual acks: a message taken is held unacknowledged
//! until the command decides, so the queue runs dry after one pass even though messages left
//! alone are returned (nack with requeue) only at the end. A replayed message is acked only
//! once the broker has confirmed its copy on the events exchange.
use anyhow::{bail, Context};
use common::amqp::{headers, Brokers, Topology};
use common::config::Settings;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection};

use super::{DeadLetter, Disposal, Selection};

/// Whether the broker or the worker added this header on the way to (or while in) the
/// dead-letter queue; a replayed message starts without them.
fn is_dead_letter_header(name: &str) -> bool {
    name == headers::DEAD_REASON
        || name == "x-death"
        || name == "x-delivery-count"
        || name.starts_with("x-first-death-")
        || name.starts_with("x-last-death-")
}

pub struct BrokerDlq {
    connection: Connection,
    topology: Topology,
}

impl BrokerDlq {
    pub async fn open(brokers: &Brokers, settings: &Settings) -> anyhow::Result<Self> {
        let (connection, _) = brokers
            .connect(0, "hookline-admin")
            .await
            .with_context(|| format!("connecting to RabbitMQ (nodes {brokers:?})"))?;
        let topology = Topology::new(&settings.amqp.prefix, &settings.amqp.retry_delays_secs);
        let dlq = Self {
            connection,
            topology,
        };
        // A passive declare names a missing queue clearly, instead of a channel error later.
        let channel = dlq.connection.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = dlq.topology.dead_letter_queue();
        if let Err(error) = channel
            .queue_declare(&queue, passive, FieldTable::default())
            .await
        {
            bail!(
                "the dead-letter queue {queue} does not exist on the broker (is amqp.prefix \
                 right, and has hookline run with it?): {error}"
            );
        }
        let _ = channel.close(200, "done").await;
        Ok(dlq)
    }

    pub async fn close(self) {
        let _ = self.connection.close(200, "done").await;
    }

    /// Every dead letter; each is returned to the queue untouched.
    pub async fn list(&self) -> anyhow::Result<Vec<DeadLetter>> {
        let channel = self.connection.create_channel().await?;
        let mut held = Vec::new();
        while let Some(delivery) = self.next(&channel).await? {
            held.push(delivery);
        }
        let letters = held.iter().map(dead_letter).collect();
        requeue(held).await?;
        let _ = channel.close(200, "done").await;
        Ok(letters)
    }

    /// Replays or deletes the selected dead letters. On the first failure, every message not
    /// yet settled is returned to the queue and the error names the one that failed.
    pub async fn dispose(
        &self,
        selection: &Selection,
        disposal: Disposal,
    ) -> anyhow::Result<Vec<DeadLetter>> {
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut held = Vec::new();
        let mut done = Vec::new();
        let mut failure = None;
        while let Some(delivery) = self.next(&channel).await? {
            let letter = dead_letter(&delivery);
            if !selection.matches(&letter) {
                held.push(delivery);
                continue;
            }
            let settled = match disposal {
                Disposal::Replay => self.replay(&channel, &delivery, &letter).await,
                Disposal::Delete => Ok(()),
            };
            match settled {
                Ok(()) => {
                    delivery.acker.ack(BasicAckOptions::default()).await?;
                    done.push(letter);
                }
                Err(error) => {
                    held.push(delivery);
                    failure = Some(error.context(format!("replaying dead letter {}", letter.id)));
                    break;
                }
            }
        }
        requeue(held).await?;
        let _ = channel.close(200, "done").await;
        match failure {
            Some(error) if done.is_empty() => Err(error),
            Some(error) => Err(error.context(format!(
                "{} dead letter(s) were replayed before the failure",
                done.len()
            ))),
            None => Ok(done),
        }
    }

    async fn next(&self, channel: &Channel) -> anyhow::Result<Option<Delivery>> {
        let queue = self.topology.dead_letter_queue();
        let message = channel
            .basic_get(&queue, BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("reading {queue}"))?;
        Ok(message.map(|m| m.delivery))
    }

    /// Publishes a first-attempt copy to the events exchange and waits for its confirm.
    async fn replay(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        letter: &DeadLetter,
    ) -> anyhow::Result<()> {
        let Some(routing_key) = letter.routing_key() else {
            bail!("it names no product and event, so it cannot be routed");
        };
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirmation = channel
            .basic_publish(
                &self.topology.events_exchange(),
                &routing_key,
                options,
                &delivery.data,
                first_attempt(&delivery.properties),
            )
            .await?
            .await?;
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => bail!(
                "the broker could not route {routing_key} from {} to a queue",
                self.topology.events_exchange()
            ),
            _ => bail!("the broker did not confirm the copy"),
        }
    }
}

/// Returns held messages to the queue.
async fn requeue(held: Vec<Delivery>) -> anyhow::Result<()> {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    for delivery in held {
        delivery
            .acker
            .nack(options)
            .await
            .context("returning a dead letter to its queue")?;
    }
    Ok(())
}

/// The properties of a replayed copy: persistent, attempt 1, no dead-letter headers.
fn first_attempt(properties: &BasicProperties) -> BasicProperties {
    let mut table = FieldTable::default();
    if let Some(original) = properties.headers() {
        for (name, value) in original.inner() {
            if !is_dead_letter_header(name.as_str()) {
                table.insert(name.clone(), value.clone());
            }
        }
    }
    table.insert(ShortString::from(headers::ATTEMPT), AMQPValue::LongUInt(1));
    properties.clone().with_headers(table).with_delivery_mode(2)
}

/// Reads a delivery's id, headers and body.
fn dead_letter(delivery: &Delivery) -> DeadLetter {
    let properties = &delivery.properties;
    let header = |name: &str| header_string(properties, name);
    let reason = header(headers::DEAD_REASON).unwrap_or_else(|| {
        if has_header(properties, "x-death") {
            "redelivered too often (the work queue's delivery limit)".to_owned()
        } else {
            "unknown".to_owned()
        }
    });
    let id = properties
        .message_id()
        .as_ref()
        .map_or_else(|| "-".to_owned(), |id| id.as_str().to_owned());
    let mut letter = DeadLetter::new(id, reason, attempt(properties), &delivery.data);
    for (field, name) in [
        (&mut letter.client_key, headers::CLIENT_KEY),
        (&mut letter.product, headers::PRODUCT),
        (&mut letter.event, headers::EVENT),
    ] {
        if let Some(value) = header(name) {
            *field = Some(value);
        }
    }
    letter
}

fn has_header(properties: &BasicProperties, name: &str) -> bool {
    properties
        .headers()
        .as_ref()
        .is_some_and(|h| h.inner().contains_key(name))
}

fn header_string(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(value) => Some(String::from_utf8_lossy(value.as_bytes()).into()),
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

fn attempt(properties: &BasicProperties) -> Option<u32> {
    match properties
        .headers()
        .as_ref()?
        .inner()
        .get(headers::ATTEMPT)?
    {
        AMQPValue::LongUInt(n) => Some(*n),
        AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::ShortInt(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use lapin::types::LongString;

    use super::*;

    #[test]
    fn a_replayed_copy_is_a_persistent_first_attempt_without_dead_letter_headers() {
        let mut table = FieldTable::default();
        let string = |s: &str| AMQPValue::LongString(LongString::from(s));
        table.insert("client_key".into(), string("ck"));
        table.insert(headers::ATTEMPT.into(), AMQPValue::LongUInt(6));
        table.insert(headers::DEAD_REASON.into(), string("HTTP 404"));
        table.insert("x-death".into(), AMQPValue::FieldArray(Default::default()));
        table.insert("x-last-death-queue".into(), string("t.work"));
        table.insert("x-delivery-count".into(), AMQPValue::LongLongInt(3));
        let original = BasicProperties::default()
            .with_message_id("wh-1".into())
            .with_headers(table);
        let copy = first_attempt(&original);
        assert_eq!(attempt(&copy), Some(1));
        assert_eq!(header_string(&copy, "client_key").as_deref(), Some("ck"));
        for gone in [
            headers::DEAD_REASON,
            "x-death",
            "x-last-death-queue",
            "x-delivery-count",
        ] {
            assert!(!has_header(&copy, gone), "{gone}");
        }
        assert_eq!(copy.delivery_mode(), &Some(2));
        assert_eq!(copy.message_id().as_ref().map(|m| m.as_str()), Some("wh-1"));
    }
}

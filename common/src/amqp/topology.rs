//! Exchange and queue names under a prefix, and declaring them idempotently.
//!
//! ```text
//! ingress ─▶ {p}.events (topic) ──#──▶ {p}.work (quorum) ─▶ workers
//!    │             ▲                        │ delivery limit exceeded
//!    │             │                        ▼
//!    │  {p}.retry.{n}s (quorum, TTL,        {p}.dead (quorum)  ◀── permanent failures
//!    │    dead-letters back at least once)  ▲
//!    └─ above a tenant's share ─▶ {p}.work.overflow.{0..3} (quorum) ─▶ workers
//! ```
//!
//! The overflow lanes ([`crate::queue::lane`]) are published to through the default exchange.
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use crate::queue::lane::Lane;

/// Header names carried by every event message.
pub mod headers {
    /// The tenant's clientKey.
    pub const CLIENT_KEY: &str = "client_key";
    /// `jira` or `confluence`.
    pub const PRODUCT: &str = "product";
    /// The event name.
    pub const EVENT: &str = "event";
    /// hookline's processing attempt (1 for the first), set when an event is retried.
    pub const ATTEMPT: &str = "x-hookline-attempt";
    /// Why an event was dead-lettered.
    pub const DEAD_REASON: &str = "x-hookline-dead-reason";
}

/// Redeliveries (crashes mid-event) before the broker itself dead-letters a poison message.
const WORK_DELIVERY_LIMIT: i64 = 20;

/// The names of hookline's exchanges and queues under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    retry_delays_secs: Vec<u64>,
}

impl Topology {
    /// The topology for `prefix` with one retry queue per delay.
    pub fn new(prefix: &str, retry_delays_secs: &[u64]) -> Self {
        Self {
            prefix: prefix.to_owned(),
            retry_delays_secs: retry_delays_secs.to_vec(),
        }
    }

    /// The topic exchange webhooks are published to (routing key `{product}.{event}`).
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    /// The quorum queue workers consume.
    pub fn work_queue(&self) -> String {
        format!("{}.work", self.prefix)
    }

    /// The queue of one lane: the work queue, or an overflow lane.
    pub fn lane_queue(&self, lane: Lane) -> String {
        match lane {
            Lane::Main => self.work_queue(),
            Lane::Overflow(n) => format!("{}.work.overflow.{n}", self.prefix),
        }
    }

    /// The dead-letter queue.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    /// The retry delays, seconds, in order.
    pub fn retry_delays_secs(&self) -> &[u64] {
        &self.retry_delays_secs
    }

    /// The retry queue for the `index`-th retry (clamped to the longest delay).
    pub fn retry_queue(&self, index: usize) -> String {
        let last = self.retry_delays_secs.len().saturating_sub(1);
        let delay = self
            .retry_delays_secs
            .get(index.min(last))
            .copied()
            .unwrap_or(0);
        format!("{}.retry.{delay}s", self.prefix)
    }

    /// Declares every exchange and queue; safe to run from any number of processes at once.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                &self.events_exchange(),
                ExchangeKind::Topic,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        let dead = table(&[("x-queue-type", string("quorum"))]);
        declare_queue(channel, &self.dead_letter_queue(), dead).await?;
        // Dead-lettering is at-most-once unless the source is a quorum queue with the
        // at-least-once strategy (which needs `reject-publish` overflow; no length limit is
        // set, so nothing is ever rejected for it). The chaos test lost events in classic TTL
        // retry queues dead-lettering back while RabbitMQ restarted.
        let work = table(&[
            ("x-queue-type", string("quorum")),
            (
                "x-delivery-limit",
                AMQPValue::LongLongInt(WORK_DELIVERY_LIMIT),
            ),
            ("x-dead-letter-strategy", string("at-least-once")),
            ("x-overflow", string("reject-publish")),
            ("x-dead-letter-exchange", string("")),
            (
                "x-dead-letter-routing-key",
                string(&self.dead_letter_queue()),
            ),
        ]);
        for lane in Lane::all() {
            declare_queue(channel, &self.lane_queue(lane), work.clone()).await?;
        }
        channel
            .queue_bind(
                &self.work_queue(),
                &self.events_exchange(),
                "#",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for (index, delay) in self.retry_delays_secs.iter().enumerate() {
            let ttl_ms = i64::try_from(delay.saturating_mul(1000)).unwrap_or(i64::MAX);
            let retry = table(&[
                ("x-queue-type", string("quorum")),
                ("x-message-ttl", AMQPValue::LongLongInt(ttl_ms)),
                ("x-dead-letter-strategy", string("at-least-once")),
                ("x-overflow", string("reject-publish")),
                ("x-dead-letter-exchange", string("")),
                ("x-dead-letter-routing-key", string(&self.work_queue())),
            ]);
            declare_queue(channel, &self.retry_queue(index), retry).await?;
        }
        Ok(())
    }

    /// Deletes every exchange and queue of this prefix (tests clean up with it).
    pub async fn delete(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let mut queues: Vec<String> = Lane::all().map(|lane| self.lane_queue(lane)).collect();
        queues.push(self.dead_letter_queue());
        queues.extend((0..self.retry_delays_secs.len()).map(|i| self.retry_queue(i)));
        for queue in queues {
            channel
                .queue_delete(&queue, QueueDeleteOptions::default())
                .await?;
        }
        channel
            .exchange_delete(&self.events_exchange(), ExchangeDeleteOptions::default())
            .await
    }
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    arguments: FieldTable,
) -> Result<(), lapin::Error> {
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name, options, arguments)
        .await
        .map(drop)
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        table.insert(ShortString::from(*key), value.clone());
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_and_retries_clamp_to_the_longest_delay() {
        let topology = Topology::new("t1", &[5, 30]);
        assert_eq!(topology.events_exchange(), "t1.events");
        assert_eq!(topology.work_queue(), "t1.work");
        assert_eq!(topology.lane_queue(Lane::Main), "t1.work");
        assert_eq!(topology.lane_queue(Lane::Overflow(3)), "t1.work.overflow.3");
        assert_eq!(topology.dead_letter_queue(), "t1.dead");
        assert_eq!(topology.retry_queue(0), "t1.retry.5s");
        assert_eq!(topology.retry_queue(7), "t1.retry.30s");
    }
}

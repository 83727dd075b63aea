//! The ceiling: the broker's own confirmed-publish rate, with nothing in front of it.
//!
//! A minimal lapin publisher does what the ingress's publisher does per webhook (a persistent,
//! mandatory publish of the same message with the same properties to the same topic exchange
//! and quorum queue, on one confirm channel) with `in_flight` confirms awaited at once:
//! back to back for the rate, or at a fixed rate for the broker's own confirm latency at the
//! load the ingress was given.
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use common::amqp::{headers, Topology};
use hdrhistogram::Histogram;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cli::CeilingArgs;
use crate::cpu::{CpuTimes, CpuUse};
use crate::fixture;
use crate::load::Pace;
use crate::report::{pace, percentiles, thousands};

const ROUTING_KEY: &str = "jira.jira:issue_created";
const CLIENT_KEY: &str = "tenant-0";

/// What the ceiling run measured.
#[derive(Debug, Clone)]
pub struct CeilingResult {
    /// The run's parameters.
    pub args: CeilingArgs,
    /// Back to back, or at a fixed rate.
    pub pace: Pace,
    /// Size of each message.
    pub message_bytes: usize,
    /// Messages confirmed (acked, routed).
    pub confirmed: u64,
    /// Messages nacked, returned or failed.
    pub failed: u64,
    /// Time from the first publish to the last confirm.
    pub elapsed: Duration,
    /// Publish-to-confirm latency, microseconds.
    pub confirm_us: Histogram<u64>,
    /// Who used the CPU meanwhile.
    pub cpu: CpuUse,
    /// Messages the work queue held afterwards.
    pub queued: u32,
}

impl CeilingResult {
    /// Confirmed messages per second.
    pub fn per_sec(&self) -> f64 {
        self.confirmed as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Declares a fresh topology, publishes the warm-up then the measured messages, and deletes
/// the topology again.
pub async fn run(args: &CeilingArgs, pace: Pace) -> anyhow::Result<CeilingResult> {
    anyhow::ensure!(args.in_flight > 0, "--in-flight must be at least 1");
    pace.validate()?;
    let message = match args.body_bytes {
        Some(len) => fixture::body_of_len(len),
        None => fixture::envelope_message(CLIENT_KEY),
    };
    let topology = crate::broker::fresh_topology();
    let connection = crate::broker::connect("hookline-bench-ceiling").await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    topology
        .declare(&channel)
        .await
        .context("declaring the ceiling's topology")?;
    let publisher = Publisher {
        channel: &channel,
        topology: &topology,
        message: &message,
        in_flight: args.in_flight,
    };
    let measured = async {
        publisher
            .publish(args.warmup_messages, Pace::Closed)
            .await?;
        let cpu_before = CpuTimes::now();
        let started = Instant::now();
        let tally = publisher.publish(args.messages, pace).await?;
        let elapsed = started.elapsed();
        anyhow::Ok((tally, elapsed, CpuTimes::now().since(&cpu_before, elapsed)))
    }
    .await;
    let _ = connection.close(200, "done").await;
    let queued = crate::broker::count_and_delete(&topology).await?;
    let (tally, elapsed, cpu) = measured?;
    Ok(CeilingResult {
        args: args.clone(),
        pace,
        message_bytes: message.len(),
        confirmed: tally.confirmed,
        failed: tally.failed,
        elapsed,
        confirm_us: tally.confirm_us,
        cpu,
        queued,
    })
}

/// The report of a ceiling run.
pub fn report(result: &CeilingResult) -> String {
    let args = &result.args;
    let mut out = match result.pace {
        Pace::Closed => String::from("## Broker ceiling: confirmed publishes on one channel\n"),
        Pace::Open { .. } => format!(
            "## Broker alone, {}: confirmed publishes on one channel\n",
            pace(result.pace, "msgs/s")
        ),
    };
    let _ = writeln!(
        out,
        "messages   {} x {} B, {} confirms in flight (after {} warm-up)",
        result.confirmed + result.failed,
        result.message_bytes,
        args.in_flight,
        args.warmup_messages
    );
    let _ = writeln!(
        out,
        "rate       {} msgs/s confirmed ({:.2} s)",
        thousands(result.per_sec()),
        result.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "confirm    {}", percentiles(&result.confirm_us));
    let _ = writeln!(out, "failed     {}", result.failed);
    let _ = writeln!(
        out,
        "queued     {} (warm-up included), then deleted",
        result.queued
    );
    let _ = write!(out, "cpu        {}", result.cpu);
    out
}

struct Publisher<'a> {
    channel: &'a Channel,
    topology: &'a Topology,
    message: &'a [u8],
    in_flight: usize,
}

struct Tally {
    confirmed: u64,
    failed: u64,
    confirm_us: Histogram<u64>,
}

type Confirmed = (lapin::Result<Confirmation>, Duration);

impl Publisher<'_> {
    /// Publishes `count` messages at `pace`, with at most `in_flight` unconfirmed. Each
    /// confirm is awaited by its own task, so its latency is taken when it arrives even while
    /// the open loop sleeps until the next message is due.
    async fn publish(&self, count: usize, pace: Pace) -> anyhow::Result<Tally> {
        let mut tally = Tally {
            confirmed: 0,
            failed: 0,
            confirm_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        };
        let permits = Arc::new(Semaphore::new(self.in_flight));
        let mut confirms: JoinSet<Confirmed> = JoinSet::new();
        let exchange = self.topology.events_exchange();
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let start = Instant::now();
        for index in 0..count {
            // Open loop: latency runs from when the message was due, waiting for a free
            // confirm slot included; closed loop: from the publish.
            let (permit, began) = match pace {
                Pace::Closed => (permits.clone().acquire_owned().await?, Instant::now()),
                Pace::Open { rate } => {
                    let due = start + Duration::from_secs_f64(index as f64 / rate);
                    tokio::time::sleep_until(due).await;
                    (permits.clone().acquire_owned().await?, due)
                }
            };
            let confirm = self
                .channel
                .basic_publish(
                    &exchange,
                    ROUTING_KEY,
                    options,
                    self.message,
                    properties(index),
                )
                .await
                .context("publishing to the broker")?;
            confirms.spawn(async move {
                let confirmation = confirm.await;
                drop(permit);
                (confirmation, began.elapsed())
            });
            while let Some(done) = confirms.try_join_next() {
                tally.record(done?);
            }
        }
        while let Some(done) = confirms.join_next().await {
            tally.record(done?);
        }
        Ok(tally)
    }
}

impl Tally {
    fn record(&mut self, (confirmation, took): Confirmed) {
        match confirmation {
            Ok(Confirmation::Ack(None)) => self.confirmed += 1,
            _ => self.failed += 1,
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.confirm_us.saturating_record(micros.max(1));
    }
}

/// The properties the ingress sets on an event.
fn properties(index: usize) -> BasicProperties {
    let mut table = FieldTable::default();
    for (name, value) in [
        (headers::CLIENT_KEY, CLIENT_KEY),
        (headers::PRODUCT, "jira"),
        (headers::EVENT, fixture::EVENT),
    ] {
        table.insert(
            ShortString::from(name),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_message_id(ShortString::from(format!("ceiling-{index}")))
        .with_app_id(ShortString::from("hookline"))
        .with_timestamp(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default())
        .with_headers(table)
}

//! The load generator: `concurrency` HTTP/1.1 connections, each with one request at a time,
//! sending pre-signed webhooks either back to back (closed loop: the saturation rate) or on a
//! fixed schedule (open loop: latency at a given offered load).
//!
//! In the open loop, latency runs from when a request was *due*, not when it was sent, so a
//! stalled server is charged for the requests queued behind it (no coordinated omission).
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::signed::SignedWebhook;

const WEBHOOK_ID: &str = "x-atlassian-webhook-identifier";
const SYSTEM_TOKEN: &str = "x-forge-oauth-system";
/// Latencies are recorded in microseconds, up to a minute, to three significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;

/// When requests go out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each connection sends its next request as soon as the previous one is answered.
    Closed,
    /// Request `i` is due at `i / rate` seconds after the start.
    Open {
        /// Offered load, requests per second.
        rate: f64,
    },
}

impl Pace {
    /// Refuses a rate that is not a positive number.
    pub fn validate(self) -> anyhow::Result<()> {
        match self {
            Self::Open { rate } if !(rate > 0.0 && rate.is_finite()) => {
                anyhow::bail!("--rate must be a positive number of requests per second")
            }
            _ => Ok(()),
        }
    }
}

/// One load run.
pub struct LoadPlan {
    /// The ingress.
    pub address: SocketAddr,
    /// The webhook route.
    pub path: &'static str,
    /// The body every request carries.
    pub body: Bytes,
    /// The requests, sent in order.
    pub webhooks: Arc<Vec<SignedWebhook>>,
    /// Connections.
    pub concurrency: usize,
    /// Closed or open loop.
    pub pace: Pace,
}

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The ingress answered with this status.
    Status(u16),
    /// No connection could be opened.
    ConnectFailed,
    /// The connection broke before a whole response was read.
    Broken,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "{status}"),
            Self::ConnectFailed => f.write_str("connect failed"),
            Self::Broken => f.write_str("connection broken"),
        }
    }
}

/// Latencies and outcomes of a run.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// From the first request due to the last response.
    pub elapsed: Duration,
    /// Latency of every request, microseconds.
    pub latency_us: Histogram<u64>,
    /// Requests by outcome.
    pub outcomes: BTreeMap<Outcome, u64>,
}

impl LoadResult {
    fn empty() -> Self {
        Self {
            elapsed: Duration::ZERO,
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("valid histogram bounds"),
            outcomes: BTreeMap::new(),
        }
    }

    fn merge(&mut self, other: &Self) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        for (outcome, count) in &other.outcomes {
            *self.outcomes.entry(*outcome).or_insert(0) += count;
        }
    }

    /// Requests the ingress accepted (202).
    pub fn accepted(&self) -> u64 {
        self.outcomes
            .get(&Outcome::Status(202))
            .copied()
            .unwrap_or(0)
    }

    /// Accepted requests per second.
    pub fn accepted_per_sec(&self) -> f64 {
        per_sec(self.accepted(), self.elapsed)
    }

    /// Every request (whatever its outcome) per second.
    pub fn sent_per_sec(&self) -> f64 {
        per_sec(self.outcomes.values().sum(), self.elapsed)
    }
}

/// `count` per second over `elapsed` (0 when no time passed).
pub(crate) fn per_sec(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

struct Shared {
    plan: LoadPlan,
    next: AtomicUsize,
    start: Instant,
}

/// Sends every request of `plan` and returns latencies and outcomes.
pub async fn run(plan: LoadPlan) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(plan.concurrency > 0, "--concurrency must be at least 1");
    plan.pace.validate()?;
    let concurrency = plan.concurrency;
    let shared = Arc::new(Shared {
        plan,
        next: AtomicUsize::new(0),
        start: Instant::now(),
    });
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        workers.spawn(connection_loop(shared.clone()));
    }
    let mut result = LoadResult::empty();
    while let Some(tally) = workers.join_next().await {
        result.merge(&tally?);
    }
    result.elapsed = shared.start.elapsed();
    Ok(result)
}

async fn connection_loop(shared: Arc<Shared>) -> LoadResult {
    let mut tally = LoadResult::empty();
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(webhook) = shared.plan.webhooks.get(index) else {
            return tally;
        };
        let began = match shared.plan.pace {
            Pace::Closed => Instant::now(),
            Pace::Open { rate } => {
                let due = shared.start + Duration::from_secs_f64(index as f64 / rate);
                tokio::time::sleep_until(due).await;
                due
            }
        };
        let outcome = send(&mut connection, &shared.plan, webhook).await;
        let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        tally.latency_us.saturating_record(micros.max(1));
        *tally.outcomes.entry(outcome).or_insert(0) += 1;
    }
}

/// Sends one webhook on the connection, opening it first if needed; a broken connection is
/// dropped so the next request opens a new one.
async fn send(
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    plan: &LoadPlan,
    webhook: &SignedWebhook,
) -> Outcome {
    if connection.is_none() {
        match connect(plan.address).await {
            Ok(sender) => *connection = Some(sender),
            Err(error) => {
                tracing::debug!(%error, "connect failed");
                return Outcome::ConnectFailed;
            }
        }
    }
    let Some(sender) = connection.as_mut() else {
        return Outcome::ConnectFailed;
    };
    let mut request = Request::post(plan.path)
        .header(HOST, "127.0.0.1")
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, webhook.authorization.clone())
        .header(WEBHOOK_ID, webhook.webhook_id.clone());
    if let Some(token) = &webhook.system_token {
        request = request.header(SYSTEM_TOKEN, token.clone());
    }
    let request = request
        .body(Full::new(plan.body.clone()))
        .expect("a request built from valid parts");
    let answered = async {
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        Ok::<_, hyper::Error>(status)
    };
    match answered.await {
        Ok(status) => Outcome::Status(status),
        Err(error) => {
            tracing::debug!(%error, "connection broken");
            *connection = None;
            Outcome::Broken
        }
    }
}

async fn connect(address: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection closed");
        }
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_rates_are_accepted() {
        assert!(Pace::Closed.validate().is_ok());
        assert!(Pace::Open { rate: 10.0 }.validate().is_ok());
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Pace::Open { rate }.validate().is_err(), "{rate}");
        }
    }

    #[test]
    fn outcomes_are_named_for_the_report() {
        assert_eq!(Outcome::Status(503).to_string(), "503");
        assert_eq!(Outcome::ConnectFailed.to_string(), "connect failed");
    }

    #[test]
    fn rates_count_only_accepted_requests_unless_asked_for_all() {
        let mut result = LoadResult::empty();
        result.elapsed = Duration::from_secs(2);
        result.outcomes.insert(Outcome::Status(202), 100);
        result.outcomes.insert(Outcome::Status(503), 20);
        assert_eq!(result.accepted_per_sec(), 50.0);
        assert_eq!(result.sent_per_sec(), 60.0);
    }

    #[test]
    fn merging_adds_latencies_and_outcomes() {
        let mut a = LoadResult::empty();
        let mut b = LoadResult::empty();
        a.latency_us.record(1_000).unwrap();
        b.latency_us.record(3_000).unwrap();
        b.outcomes.insert(Outcome::Broken, 1);
        a.merge(&b);
        assert_eq!(a.latency_us.len(), 2);
        assert_eq!(a.outcomes[&Outcome::Broken], 1);
    }
}

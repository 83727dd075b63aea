//! A steady stream of `jira:issue_created` events from several sites: signed webhooks from
//! Connect sites, each sent as Jira sends it (re-tried on 5xx, 429 and connection errors), and
//! Forge events from Forge sites, each sent as Forge sends it (a fresh token per attempt,
//! re-tried on any non-2xx), and from a Connect app on Forge mid-migration, each event both
//! ways at once (its webhook and its Forge event, their timestamps apart); every outcome
//! recorded.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use simulator::{
    payloads, ConnectSim, ForgeSendOptions, ForgeSim, ForgeSite, SendOptions, SimTenant,
};
use std::time::Instant;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Jira's retries in the chaos run: up to 9 attempts, 250 ms doubling (about 64 s in all),
/// enough to ride out every outage the test causes. Real Jira retries for longer.
const ATTEMPTS: u32 = 9;
const BACKOFF: Duration = Duration::from_millis(250);
/// Forge's retries in the chaos run: 8 retries, 8 s apart (64 s in all, as Jira's above).
/// Real Forge retries 4 times, 60 s apart.
const FORGE_RETRIES: u32 = 8;
const FORGE_RETRY_DELAY: Duration = Duration::from_secs(8);

/// A site the stream sends from.
#[derive(Clone)]
pub enum Site {
    /// A Connect site: signed webhooks through the Connect simulator.
    Connect(ConnectSim, SimTenant),
    /// A Connect site whose webhooks alternate between several ingresses, as a load balancer
    /// in front of them would send them: one simulator per ingress, each delivery (with its
    /// retries) through the next.
    Balanced(Vec<ConnectSim>, SimTenant),
    /// A Forge installation: events through the simulator's Forge.
    Forge(ForgeSim, ForgeSite),
    /// One site known both ways (a Connect app on Forge): every event is sent as a webhook
    /// and as a Forge event.
    BothWays(ConnectSim, SimTenant, ForgeSim, ForgeSite),
}

impl Site {
    /// The key the product simulator records its effects under.
    pub fn key(&self) -> &str {
        match self {
            Self::Connect(_, tenant)
            | Self::Balanced(_, tenant)
            | Self::BothWays(_, tenant, _, _) => &tenant.client_key,
            Self::Forge(_, site) => &site.site_key,
        }
    }

    /// The keys the product simulator may record the site's effects under, each with the
    /// site's [`Site::key`]: a site known both ways is called through its baseUrl or its
    /// apiBaseUrl, whichever hookline chooses.
    pub fn effect_keys(&self) -> Vec<(String, String)> {
        let own = (self.key().to_owned(), self.key().to_owned());
        match self {
            Self::BothWays(_, _, _, site) => {
                vec![own, (self.key().to_owned(), site.site_key.clone())]
            }
            _ => vec![own],
        }
    }
}

/// One delivery and what became of it.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The site (its key in the product simulator).
    pub client_key: String,
    /// The issue it is about (one issue per delivery), e.g. `KAN-17`.
    pub issue_key: String,
    /// When its first attempt was made.
    pub at: Instant,
    /// Each attempt's status (0: no answer).
    pub attempts: Vec<u16>,
    /// How many deliveries the event was sent as: 2 for a site sending it both ways (its
    /// `attempts` are then both deliveries' attempts), else 1.
    pub deliveries: usize,
    /// Whether it was answered 2xx in the end.
    pub accepted: bool,
}

/// The running stream; [`Stream::stop`] waits for every delivery to finish.
pub struct Stream {
    stop: CancellationToken,
    senders: JoinSet<()>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Stream {
    /// Starts sending `per_second` events a second for each of `sites`.
    pub fn start(sites: &[Site], per_second: u32) -> Self {
        let stop = CancellationToken::new();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut senders = JoinSet::new();
        for site in sites {
            let (site, stop, sent) = (site.clone(), stop.clone(), sent.clone());
            senders.spawn(async move {
                let mut deliveries = JoinSet::new();
                let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
                for number in 1.. {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    let (site, sent) = (site.clone(), sent.clone());
                    deliveries.spawn(async move {
                        let record = deliver(&site, number).await;
                        sent.lock().expect("the record lock").push(record);
                    });
                }
                while deliveries.join_next().await.is_some() {}
            });
        }
        Self {
            stop,
            senders,
            sent,
        }
    }

    /// The deliveries finished so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().expect("the record lock").clone()
    }

    /// Stops starting deliveries and waits until every started one has its final answer.
    pub async fn stop(mut self) -> Vec<Sent> {
        self.stop.cancel();
        while let Some(result) = self.senders.join_next().await {
            if let Err(error) = result {
                panic!("a sender failed: {error}");
            }
        }
        self.sent()
    }
}

/// Sends a webhook as Jira does (re-tried on 5xx, 429 and connection errors).
async fn webhook(
    connect: &ConnectSim,
    tenant: &SimTenant,
    issue_key: &str,
    payload: serde_json::Value,
) -> (bool, Vec<u16>) {
    let options = SendOptions {
        max_attempts: Some(ATTEMPTS),
        backoff: Some(BACKOFF),
        ..SendOptions::default()
    };
    let report = connect
        .send_webhook(tenant, "jira:issue_created", &payload, options)
        .await
        .unwrap_or_else(|e| panic!("sending {issue_key} for {}: {e:#}", tenant.client_key));
    (report.accepted, report.attempts)
}

/// Sends a Forge event as Forge does (a fresh token per attempt, re-tried on any non-2xx).
async fn forge_event(
    forge: &ForgeSim,
    site: &ForgeSite,
    issue_key: &str,
    payload: serde_json::Value,
) -> (bool, Vec<u16>) {
    let options = ForgeSendOptions {
        max_retries: FORGE_RETRIES,
        retry_delay: FORGE_RETRY_DELAY,
        ..ForgeSendOptions::default()
    };
    let delivery = forge
        .send_event(site, payload, options)
        .await
        .unwrap_or_else(|e| panic!("sending {issue_key} for {}: {e:#}", site.site_key));
    (delivery.accepted, delivery.attempts)
}

/// Sends delivery `number` of `site` about issue `KAN-{number}`.
async fn deliver(site: &Site, number: u64) -> Sent {
    let issue_key = format!("KAN-{number}");
    let at = Instant::now();
    let deliveries = if matches!(site, Site::BothWays(..)) {
        2
    } else {
        1
    };
    let (accepted, attempts) = match site {
        Site::Connect(connect, tenant) => {
            let payload = payloads::jira_issue_created(&issue_key, "chaos", "KAN");
            webhook(connect, tenant, &issue_key, payload).await
        }
        Site::Balanced(connects, tenant) => {
            let payload = payloads::jira_issue_created(&issue_key, "chaos", "KAN");
            let connect = &connects[usize::try_from(number).unwrap_or_default() % connects.len()];
            webhook(connect, tenant, &issue_key, payload).await
        }
        Site::Forge(forge, forge_site) => {
            let payload =
                simulator::forge::payloads::jira_issue_created(&issue_key, "chaos", "KAN");
            forge_event(forge, forge_site, &issue_key, payload).await
        }
        Site::BothWays(connect, tenant, forge, forge_site) => {
            // The Forge delivery's timestamp from 1 s before to 1.8 s after the webhook's.
            let skew_ms = i64::try_from(number % 5).unwrap_or_default() * 700 - 1_000;
            let both = simulator::both_ways::jira_issue_created(&issue_key, "chaos", skew_ms);
            let ((connect_ok, mut attempts), (forge_ok, forge_attempts)) = tokio::join!(
                webhook(connect, tenant, &issue_key, both.connect),
                forge_event(forge, forge_site, &issue_key, both.forge),
            );
            attempts.extend(forge_attempts);
            // Either answer 2xx promises the event's one effect.
            (connect_ok || forge_ok, attempts)
        }
    };
    Sent {
        client_key: site.key().to_owned(),
        issue_key,
        at,
        accepted,
        attempts,
        deliveries,
    }
}

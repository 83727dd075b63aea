//! A steady stream of signed `jira:issue_created` webhooks from several sites, each delivery
//! sent as Jira sends it (re-tried on 5xx, 429 and connection errors), every outcome recorded.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use simulator::{payloads, ConnectSim, SendOptions, SimTenant};
use std::time::Instant;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Jira's retries in the chaos run: up to 9 attempts, 250 ms doubling (about 64 s in all),
/// enough to ride out every outage the test causes. Real Jira retries for longer.
const ATTEMPTS: u32 = 9;
const BACKOFF: Duration = Duration::from_millis(250);

/// One delivery and what became of it.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The site.
    pub client_key: String,
    /// The issue it is about (one issue per delivery), e.g. `KAN-17`.
    pub issue_key: String,
    /// When its first attempt was made.
    pub at: Instant,
    /// Each attempt's status (0: no answer).
    pub attempts: Vec<u16>,
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
    /// Starts sending `per_second` webhooks a second for each of `sites`.
    pub fn start(connect: &ConnectSim, sites: &[SimTenant], per_second: u32) -> Self {
        let stop = CancellationToken::new();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut senders = JoinSet::new();
        for site in sites {
            let (connect, site, stop, sent) =
                (connect.clone(), site.clone(), stop.clone(), sent.clone());
            senders.spawn(async move {
                let mut deliveries = JoinSet::new();
                let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
                for number in 1.. {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    let (connect, site, sent) = (connect.clone(), site.clone(), sent.clone());
                    deliveries.spawn(async move {
                        let record = deliver(&connect, &site, number).await;
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

/// Sends delivery `number` of `site` about issue `KAN-{number}`.
async fn deliver(connect: &ConnectSim, site: &SimTenant, number: u64) -> Sent {
    let issue_key = format!("KAN-{number}");
    let payload = payloads::jira_issue_created(&issue_key, "chaos", "KAN");
    let options = SendOptions {
        max_attempts: Some(ATTEMPTS),
        backoff: Some(BACKOFF),
        ..SendOptions::default()
    };
    let at = Instant::now();
    let report = connect
        .send_webhook(site, "jira:issue_created", &payload, options)
        .await
        .unwrap_or_else(|e| panic!("sending {issue_key} for {}: {e:#}", site.client_key));
    Sent {
        client_key: site.client_key.clone(),
        issue_key,
        at,
        accepted: report.accepted,
        attempts: report.attempts,
    }
}

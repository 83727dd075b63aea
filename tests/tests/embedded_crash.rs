//! The embedded pipeline (`hookline up`: SQLite and the local queue) SIGKILLed twice while
//! signed webhooks stream in with Jira's retries, and started again on the same data
//! directory each time. Every delivery answered 2xx must have exactly one comment, and those
//! the killed process held must be done within seconds of the restart: the restarted process
//! takes back the leases of the dead one at once instead of waiting for them to expire (two
//! minutes for the ledger's).
//!
//! It runs the `hookline` binary that `cargo test --workspace` builds (scripts/test); run
//! alone, build it first: `cargo build -p hookline`.
use std::time::{Duration, Instant};

use common::tenant::ProductType;
use simulator::ProductSim;
use tests::chaos::stream::{Site, Stream};
use tests::chaos::summary::Effects;
use tests::embedded::EmbeddedProcess;

/// Webhooks per second from each site.
const PER_SITE_PER_SECOND: u32 = 8;
/// How long Jira takes to answer: with it, the process holds events when it is killed.
const JIRA_LATENCY: Duration = Duration::from_millis(300);
/// How long the stream flows before each kill, and after the last restart.
const BETWEEN: Duration = Duration::from_secs(3);
/// How long after the last restart every accepted delivery must have its comment (the
/// expired-lease path took over two minutes).
const AFTER_RESTART: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkills_every_accepted_event_is_done_once_within_seconds_of_the_restart() {
    let product = ProductSim::start().await;
    let mut embedded = EmbeddedProcess::new(&product, "embedded-crash-logs").await;
    let connect = embedded.connect.clone();
    let mut process = embedded.start().await;
    connect
        .fetch_descriptor(ProductType::Jira)
        .await
        .expect("the descriptor");
    let mut sites = Vec::new();
    for name in ["site-a", "site-b", "site-c"] {
        let tenant = embedded.site_with_echo_rule(name).await;
        sites.push(Site::Connect(connect.clone(), tenant));
    }
    product.set_latency(JIRA_LATENCY);
    let stream = Stream::start(&sites, PER_SITE_PER_SECOND);

    for _ in 0..2 {
        tokio::time::sleep(BETWEEN).await;
        process.kill().await.expect("SIGKILL");
        process = embedded.start().await;
    }
    let restarted = Instant::now();
    tokio::time::sleep(BETWEEN).await;
    let sent = stream.stop().await;

    let names: Vec<(String, String)> = sites.iter().flat_map(Site::effect_keys).collect();
    let deadline = restarted + AFTER_RESTART;
    let mut summary = Effects::read(&product, &names).summarise(&sent);
    while summary.lost > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        summary = Effects::read(&product, &names).summarise(&sent);
    }
    // Give a duplicate the chance to show.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let summary = Effects::read(&product, &names).summarise(&sent);
    println!("embedded crash: {summary}");

    assert!(summary.accepted > 0 && summary.unanswered_attempts > 0);
    assert_eq!(
        summary.lost,
        0,
        "accepted deliveries without a comment {AFTER_RESTART:?} after the restart; {}",
        process.tail()
    );
    assert_eq!(summary.duplicates, 0, "{}", process.tail());
    let took_back = (2..=3).any(|run| {
        let log = embedded.logs().join(format!("hookline-up-{run}.log"));
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("took back the leases of an earlier run")
    });
    assert!(
        took_back,
        "no restart found events held by the killed process; the test proved nothing"
    );

    assert!(process.is_running(), "{}", process.tail());
    process.kill().await.expect("stops");
}

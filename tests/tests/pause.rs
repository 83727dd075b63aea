//! Pausing a tenant on the embedded pipeline (`hookline up`), with the `hookline tenants
//! pause|resume` commands: while it is paused its signed webhooks are still answered 2xx and
//! nothing is done about them; they are held, and stay held when the process is SIGKILLed
//! and started again; once it is resumed every one of them has its effect, exactly once.
//!
//! The crash scenario runs the `hookline` binary that `cargo test --workspace` builds
//! (scripts/test); run alone, build it first: `cargo build -p hookline`. The other runs the
//! pipeline in the test's own process, in both modes (RabbitMQ and PostgreSQL, where the held
//! events go back through the ingress's confirmed publisher; and the embedded one).

use std::time::{Duration, Instant};

use common::held::HeldEvents;
use common::tenant::{ClientKey, ProductType};
use simulator::{payloads, ConnectSim, ProductSim, SendOptions, SimTenant};
use tests::chaos::processes::Service;
use tests::embedded::EmbeddedProcess;
use tests::{in_both_modes, E2e, Mode, Patience};

in_both_modes!(a_paused_tenants_webhooks_are_accepted_held_and_released_on_resume);

/// Webhooks sent before the kill, and after the restart.
const BEFORE_KILL: usize = 12;
const AFTER_RESTART: usize = 8;
/// How long a paused tenant's events are watched for an effect that must not come.
const QUIET: Duration = Duration::from_secs(3);
/// How long resumed events may take to have their effects.
const DRAIN: Duration = Duration::from_secs(30);

/// How many of `client_key`'s events are held.
async fn held_count(embedded: &EmbeddedProcess, client_key: &str) -> u64 {
    let db = common::db::connect(&embedded.database_url())
        .await
        .expect("the SQLite file opens");
    let held = HeldEvents::new(db.clone())
        .count(&ClientKey::parse(client_key).expect("a key"))
        .await
        .expect("the held events are counted");
    db.close().await.expect("closes");
    held
}

/// Waits until `client_key` has `expected` held events.
async fn wait_held(embedded: &EmbeddedProcess, client_key: &str, expected: u64, process: &Service) {
    let deadline = Instant::now() + DRAIN;
    let mut held = held_count(embedded, client_key).await;
    while held != expected {
        assert!(
            Instant::now() < deadline,
            "{client_key} has {held} held events, not {expected}; {}",
            process.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        held = held_count(embedded, client_key).await;
    }
}

/// Sends one signed `jira:issue_created` about `issue_key`, which must be accepted at once.
async fn send(connect: &ConnectSim, tenant: &SimTenant, issue_key: &str) {
    let payload = payloads::jira_issue_created(issue_key, "paused", "KAN");
    let report = connect
        .send_webhook(
            tenant,
            "jira:issue_created",
            &payload,
            SendOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("sending {issue_key}: {e:#}"));
    assert_eq!(
        report.attempts,
        [202],
        "a paused tenant's webhook about {issue_key} is accepted"
    );
}

/// How many comments each of `issues` has on `site`.
fn comments_per_issue(product: &ProductSim, site: &str, issues: &[String]) -> Vec<usize> {
    let comments = product.comments(site);
    issues
        .iter()
        .map(|issue| {
            let text = format!("Seen {issue}");
            comments
                .iter()
                .filter(|c| c.body["body"].as_str() == Some(text.as_str()))
                .count()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_tenants_events_are_held_across_a_crash_and_each_acts_once_after_resume() {
    let product = ProductSim::start().await;
    let mut embedded = EmbeddedProcess::new(&product, "pause-logs").await;
    let connect = embedded.connect.clone();
    let mut process = embedded.start().await;
    connect
        .fetch_descriptor(ProductType::Jira)
        .await
        .expect("the descriptor");
    let paused = embedded.site_with_echo_rule("site-paused").await;
    let running = embedded.site_with_echo_rule("site-running").await;

    let out = embedded.command(&["tenants", "pause", "site-paused"]).await;
    assert!(out.contains("is paused"), "{out}");
    // Every worker sees a pause within a second.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let issues: Vec<String> = (1..=BEFORE_KILL + AFTER_RESTART)
        .map(|n| format!("KAN-{n}"))
        .collect();
    for issue in &issues[..BEFORE_KILL] {
        send(&connect, &paused, issue).await;
    }
    send(&connect, &running, "RUN-1").await;
    wait_held(&embedded, "site-paused", BEFORE_KILL as u64, &process).await;
    let ran = Instant::now();
    while product.comments("site-running").is_empty() && ran.elapsed() < DRAIN {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        product.comments("site-running").len(),
        1,
        "another tenant's events are acted on meanwhile"
    );
    tokio::time::sleep(QUIET).await;
    assert!(
        product.comments("site-paused").is_empty(),
        "nothing is done for a paused tenant: {:?}",
        product.requests("site-paused")
    );
    let show = embedded.command(&["tenants", "show", "site-paused"]).await;
    assert!(
        show.contains(&format!(", {BEFORE_KILL} event(s) held")),
        "{show}"
    );

    // Killed while paused: its held events are kept, and it is still paused after the restart.
    process.kill().await.expect("SIGKILL");
    process = embedded.start().await;
    for issue in &issues[BEFORE_KILL..] {
        send(&connect, &paused, issue).await;
    }
    wait_held(&embedded, "site-paused", issues.len() as u64, &process).await;
    tokio::time::sleep(QUIET).await;
    assert!(
        product.comments("site-paused").is_empty(),
        "still paused after the restart"
    );

    let out = embedded
        .command(&["tenants", "resume", "site-paused"])
        .await;
    assert!(
        out.contains(&format!("its {} held event(s)", issues.len())),
        "{out}"
    );
    let resumed = Instant::now();
    let mut counts = comments_per_issue(&product, "site-paused", &issues);
    while counts.contains(&0) && resumed.elapsed() < DRAIN {
        tokio::time::sleep(Duration::from_millis(200)).await;
        counts = comments_per_issue(&product, "site-paused", &issues);
    }
    // Give a duplicate the chance to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = comments_per_issue(&product, "site-paused", &issues);
    assert!(
        counts.iter().all(|n| *n == 1),
        "every held event acts exactly once after the resume: {:?}; {}",
        issues.iter().zip(&counts).collect::<Vec<_>>(),
        process.tail()
    );
    wait_held(&embedded, "site-paused", 0, &process).await;
    assert!(process.is_running(), "{}", process.tail());
    process.kill().await.expect("stops");
}

async fn a_paused_tenants_webhooks_are_accepted_held_and_released_on_resume(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = app.jira_site_with_echo_rule("jira-site").await;
    let key = ClientKey::parse("jira-site").expect("a key");
    let stores = &app.pipeline().ingress.stores;
    stores.tenants.pause(&key).await.expect("pauses");

    for issue in ["KAN-1", "KAN-2", "KAN-3"] {
        let payload = payloads::jira_issue_created(issue, "paused", "KAN");
        app.deliver(&jira, "jira:issue_created", &payload).await;
    }
    let patience = Patience::start();
    let mut held = stores.held.count(&key).await.expect("counts");
    while held < 3 {
        patience.pause("3 held events", held).await;
        held = stores.held.count(&key).await.expect("counts");
    }
    assert_eq!(
        app.worker_metric("hookline_events_held_total{product=\"jira\"}"),
        3.0
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        app.product.requests(&jira.client_key).is_empty(),
        "nothing is done for a paused tenant ({mode:?})"
    );

    let resumed = stores
        .tenants
        .resume(&key)
        .await
        .expect("resumes")
        .expect("a known tenant");
    assert_eq!(resumed.held, 3);
    let comments = app.settled_comments(&jira, 3).await;
    let mut texts: Vec<&str> = comments
        .iter()
        .filter_map(|c| c.body["body"].as_str())
        .collect();
    texts.sort_unstable();
    assert_eq!(texts, ["Seen KAN-1", "Seen KAN-2", "Seen KAN-3"]);
    app.wait_for_metric("hookline_events_released_total", 3.0)
        .await;
    assert_eq!(stores.held.count(&key).await.expect("counts"), 0);
    app.stop().await;
}

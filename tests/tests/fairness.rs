//! Fair share between tenants: one site floods at 50 times the others' rate while 20 sites send
//! at a normal rate, against a Jira that takes 100 ms per call. The quiet sites' events take
//! effect within a bound far below the time the flood takes to drain, and every event of every
//! site takes effect exactly once. Run in both modes; each prints one summary line.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use simulator::{payloads, SendOptions, SimTenant};
use tests::chaos::summary::quantile;
use tests::patience::settle;
use tests::{in_both_modes, E2e, Mode};

in_both_modes!(
    a_flooding_site_does_not_delay_the_others,
    a_sites_calls_stay_inside_its_budget,
);

/// How long Jira takes to answer each call.
const JIRA_LATENCY: Duration = Duration::from_millis(100);
/// Sites sending at the normal rate.
const QUIET_SITES: usize = 20;
/// Each quiet site's events a second.
const QUIET_RATE: f64 = 0.5;
/// The flooding site sends this many times the quiet rate.
const FLOOD_FACTOR: f64 = 50.0;
/// How long everyone sends.
const SENDING: Duration = Duration::from_secs(20);
/// Events in flight per lane: with Jira at 100 ms a lane does at most 20 events a second,
/// however fast the machine: less than the flood's 24 above its share, so its overflow lane
/// must build a backlog; more than the quiet sites' 10 and the flood's share of 1 together.
const PREFETCH: &str = "2";
/// Each site's share of the main lane, events a second (above the quiet rate, far below the
/// flood).
const SHARE: &str = "1";
/// The bound on the quiet sites' p99 time from receipt to effect.
const QUIET_P99_BOUND: Duration = Duration::from_secs(2);
/// How long the flood may take to drain after the sending stopped.
const DRAIN_PATIENCE: Duration = Duration::from_secs(120);

/// When each event was sent, by the issue key its comment lands on.
type Sent = Arc<Mutex<HashMap<String, Instant>>>;

async fn a_flooding_site_does_not_delay_the_others(mode: Mode) {
    let app = Arc::new(
        E2e::start_with_vars(
            mode,
            vec![
                ("HOOKLINE_WORKER__PREFETCH", PREFETCH.to_owned()),
                (
                    "HOOKLINE_FAIRNESS__TENANT_EVENTS_PER_SECOND",
                    SHARE.to_owned(),
                ),
                ("HOOKLINE_FAIRNESS__TENANT_EVENT_BURST", "4".to_owned()),
            ],
        )
        .await,
    );
    let flood = app.jira_site_with_echo_rule("flood-site").await;
    let mut quiet = Vec::new();
    for n in 0..QUIET_SITES {
        quiet.push(app.jira_site_with_echo_rule(&format!("quiet-{n}")).await);
    }
    app.product.set_latency(JIRA_LATENCY);

    let sent: Sent = Arc::default();
    let started = Instant::now();
    let mut senders = vec![tokio::spawn(send_at(
        app.clone(),
        flood.clone(),
        QUIET_RATE * FLOOD_FACTOR,
        "FLOOD".to_owned(),
        sent.clone(),
        Duration::ZERO,
    ))];
    for (n, site) in quiet.iter().enumerate() {
        senders.push(tokio::spawn(send_at(
            app.clone(),
            site.clone(),
            QUIET_RATE,
            format!("Q{n}"),
            sent.clone(),
            Duration::from_secs_f64(n as f64 / (QUIET_RATE * QUIET_SITES as f64)),
        )));
    }
    let mut counts = HashMap::new();
    for (sender, site) in senders
        .into_iter()
        .zip(std::iter::once(&flood).chain(&quiet))
    {
        let accepted = sender.await.expect("a sender task");
        counts.insert(site.client_key.clone(), accepted);
    }
    let sending_took = started.elapsed();

    // Everything is done, eventually: the flood drains.
    let drain = Instant::now();
    for site in std::iter::once(&flood).chain(&quiet) {
        let expected = counts[&site.client_key];
        while app.product.comments(&site.client_key).len() < expected {
            assert!(
                drain.elapsed() < DRAIN_PATIENCE,
                "{} has {} of {expected} effects after {DRAIN_PATIENCE:?} ({mode:?})",
                site.client_key,
                app.product.comments(&site.client_key).len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let drained_after = started.elapsed();
    settle().await;

    let sent = sent.lock().expect("the sent map").clone();
    let quiet_latency = latencies(&app, &quiet, &sent);
    let flood_latency = latencies(&app, std::slice::from_ref(&flood), &sent);
    let (lost, duplicates) =
        lost_and_duplicates(&app, std::iter::once(&flood).chain(&quiet), &counts);
    let (q50, q99) = (
        quantile(&quiet_latency.1, 0.50),
        quantile(&quiet_latency.1, 0.99),
    );
    let (f50, f99) = (
        quantile(&flood_latency.1, 0.50),
        quantile(&flood_latency.1, 0.99),
    );
    println!(
        "fairness {mode:?}: quiet {} events p50 {q50:?} p99 {q99:?}; flood {} events p50 {f50:?} p99 {f99:?}; sending {sending_took:.1?}, drained after {drained_after:.1?}; lost {lost}, duplicates {duplicates}",
        quiet_latency.1.len(),
        flood_latency.1.len(),
    );
    assert_eq!(
        (lost, duplicates),
        (0, 0),
        "every event takes effect exactly once"
    );
    assert!(
        q99 <= QUIET_P99_BOUND,
        "the quiet sites' p99 {q99:?} is within {QUIET_P99_BOUND:?} ({mode:?})"
    );
    assert!(
        q99 * 4 < f99,
        "the quiet sites ({q99:?}) are far ahead of the flood ({f99:?}): it waited in its own lane"
    );
    Arc::into_inner(app)
        .expect("the senders are done")
        .stop()
        .await;
}

/// The call budget of [`a_sites_calls_stay_inside_its_budget`]: calls a second, and burst.
const BUDGET: (f64, u32) = (5.0, 3);

async fn a_sites_calls_stay_inside_its_budget(mode: Mode) {
    let app = E2e::start_with_vars(
        mode,
        vec![
            (
                "HOOKLINE_OUTBOUND__TENANT_CALLS_PER_SECOND",
                BUDGET.0.to_string(),
            ),
            ("HOOKLINE_OUTBOUND__TENANT_CALL_BURST", BUDGET.1.to_string()),
        ],
    )
    .await;
    let busy = app.jira_site_with_echo_rule("busy-site").await;
    let other = app.jira_site_with_echo_rule("other-site").await;
    let events = 20;
    for n in 0..events {
        let key = format!("BUSY-{n}");
        let payload = payloads::jira_issue_created(&key, "a bulk edit", "BUSY");
        app.deliver(&busy, "jira:issue_created", &payload).await;
    }
    let payload = payloads::jira_issue_created("OTHER-1", "meanwhile", "OTHER");
    let sent = Instant::now();
    app.deliver(&other, "jira:issue_created", &payload).await;

    let comments = app.settled_comments(&busy, events).await;
    let mut at: Vec<Instant> = comments.iter().map(|c| c.at).collect();
    at.sort();
    // However the calls fall, no window of one second holds more than the burst plus the rate.
    let most = BUDGET.1 as usize + BUDGET.0 as usize;
    for (i, start) in at.iter().enumerate() {
        let within = at[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(
            within <= most,
            "{within} calls within a second from call {i}: the budget allows {most} ({mode:?})"
        );
    }
    let spread = at[at.len() - 1].duration_since(at[0]);
    assert!(
        spread >= Duration::from_secs_f64((events as f64 - f64::from(BUDGET.1)) / BUDGET.0 * 0.9),
        "20 calls at 5 a second after a burst of 3 take over 3 s, not {spread:?}"
    );
    // The other site has its own budget, and the busy site's events left the main lane.
    let other_comment = &app.settled_comments(&other, 1).await[0];
    assert!(
        other_comment.at.duration_since(sent) < spread,
        "the other site waited for the busy one's budget ({mode:?})"
    );
    assert!(app.worker_metric("hookline_events_moved_to_overflow_total{product=\"jira\"}") >= 1.0);
    assert!(app.worker_metric("hookline_tenant_budget_waits_total{product=\"jira\"}") >= 1.0);
    assert_eq!(
        app.product.requests(&busy.client_key).len(),
        events,
        "no call was refused or repeated"
    );
    app.stop().await;
}

/// Sends `rate` events a second for [`SENDING`] to `site`, from `offset` on, each on its own issue
/// `{prefix}-{n}`, without waiting for one answer before the next send; returns how many the
/// ingress accepted (all of them: a flood is never refused).
async fn send_at(
    app: Arc<E2e>,
    site: SimTenant,
    rate: f64,
    prefix: String,
    sent: Sent,
    offset: Duration,
) -> usize {
    // Sites start apart, as real ones do, rather than all sending in the same instant.
    tokio::time::sleep(offset).await;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let started = Instant::now();
    let mut sends = Vec::new();
    let mut n = 0;
    while started.elapsed() < SENDING {
        ticks.tick().await;
        n += 1;
        let key = format!("{prefix}-{n}");
        let payload = payloads::jira_issue_created(&key, "fair share", &prefix);
        sent.lock()
            .expect("the sent map")
            .insert(key, Instant::now());
        let app = app.clone();
        let site = site.clone();
        sends.push(tokio::spawn(async move {
            let options = SendOptions {
                max_attempts: Some(1),
                ..SendOptions::default()
            };
            app.send_with(&site, "jira:issue_created", &payload, options)
                .await
        }));
    }
    let mut accepted = 0;
    for send in sends {
        let report = send.await.expect("a send task");
        assert_eq!(
            report.attempts,
            [202],
            "{} is accepted at once, flood or not",
            site.client_key
        );
        accepted += 1;
    }
    accepted
}

/// Every effect's time from its event's send, for `sites`, sorted.
fn latencies(
    app: &E2e,
    sites: &[SimTenant],
    sent: &HashMap<String, Instant>,
) -> (usize, Vec<Duration>) {
    let mut all = Vec::new();
    for site in sites {
        for comment in app.product.comments(&site.client_key) {
            if let Some(at) = sent.get(&comment.target) {
                all.push(comment.at.saturating_duration_since(*at));
            }
        }
    }
    all.sort();
    (sites.len(), all)
}

/// Events without an effect, and effects beyond one per event.
fn lost_and_duplicates<'a>(
    app: &E2e,
    sites: impl Iterator<Item = &'a SimTenant>,
    counts: &HashMap<String, usize>,
) -> (usize, usize) {
    let (mut lost, mut duplicates) = (0, 0);
    for site in sites {
        let comments = app.product.comments(&site.client_key);
        let mut per_issue: HashMap<&str, usize> = HashMap::new();
        for comment in &comments {
            *per_issue.entry(comment.target.as_str()).or_default() += 1;
        }
        duplicates += per_issue.values().map(|n| n - 1).sum::<usize>();
        lost += counts[&site.client_key].saturating_sub(per_issue.len());
    }
    (lost, duplicates)
}

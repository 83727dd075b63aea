//! `e2e --noisy`: the noisy neighbour. One tenant floods (closed loop, `--events` webhooks as
//! fast as the ingress takes them) while 20 quiet tenants send at `--rate` (open loop) against
//! a Jira answering in 100 ms, with the tenants' lanes off (one first-come, first-served queue)
//! and on (the default, `fairness`). Then one tenant alone at saturation, lanes off and on:
//! what fairness costs the throughput of a single busy tenant.
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{e2e_run, measure};
use crate::cli::E2eArgs;
use crate::comments::{recorded, tally, wait_for_comments, Comments};
use crate::fixture;
use crate::load::{self, per_sec, LoadPlan, Pace};
use crate::pipeline::{Pipeline, PipelineSpec};
use crate::report::{ms, thousands};
use crate::signed::sign_webhooks;

/// Quiet tenants.
const QUIET: usize = 20;
/// Their webhooks a second together, without --rate.
const QUIET_RATE: f64 = 20.0;
/// Jira's answer time.
const JIRA_LATENCY: Duration = Duration::from_millis(100);
/// How long the warm-up's comments may take.
const WARMUP_PATIENCE: Duration = Duration::from_secs(30);

/// One noisy-neighbour run.
struct NoisyResult {
    lanes: bool,
    flood: Comments,
    flood_accepted: u64,
    flood_window: Duration,
    quiet: Comments,
    quiet_accepted: u64,
}

/// Runs the four measurements and prints one Markdown table.
pub async fn command(args: &E2eArgs) -> anyhow::Result<()> {
    let mut noisy = Vec::new();
    let mut alone = Vec::new();
    for lanes in [false, true] {
        noisy.push(noisy_run(args, lanes).await?);
        let mut run = e2e_run(args, 1, 100, Pace::Closed);
        run.pipeline.tenants = 1;
        run.pipeline.extra_env = lanes_env(lanes);
        let pipeline = Pipeline::start(&run.pipeline).await?;
        let measured = measure(&pipeline, &run).await;
        pipeline.stop().await?;
        let measured = measured?;
        println!(
            "one tenant alone, lanes {}: {} comments/s",
            on_off(lanes),
            thousands(measured.throughput())
        );
        alone.push(measured.throughput());
    }
    println!("{}", table(&noisy, &alone));
    Ok(())
}

fn on_off(lanes: bool) -> &'static str {
    if lanes {
        "on"
    } else {
        "off"
    }
}

/// Lanes off: every tenant's share unlimited (one queue); on: the defaults.
fn lanes_env(lanes: bool) -> Vec<(String, String)> {
    match lanes {
        true => Vec::new(),
        false => vec![(
            "HOOKLINE_FAIRNESS__TENANT_EVENTS_PER_SECOND".to_owned(),
            "0".to_owned(),
        )],
    }
}

async fn noisy_run(args: &E2eArgs, lanes: bool) -> anyhow::Result<NoisyResult> {
    let spec = PipelineSpec {
        workers: 1,
        tenants: QUIET + 1,
        jira_latency: JIRA_LATENCY,
        worker_prefetch: args.worker_prefetch,
        log_level: args.process_log_level.clone(),
        extra_env: lanes_env(lanes),
    };
    let pipeline = Pipeline::start(&spec).await?;
    let measured = measure_noisy(&pipeline, args, lanes).await;
    pipeline.stop().await?;
    let result = measured?;
    println!(
        "noisy neighbour, lanes {}: flood {} comments/s; quiet p50 {} ms, p99 {} ms; lost {}, duplicates {}",
        on_off(lanes),
        thousands(per_sec(result.flood.distinct, result.flood_window)),
        quiet_percentile(&result.quiet, 50.0),
        quiet_percentile(&result.quiet, 99.0),
        lost(&result),
        result.flood.duplicates + result.quiet.duplicates,
    );
    Ok(result)
}

async fn measure_noisy(
    pipeline: &Pipeline,
    args: &E2eArgs,
    lanes: bool,
) -> anyhow::Result<NoisyResult> {
    let (jira, tenants) = (&pipeline.jira, pipeline.tenants.as_slice());
    let (flooder, quiet) = tenants.split_at(1);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (warmup_id, flood_id, quiet_id) = (format!("w{id}"), format!("f{id}"), format!("q{id}"));
    let now = chrono::Utc::now().timestamp();
    let path = fixture::WEBHOOK_PATH;
    let rate = args.rate.unwrap_or(QUIET_RATE);
    let flood_events = args.events;
    // The quiet tenants send for as long as the flood takes to drain without lanes (about
    // its events over 1,500 comments/s), at least 10 s.
    let quiet_events = ((flood_events as f64 / 1500.0).max(10.0) * rate) as usize;
    let plan = |webhooks, pace, concurrency| LoadPlan {
        address: pipeline.ingress_address,
        path,
        body: Bytes::from_static(fixture::JIRA_ISSUE_CREATED),
        webhooks: Arc::new(webhooks),
        concurrency,
        pace,
    };
    let warmup = sign_webhooks(tenants, tenants.len(), path, &warmup_id, now)?;
    load::run(plan(warmup, Pace::Closed, 8)).await?;
    let warm = (tenants.len(), tenants.len());
    anyhow::ensure!(
        wait_for_comments(jira, tenants, &warmup_id, warm, WARMUP_PATIENCE).await,
        "the warm-up's comments stopped arriving"
    );

    let flood = sign_webhooks(flooder, flood_events, path, &flood_id, now)?;
    let calm = sign_webhooks(quiet, quiet_events, path, &quiet_id, now)?;
    let start = Instant::now();
    let flooding = load::run(plan(flood, Pace::Closed, args.concurrency));
    let calming = load::run(plan(calm, Pace::Open { rate }, 8));
    let (flood_sent, quiet_sent) = tokio::join!(flooding, calming);
    let (flood_sent, quiet_sent) = (flood_sent?, quiet_sent?);
    let patience = Duration::from_secs(args.drain_timeout_secs);
    let flood_expected = (flood_events, usize::try_from(flood_sent.accepted())?);
    let quiet_expected = (quiet_events, usize::try_from(quiet_sent.accepted())?);
    wait_for_comments(jira, flooder, &flood_id, flood_expected, patience).await;
    wait_for_comments(jira, quiet, &quiet_id, quiet_expected, patience).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let due = |index: usize| Some(start + Duration::from_secs_f64(index as f64 / rate));
    let quiet_comments = tally(&recorded(jira, quiet), &quiet_id, quiet_events, due);
    let flood_comments = tally(&recorded(jira, flooder), &flood_id, flood_events, |_| None);
    let flood_window = flood_comments
        .last
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(start));
    Ok(NoisyResult {
        lanes,
        flood: flood_comments,
        flood_accepted: flood_sent.accepted(),
        flood_window,
        quiet: quiet_comments,
        quiet_accepted: quiet_sent.accepted(),
    })
}

fn quiet_percentile(quiet: &Comments, p: f64) -> String {
    quiet
        .latency_us
        .as_ref()
        .map_or_else(|| "-".to_owned(), |h| ms(h.value_at_quantile(p / 100.0)))
}

fn lost(result: &NoisyResult) -> u64 {
    result.flood_accepted.saturating_sub(result.flood.distinct)
        + result.quiet_accepted.saturating_sub(result.quiet.distinct)
}

fn table(noisy: &[NoisyResult], alone: &[f64]) -> String {
    let mut out = String::from(
        "| lanes | flood comments/s | flood drained after | quiet webhook → comment p50 / p99 (ms) | lost | duplicates | one tenant alone, comments/s |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (result, alone) in noisy.iter().zip(alone) {
        out.push_str(&format!(
            "| {} | {} | {:.1} s | {} / {} | {} | {} | {} |\n",
            on_off(result.lanes),
            thousands(per_sec(result.flood.distinct, result.flood_window)),
            result.flood_window.as_secs_f64(),
            quiet_percentile(&result.quiet, 50.0),
            quiet_percentile(&result.quiet, 99.0),
            lost(result),
            result.flood.duplicates + result.quiet.duplicates,
            thousands(*alone),
        ));
    }
    if let [off, on] = alone {
        if *off > 0.0 {
            out.push_str(&format!(
                "\none tenant alone, lanes on / off: {:.2}\n",
                on / off
            ));
        }
    }
    out
}

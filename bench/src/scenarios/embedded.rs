//! `embedded`: `hookline up` on its default (SQLite and the local queue) against the peer
//! (atlassian-connect-express, one Node process), in one run. For each of `hookline up` without
//! group commit (`database.group_commit_rows=1`: every accepted event its own transaction) and
//! with its defaults: a fresh data directory, a warm-up, the ingress at saturation (closed loop)
//! with the worker draining meanwhile, then the open loop at half the rate it reached. Besides
//! the webhooks' latency, it reports how fast the worker drains (comments per second at the
//! simulated Jira, from the first webhook to the last comment), the backlog left in the local
//! queue when sending stopped, and how many writes each commit held.
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::batch::CommitStats;

use crate::cli::EmbeddedArgs;
use crate::comments::{recorded, tally, wait_for_comments};
use crate::cpu::{CpuTimes, CpuUse};
use crate::embedded::{EmbeddedUnderTest, EMBEDDED_THREAD};
use crate::fixture;
use crate::load::{self, LoadPlan, LoadResult, Pace};
use crate::report::{cpu_per_request, ms, thousands};
use crate::scenarios::peer::PeerResult;
use crate::signed::{sign_webhooks, SignedWebhook};

/// The fraction of the saturation rate offered in the open loop.
const HALF: f64 = 0.5;
/// The open loop sends for at most this long.
const OPEN_LOOP: Duration = Duration::from_secs(20);
/// The warm-up's comments must keep arriving at least this often.
const WARMUP_PATIENCE: Duration = Duration::from_secs(30);

/// One configuration of `hookline up`.
#[derive(Debug, Clone)]
pub struct EmbeddedResult {
    /// `group commit off` or `defaults`.
    pub name: &'static str,
    /// The ingress at saturation.
    pub saturation: LoadResult,
    /// Comments per second from the first webhook to the last comment (the worker's drain).
    pub drain_per_sec: f64,
    /// Accepted webhooks without a comment once the drain timeout passed.
    pub lost: u64,
    /// Comments beyond the first for one webhook.
    pub duplicates: u64,
    /// Events in the local queue when sending stopped.
    pub backlog: u64,
    /// The group commit during the saturation run and its drain.
    pub commits: CommitStats,
    /// Who used the CPU during the saturation run.
    pub cpu: CpuUse,
    /// The open loop at half the saturation rate.
    pub half: LoadResult,
    /// The rate offered in it.
    pub half_rate: f64,
}

/// Runs the peer, then `hookline up` without and with group commit; prints each report and the
/// table.
pub async fn run(args: &EmbeddedArgs, load_threads: usize) -> anyhow::Result<()> {
    let peer = if args.no_peer {
        None
    } else {
        crate::peer_app::check_installed().await?;
        let peer = super::peer::run(&args.load, Pace::Closed, 1, load_threads).await?;
        println!("{}\n", super::peer::report(&peer));
        Some(peer)
    };
    let configurations: [(&'static str, &[(&str, &str)]); 2] = [
        (
            "group commit off",
            &[("HOOKLINE_DATABASE__GROUP_COMMIT_ROWS", "1")],
        ),
        ("defaults", &[]),
    ];
    let mut results = Vec::new();
    let skip = usize::from(args.no_baseline);
    for (name, vars) in configurations.into_iter().skip(skip) {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(var, value)| ((*var).to_owned(), (*value).to_owned()))
            .collect();
        let result = measure_one(args, name, &vars).await?;
        println!("{}\n", report(&result));
        results.push(result);
    }
    println!("{}", table(peer.as_ref(), &results, args));
    Ok(())
}

async fn measure_one(
    args: &EmbeddedArgs,
    name: &'static str,
    vars: &[(String, String)],
) -> anyhow::Result<EmbeddedResult> {
    let latency = Duration::from_millis(args.jira_latency_ms);
    let up = EmbeddedUnderTest::start(args.load.tenants, latency, vars).await?;
    let measured = measure(&up, args, name).await;
    up.stop().await?;
    measured
}

async fn measure(
    up: &EmbeddedUnderTest,
    args: &EmbeddedArgs,
    name: &'static str,
) -> anyhow::Result<EmbeddedResult> {
    let (jira, tenants) = (&up.jira, up.tenants.as_slice());
    let drain_timeout = Duration::from_secs(args.drain_timeout_secs);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let now = chrono::Utc::now().timestamp();
    let path = fixture::WEBHOOK_PATH;
    let warmup_count = args.load.warmup_requests.max(tenants.len());
    let warmup_id = format!("w{run_id}");
    let warmup = sign_webhooks(tenants, warmup_count, path, &warmup_id, now)?;
    let plan = |webhooks: Vec<SignedWebhook>, pace| LoadPlan {
        address: up.address,
        path,
        body: Bytes::from_static(fixture::JIRA_ISSUE_CREATED),
        webhooks: Arc::new(webhooks),
        concurrency: args.load.concurrency,
        pace,
    };
    let warmed = load::run(plan(warmup, Pace::Closed)).await?;
    anyhow::ensure!(
        warmed.accepted() == warmup_count as u64,
        "the warm-up was not all accepted: {:?}",
        warmed.outcomes
    );
    let warm = (warmup_count, warmup_count);
    anyhow::ensure!(
        wait_for_comments(jira, tenants, &warmup_id, warm, WARMUP_PATIENCE).await,
        "the warm-up's comments stopped arriving at the simulated Jira"
    );

    let saturated_id = format!("s{run_id}");
    let webhooks = sign_webhooks(tenants, args.load.requests, path, &saturated_id, now)?;
    let commits_before = up.commits();
    let cpu_before = CpuTimes::now();
    let start = Instant::now();
    let saturation = load::run(plan(webhooks, Pace::Closed)).await?;
    let cpu = CpuTimes::now().since(&cpu_before, saturation.elapsed);
    let backlog = up.depth().await?;
    let expected = (args.load.requests, usize::try_from(saturation.accepted())?);
    wait_for_comments(jira, tenants, &saturated_id, expected, drain_timeout).await;
    let comments = tally(
        &recorded(jira, tenants),
        &saturated_id,
        args.load.requests,
        |_| None,
    );
    let window = comments
        .last
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(start));
    let drain_per_sec = comments.distinct as f64 / window.as_secs_f64().max(f64::MIN_POSITIVE);
    let after = up.commits();
    let commits = CommitStats {
        commits: after.commits - commits_before.commits,
        writes: after.writes - commits_before.writes,
    };

    let half_rate = saturation.accepted_per_sec() * HALF;
    anyhow::ensure!(half_rate > 0.0, "nothing was accepted at saturation");
    let half_count = ((half_rate * OPEN_LOOP.as_secs_f64()) as usize).clamp(1, args.load.requests);
    let half_id = format!("h{run_id}");
    let now = chrono::Utc::now().timestamp();
    let webhooks = sign_webhooks(tenants, half_count, path, &half_id, now)?;
    let half = load::run(plan(webhooks, Pace::Open { rate: half_rate })).await?;
    let expected = (half_count, usize::try_from(half.accepted())?);
    wait_for_comments(jira, tenants, &half_id, expected, drain_timeout).await;
    Ok(EmbeddedResult {
        name,
        lost: saturation.accepted().saturating_sub(comments.distinct),
        duplicates: comments.duplicates,
        saturation,
        drain_per_sec,
        backlog,
        commits,
        cpu,
        half,
        half_rate,
    })
}

/// The report of one configuration.
pub fn report(result: &EmbeddedResult) -> String {
    let mut out = format!("## hookline up (SQLite, local queue), {}\n", result.name);
    let (saturation, half) = (&result.saturation, &result.half);
    let _ = writeln!(
        out,
        "saturation {} req/s accepted ({:.2} s), p50 {} ms, p99 {} ms",
        thousands(saturation.accepted_per_sec()),
        saturation.elapsed.as_secs_f64(),
        ms(saturation.latency_us.value_at_quantile(0.5)),
        ms(saturation.latency_us.value_at_quantile(0.99)),
    );
    let _ = writeln!(
        out,
        "drain      {} comments/s from the first webhook to the last comment; {} left in the \
         queue when sending stopped; lost {}, duplicates {}",
        thousands(result.drain_per_sec),
        result.backlog,
        result.lost,
        result.duplicates
    );
    let _ = writeln!(
        out,
        "commits    {} writes in {} commits ({:.1} per commit)",
        result.commits.writes,
        result.commits.commits,
        writes_per_commit(result.commits)
    );
    if saturation.accepted() > 0 {
        let _ = writeln!(
            out,
            "cost       {:.0} us of the pipeline's runtime CPU per accepted webhook (ingress and \
             worker)",
            cpu_per_request(&result.cpu, EMBEDDED_THREAD, saturation)
        );
    }
    let _ = writeln!(
        out,
        "half       {} req/s offered: p50 {} ms, p99 {} ms, outcomes {:?}",
        thousands(result.half_rate),
        ms(half.latency_us.value_at_quantile(0.5)),
        ms(half.latency_us.value_at_quantile(0.99)),
        half.outcomes
    );
    let _ = write!(out, "cpu        {}", result.cpu);
    out
}

fn writes_per_commit(stats: CommitStats) -> f64 {
    stats.writes as f64 / stats.commits.max(1) as f64
}

/// One Markdown table: the peer, then each configuration, with ratios to the peer.
pub fn table(peer: Option<&PeerResult>, results: &[EmbeddedResult], args: &EmbeddedArgs) -> String {
    let peer_rate = peer.map(|p| p.load.accepted_per_sec());
    let mut out = String::from(
        "| at saturation, 64 connections | req/s | / ACE | p50 / p99 | p50 / p99 at half \
         | worker drain (comments/s) | drain / accepted | backlog when sending stopped \
         | writes per commit |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    if let (Some(peer), Some(rate)) = (peer, peer_rate) {
        let _ = writeln!(
            out,
            "| ACE 11.5.3, 1 process (verify only, no queue) | {} | 1.00 | {} / {} ms | - | - | - | - | - |",
            thousands(rate),
            ms(peer.load.latency_us.value_at_quantile(0.5)),
            ms(peer.load.latency_us.value_at_quantile(0.99)),
        );
    }
    for result in results {
        let rate = result.saturation.accepted_per_sec();
        let ratio = peer_rate.map_or("-".to_owned(), |p| {
            format!("{:.2}", rate / p.max(f64::MIN_POSITIVE))
        });
        let _ = writeln!(
            out,
            "| `hookline up`, {} | {} | {ratio} | {} / {} ms | {} / {} ms at {} req/s | {} | {:.2} | {} | {:.1} |",
            result.name,
            thousands(rate),
            ms(result.saturation.latency_us.value_at_quantile(0.5)),
            ms(result.saturation.latency_us.value_at_quantile(0.99)),
            ms(result.half.latency_us.value_at_quantile(0.5)),
            ms(result.half.latency_us.value_at_quantile(0.99)),
            thousands(result.half_rate),
            thousands(result.drain_per_sec),
            result.drain_per_sec / rate.max(f64::MIN_POSITIVE),
            result.backlog,
            writes_per_commit(result.commits),
        );
    }
    let _ = write!(
        out,
        "\n{} signed 11 KB webhooks from {} tenants (one comment rule each), Jira simulated at \
         {} ms; the pipeline's runtime has 2 threads; other processes used {} cores.",
        args.load.requests,
        args.load.tenants,
        args.jira_latency_ms,
        results
            .iter()
            .map(|r| format!("{:.2}", r.cpu.others_cores()))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    out
}

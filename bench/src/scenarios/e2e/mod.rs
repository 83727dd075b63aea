//! `e2e`: webhooks in, comments out, with the processes an operator runs ([`crate::pipeline`]).
//! Signed `jira:issue_created` webhooks go to the release ingress, at a fixed rate (open loop)
//! or back to back (closed loop: the sustainable throughput); the workers post one comment per
//! webhook to the simulated Jira, which records when each arrived. Every comment carries the
//! worker's marker `{webhook id}#{rule id}`, which matches it to its webhook: hence the time
//! from send to comment, the webhooks lost and the duplicated comments.
pub mod noisy;
pub mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cli::E2eArgs;
use crate::comments::{recorded, tally, wait_for_comments, Comments};
use crate::cpu::CpuUse;
use crate::fixture;
use crate::load::{self, LoadPlan, LoadResult, Pace};
use crate::pipeline::{Pipeline, PipelineSpec, ProcessFigures};
use crate::signed::sign_webhooks;

/// The offered load without --rate, webhooks per second: under half of what one worker with
/// its default prefetch (64) reached against a 100 ms Jira here (578/s, prefetch-bound).
pub const DEFAULT_RATE: f64 = 250.0;
/// The fraction of the throughput found at saturation that the matrix offers in the open loop.
const HALF: f64 = 0.5;
/// The matrix's open-loop runs send for at most this long (fewer events if need be).
const MATRIX_OPEN_LOOP: Duration = Duration::from_secs(60);
/// Pre-signed tokens outlive the run only if sending ends within this long (`signed`).
const LONGEST_SEND: Duration = Duration::from_secs(240);
/// How long late duplicates are still waited for once every comment arrived.
const SETTLE: Duration = Duration::from_secs(1);
/// The warm-up's comments must keep arriving at least this often.
const WARMUP_PATIENCE: Duration = Duration::from_secs(30);

/// One run's parameters.
#[derive(Debug, Clone)]
pub struct E2eRun {
    /// The processes and the simulated Jira.
    pub pipeline: PipelineSpec,
    /// Webhooks measured (after one per tenant as a warm-up).
    pub events: usize,
    /// Closed or open loop.
    pub pace: Pace,
    /// Connections of the load generator.
    pub concurrency: usize,
    /// How long without a new comment before the missing ones count as lost.
    pub drain_timeout: Duration,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct E2eResult {
    /// Its parameters.
    pub run: E2eRun,
    /// The ingress's answers (and their latency).
    pub sent: LoadResult,
    /// The comments the simulated Jira recorded.
    pub comments: Comments,
    /// From the first webhook to the last comment.
    pub window: Duration,
    /// Whether every accepted webhook's comment arrived before the drain timeout.
    pub drained: bool,
    /// Calls the simulated Jira refused (bad token, unknown site).
    pub refused_by_jira: usize,
    /// Start-up time and memory of each process, the ingress first.
    pub processes: Vec<ProcessFigures>,
    /// Who used the CPU from the first webhook until every comment arrived.
    pub cpu: CpuUse,
    /// That interval.
    pub cpu_wall: Duration,
}

impl E2eResult {
    /// Comments per second over [`E2eResult::window`].
    pub fn throughput(&self) -> f64 {
        let seconds = self.window.as_secs_f64();
        if seconds > 0.0 {
            self.comments.distinct as f64 / seconds
        } else {
            0.0
        }
    }

    /// Webhooks accepted (202) whose comment never came.
    pub fn lost(&self) -> u64 {
        self.sent.accepted().saturating_sub(self.comments.distinct)
    }
}

/// `hookline-bench e2e`: one run, or the matrix; ctrl-c stops the processes and deletes the
/// database and queues (dropping the run's [`Pipeline`] does).
pub async fn command(args: &E2eArgs) -> anyhow::Result<()> {
    tokio::select! {
        outcome = runs(args) => outcome,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    }
}

async fn runs(args: &E2eArgs) -> anyhow::Result<()> {
    if args.noisy {
        return noisy::command(args).await;
    }
    if !args.matrix {
        let pace = if args.closed {
            Pace::Closed
        } else {
            Pace::Open {
                rate: args.rate.unwrap_or(DEFAULT_RATE),
            }
        };
        let result = run(&e2e_run(args, args.workers, args.jira_latency_ms, pace)).await?;
        println!("{}\n", report::e2e(&result));
        println!("{}", report::e2e_table(std::slice::from_ref(&result)));
        return Ok(());
    }
    let mut results = Vec::new();
    for workers in [1, 2] {
        for latency_ms in [0, 100] {
            let saturation = run(&e2e_run(args, workers, latency_ms, Pace::Closed)).await?;
            println!("{}\n", report::e2e(&saturation));
            let rate = args.rate.unwrap_or(saturation.throughput() * HALF);
            anyhow::ensure!(rate > 0.0, "no comment arrived at saturation");
            let mut open = e2e_run(args, workers, latency_ms, Pace::Open { rate });
            open.events = open
                .events
                .min((rate * MATRIX_OPEN_LOOP.as_secs_f64()) as usize)
                .max(1);
            let open = run(&open).await?;
            println!("{}\n", report::e2e(&open));
            results.extend([saturation, open]);
        }
    }
    println!("{}", report::e2e_table(&results));
    Ok(())
}

pub(crate) fn e2e_run(args: &E2eArgs, workers: u16, latency_ms: u64, pace: Pace) -> E2eRun {
    E2eRun {
        pipeline: PipelineSpec {
            workers: usize::from(workers),
            tenants: args.tenants,
            jira_latency: Duration::from_millis(latency_ms),
            worker_prefetch: args.worker_prefetch,
            log_level: args.process_log_level.clone(),
            extra_env: args.settings.clone(),
        },
        events: args.events,
        pace,
        concurrency: args.concurrency,
        drain_timeout: Duration::from_secs(args.drain_timeout_secs),
    }
}

/// Starts the pipeline, measures, and stops and cleans up whatever happened.
pub async fn run(run: &E2eRun) -> anyhow::Result<E2eResult> {
    validate(run)?;
    let pipeline = Pipeline::start(&run.pipeline).await?;
    let measured = measure(&pipeline, run).await;
    let processes = pipeline.figures();
    let refused_by_jira = pipeline.jira.rejected_requests();
    pipeline.stop().await?;
    let mut result = measured?;
    result.processes = processes?;
    result.refused_by_jira = refused_by_jira;
    Ok(result)
}

fn validate(run: &E2eRun) -> anyhow::Result<()> {
    anyhow::ensure!(run.events > 0, "--events must be at least 1");
    anyhow::ensure!(run.pipeline.tenants > 0, "--tenants must be at least 1");
    run.pace.validate()?;
    if let Pace::Open { rate } = run.pace {
        let sending = Duration::from_secs_f64(run.events as f64 / rate);
        anyhow::ensure!(
            sending <= LONGEST_SEND,
            "{} events at {rate}/s take {sending:?}, but the pre-signed tokens only last for \
             {LONGEST_SEND:?} of sending: lower --events or raise --rate",
            run.events
        );
    }
    Ok(())
}

pub(crate) async fn measure(pipeline: &Pipeline, run: &E2eRun) -> anyhow::Result<E2eResult> {
    let (jira, tenants) = (&pipeline.jira, pipeline.tenants.as_slice());
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let warmup_id = format!("w{run_id}");
    let now = chrono::Utc::now().timestamp();
    let path = fixture::WEBHOOK_PATH;
    let warmup = sign_webhooks(tenants, tenants.len(), path, &warmup_id, now)?;
    let webhooks = sign_webhooks(tenants, run.events, path, &run_id, now)?;
    let plan = |webhooks, pace| LoadPlan {
        address: pipeline.ingress_address,
        path,
        body: Bytes::from_static(fixture::JIRA_ISSUE_CREATED),
        webhooks: Arc::new(webhooks),
        concurrency: run.concurrency,
        pace,
    };
    // Every tenant into both processes' caches, every connection open.
    let warmed = load::run(plan(warmup, Pace::Closed)).await?;
    anyhow::ensure!(
        warmed.accepted() == tenants.len() as u64,
        "the warm-up was not all accepted: {:?}",
        warmed.outcomes
    );
    let warm = (tenants.len(), tenants.len());
    anyhow::ensure!(
        wait_for_comments(jira, tenants, &warmup_id, warm, WARMUP_PATIENCE).await,
        "the warm-up's comments stopped arriving at the simulated Jira"
    );

    let cpu_before = pipeline.cpu_times();
    let start = Instant::now();
    let sent = load::run(plan(webhooks, run.pace)).await?;
    let expected = (run.events, usize::try_from(sent.accepted())?);
    let drained = wait_for_comments(jira, tenants, &run_id, expected, run.drain_timeout).await;
    let cpu_wall = start.elapsed();
    let cpu = pipeline.cpu_times().since(&cpu_before, cpu_wall);
    tokio::time::sleep(SETTLE).await;
    let due = |index: usize| match run.pace {
        Pace::Open { rate } => Some(start + Duration::from_secs_f64(index as f64 / rate)),
        Pace::Closed => None,
    };
    let comments = tally(&recorded(jira, tenants), &run_id, run.events, due);
    let window = comments
        .last
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(start));
    Ok(E2eResult {
        run: run.clone(),
        sent,
        comments,
        window,
        drained,
        refused_by_jira: 0,
        processes: Vec::new(),
        cpu,
        cpu_wall,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn the_matrix_conflicts_with_choosing_workers_or_latency() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied());
        assert!(parse(&["hookline-bench", "e2e", "--matrix", "--workers", "2"]).is_err());
        assert!(parse(&["hookline-bench", "e2e", "--closed", "--rate", "5"]).is_err());
        let cli = parse(&["hookline-bench", "e2e", "--matrix", "--events", "500"]).unwrap();
        let Command::E2e(args) = cli.command else {
            panic!("not the e2e scenario")
        };
        assert!(args.matrix && args.workers == 1 && args.events == 500);
    }

    #[test]
    fn a_run_whose_tokens_would_expire_is_refused() {
        let cli = Cli::try_parse_from(["hookline-bench", "e2e"]).unwrap();
        let Command::E2e(args) = cli.command else {
            panic!("not the e2e scenario")
        };
        let mut run = e2e_run(&args, 1, 100, Pace::Open { rate: 10.0 });
        assert!(validate(&run).is_err());
        run.pace = Pace::Closed;
        assert!(validate(&run).is_ok());
    }
}

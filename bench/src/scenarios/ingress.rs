//! Signed webhooks at the in-process ingress: install tenants, sign every request, warm up
//! (every tenant into the ingress's cache, connections open, queue created), then measure.
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;

use crate::cli::{LoadArgs, RuntimeArgs};
use crate::cpu::{CpuTimes, CpuUse, INGRESS_THREAD, LAPIN_THREAD};
use crate::fixture;
use crate::harness::IngressUnderTest;
use crate::load::{self, LoadPlan, LoadResult, Pace};
use crate::report::{cpu_per_request, load_lines, outcomes_line, pace, requests_line, threads};
use crate::signed::{sign_webhooks, BenchTenant};

/// What one ingress run measured.
#[derive(Debug, Clone)]
pub struct IngressResult {
    /// The run's parameters.
    pub args: LoadArgs,
    /// Closed or open loop.
    pub pace: Pace,
    /// The runtimes' threads.
    pub runtime: RuntimeArgs,
    /// Latencies and outcomes of the measured requests.
    pub load: LoadResult,
    /// Who used the CPU meanwhile.
    pub cpu: CpuUse,
    /// Messages the work queue held afterwards (warm-up included).
    pub queued: u32,
}

/// Starts a fresh ingress, runs the load, and stops and cleans up the ingress whatever happened.
pub async fn run(
    args: &LoadArgs,
    pace: Pace,
    runtime: RuntimeArgs,
) -> anyhow::Result<IngressResult> {
    anyhow::ensure!(args.tenants > 0, "--tenants must be at least 1");
    let ingress = IngressUnderTest::start(runtime.ingress_threads).await?;
    let measured = measure(&ingress, args, pace).await;
    let queued = ingress.stop().await?;
    let (load, cpu) = measured?;
    Ok(IngressResult {
        args: args.clone(),
        pace,
        runtime,
        load,
        cpu,
        queued,
    })
}

/// The report of an ingress run.
pub fn report(result: &IngressResult) -> String {
    let (args, load) = (&result.args, &result.load);
    let mut out = format!("## Ingress, {}\n", pace(result.pace, "req/s"));
    requests_line(&mut out, args, load);
    let _ = writeln!(
        out,
        "threads    ingress runtime {}, load generator runtime {}",
        threads(result.runtime.ingress_threads),
        result.runtime.load_threads
    );
    load_lines(&mut out, load);
    if result.runtime.ingress_threads > 0 && load.accepted() > 0 {
        let _ = writeln!(
            out,
            "cost       {:.0} us of ingress runtime CPU per request, {:.0} us in lapin's I/O thread",
            cpu_per_request(&result.cpu, INGRESS_THREAD, load),
            cpu_per_request(&result.cpu, LAPIN_THREAD, load)
        );
    }
    outcomes_line(&mut out, load);
    let _ = writeln!(
        out,
        "queued     {} (warm-up included), then deleted",
        result.queued
    );
    let _ = write!(out, "cpu        {}", result.cpu);
    out
}

async fn measure(
    ingress: &IngressUnderTest,
    args: &LoadArgs,
    pace: Pace,
) -> anyhow::Result<(LoadResult, CpuUse)> {
    let tenants: Vec<_> = (0..args.tenants).map(BenchTenant::numbered).collect();
    ingress.install(&tenants).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let now = chrono::Utc::now().timestamp();
    let warmup_count = args.warmup_requests.max(args.tenants);
    let warmup = sign_webhooks(
        &tenants,
        warmup_count,
        fixture::WEBHOOK_PATH,
        &format!("w{run_id}"),
        now,
    )?;
    let webhooks = sign_webhooks(&tenants, args.requests, fixture::WEBHOOK_PATH, &run_id, now)?;
    let plan = |webhooks, pace| LoadPlan {
        address: ingress.address,
        path: fixture::WEBHOOK_PATH,
        body: Bytes::from_static(fixture::JIRA_ISSUE_CREATED),
        webhooks: Arc::new(webhooks),
        concurrency: args.concurrency,
        pace,
    };
    let warmed = load::run(plan(warmup, Pace::Closed)).await?;
    anyhow::ensure!(
        warmed.accepted() == warmup_count as u64,
        "the warm-up was not all accepted: {:?}",
        warmed.outcomes
    );
    let cpu_before = CpuTimes::now();
    let result = load::run(plan(webhooks, pace)).await?;
    let cpu = CpuTimes::now().since(&cpu_before, result.elapsed);
    Ok((result, cpu))
}

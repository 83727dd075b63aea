//! Signed webhooks (or Forge events) at the in-process ingress: install tenants, sign every
//! request, warm up (every tenant into the ingress's cache, connections open, queue created,
//! for Forge the JWKS fetched), then measure.
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;

use crate::cli::{LoadArgs, Protocol, RuntimeArgs};
use crate::cpu::{CpuTimes, CpuUse, INGRESS_THREAD, LAPIN_THREAD};
use crate::fixture;
use crate::forge::{self, ForgeLoad};
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
    /// Connect webhooks or Forge events.
    pub protocol: Protocol,
    /// Latencies and outcomes of the measured requests.
    pub load: LoadResult,
    /// Who used the CPU meanwhile.
    pub cpu: CpuUse,
    /// Messages the work queue held afterwards (warm-up included).
    pub queued: u32,
    /// The size of every request's body.
    pub body_bytes: usize,
}

/// Starts a fresh ingress, runs the load, and stops and cleans up the ingress whatever happened.
pub async fn run(
    args: &LoadArgs,
    pace: Pace,
    runtime: RuntimeArgs,
    protocol: Protocol,
) -> anyhow::Result<IngressResult> {
    anyhow::ensure!(args.tenants > 0, "--tenants must be at least 1");
    let forge = match protocol {
        Protocol::Forge => Some(ForgeLoad::start(args.tenants).await?),
        Protocol::Connect => None,
    };
    let extra = forge.as_ref().map(ForgeLoad::settings).unwrap_or_default();
    let ingress = IngressUnderTest::start(runtime.ingress_threads, extra).await?;
    let measured = measure(&ingress, args, pace, forge.as_ref()).await;
    let queued = ingress.stop().await?;
    let (load, cpu, body_bytes) = measured?;
    Ok(IngressResult {
        args: args.clone(),
        pace,
        runtime,
        protocol,
        load,
        cpu,
        queued,
        body_bytes,
    })
}

/// The report of an ingress run.
pub fn report(result: &IngressResult) -> String {
    let (args, load) = (&result.args, &result.load);
    let mut out = format!(
        "## Ingress, {}, {}\n",
        result.protocol.name(),
        pace(result.pace, "req/s")
    );
    requests_line(&mut out, args, load, result.body_bytes);
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
    forge: Option<&ForgeLoad>,
) -> anyhow::Result<(LoadResult, CpuUse, usize)> {
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let warmup_count = args.warmup_requests.max(args.tenants);
    let warmup_id = format!("w{run_id}");
    let (path, body, warmup, webhooks) = match forge {
        Some(forge) => {
            // Forge registers each installation on its first event (in the warm-up).
            let warmup = forge.sign(warmup_count, &warmup_id)?;
            let webhooks = forge.sign(args.requests, &run_id)?;
            (forge::EVENTS_PATH, forge::event_body()?, warmup, webhooks)
        }
        None => {
            let tenants: Vec<_> = (0..args.tenants).map(BenchTenant::numbered).collect();
            ingress.install(&tenants).await?;
            let now = chrono::Utc::now().timestamp();
            let path = fixture::WEBHOOK_PATH;
            let warmup = sign_webhooks(&tenants, warmup_count, path, &warmup_id, now)?;
            let webhooks = sign_webhooks(&tenants, args.requests, path, &run_id, now)?;
            let body = Bytes::from_static(fixture::JIRA_ISSUE_CREATED);
            (path, body, warmup, webhooks)
        }
    };
    let plan = |webhooks, pace| LoadPlan {
        address: ingress.address,
        path,
        body: body.clone(),
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
    Ok((result, cpu, body.len()))
}

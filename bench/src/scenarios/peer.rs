//! `peer`: atlassian-connect-express (ACE, Atlassian's Node framework for Connect apps) serving
//! the same webhook route (`bench/peer/app.js`: ACE's JWT check over an in-memory tenant store,
//! then 202 and nothing else), loaded exactly as the ingress is: the same tenants, the same kind
//! of pre-signed requests, the same body, the same load generator. hookline's ingress does
//! strictly more per request (a confirmed, persistent publish).
use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;

use crate::cli::LoadArgs;
use crate::cpu::{CpuTimes, CpuUse, PEER};
use crate::fixture;
use crate::load::{self, LoadPlan, LoadResult, Outcome, Pace};
use crate::peer_app::PeerUnderTest;
use crate::report::{
    cpu_per_request, load_lines, outcomes_line, pace, peer_processes, requests_line,
};
use crate::signed::{sign_webhooks, BenchTenant, SignedWebhook};

/// Another route of the same app: a token signed for it must not open the webhook route.
const OTHER_PATH: &str = "/webhooks/jira/jira:issue_updated";

/// What one peer run measured.
#[derive(Debug, Clone)]
pub struct PeerResult {
    /// The run's parameters.
    pub args: LoadArgs,
    /// Closed or open loop.
    pub pace: Pace,
    /// Node processes (more than 1: a cluster).
    pub processes: usize,
    /// Worker threads of the load generator's runtime.
    pub load_threads: usize,
    /// What the peer said it is (processes, ACE and Node versions).
    pub description: String,
    /// How it answered the checks sent before the warm-up.
    pub preflight: Preflight,
    /// Latencies and outcomes of the measured requests.
    pub load: LoadResult,
    /// Who used the CPU meanwhile.
    pub cpu: CpuUse,
}

/// The peer's answers to a good token, a forged one and one signed for another path, each
/// asserted before anything is measured, so a run cannot silently measure a peer that lets
/// anything through.
#[derive(Debug, Clone, Copy)]
pub struct Preflight {
    /// A webhook signed as the benchmark signs them (must be 202).
    pub good: Outcome,
    /// The same, signed with another secret under the tenant's clientKey (ACE answers 400
    /// when the signature does not verify).
    pub forged: Outcome,
    /// The tenant's token for another path, whose qsh does not match (401).
    pub other_path: Outcome,
}

/// Starts the peer, checks it, warms it up, measures, and stops it whatever happened.
pub async fn run(
    args: &LoadArgs,
    pace: Pace,
    processes: usize,
    load_threads: usize,
) -> anyhow::Result<PeerResult> {
    anyhow::ensure!(args.tenants > 0, "--tenants must be at least 1");
    anyhow::ensure!(processes > 0, "--processes must be at least 1");
    pace.validate()?;
    let tenants: Vec<_> = (0..args.tenants).map(BenchTenant::numbered).collect();
    let peer = PeerUnderTest::start(&tenants, processes).await?;
    let description = peer.description.clone();
    let measured = measure(&peer, &tenants, args, pace).await;
    let stopped = peer.stop().await;
    let (preflight, load, cpu) = measured?;
    stopped?;
    Ok(PeerResult {
        args: args.clone(),
        pace,
        processes,
        load_threads,
        description,
        preflight,
        load,
        cpu,
    })
}

/// The report of a peer run.
pub fn report(result: &PeerResult) -> String {
    let (args, load, preflight) = (&result.args, &result.load, &result.preflight);
    let mut out = format!(
        "## Peer: atlassian-connect-express, {}, {}\n",
        peer_processes(result.processes),
        pace(result.pace, "req/s")
    );
    requests_line(&mut out, args, load, fixture::JIRA_ISSUE_CREATED.len());
    let _ = writeln!(
        out,
        "peer       {}: JWT check over an in-memory store, then 202 (no queue, no publish)",
        result.description
    );
    let _ = writeln!(
        out,
        "preflight  good token {}, wrong secret {}, token for another path {}",
        preflight.good, preflight.forged, preflight.other_path
    );
    let _ = writeln!(
        out,
        "threads    load generator runtime {}",
        result.load_threads
    );
    load_lines(&mut out, load);
    if load.accepted() > 0 {
        let _ = writeln!(
            out,
            "cost       {:.0} us of node CPU per request",
            cpu_per_request(&result.cpu, PEER, load)
        );
    }
    outcomes_line(&mut out, load);
    let _ = write!(out, "cpu        {}", result.cpu);
    out
}

async fn measure(
    peer: &PeerUnderTest,
    tenants: &[BenchTenant],
    args: &LoadArgs,
    pace: Pace,
) -> anyhow::Result<(Preflight, LoadResult, CpuUse)> {
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let now = chrono::Utc::now().timestamp();
    let preflight = preflight(peer, &tenants[0], &run_id, now).await?;
    let warmup_count = args.warmup_requests.max(args.tenants);
    let warmup = sign_webhooks(
        tenants,
        warmup_count,
        fixture::WEBHOOK_PATH,
        &format!("w{run_id}"),
        now,
    )?;
    let webhooks = sign_webhooks(tenants, args.requests, fixture::WEBHOOK_PATH, &run_id, now)?;
    let warmed = load::run(plan(peer, warmup, args.concurrency, Pace::Closed)).await?;
    anyhow::ensure!(
        warmed.accepted() == warmup_count as u64,
        "the peer's warm-up was not all accepted: {:?}",
        warmed.outcomes
    );
    let cpu_before = CpuTimes::now();
    let result = load::run(plan(peer, webhooks, args.concurrency, pace)).await?;
    let cpu = CpuTimes::now().since(&cpu_before, result.elapsed);
    Ok((preflight, result, cpu))
}

fn plan(
    peer: &PeerUnderTest,
    webhooks: Vec<SignedWebhook>,
    concurrency: usize,
    pace: Pace,
) -> LoadPlan {
    LoadPlan {
        address: peer.address,
        path: fixture::WEBHOOK_PATH,
        body: Bytes::from_static(fixture::JIRA_ISSUE_CREATED),
        webhooks: Arc::new(webhooks),
        concurrency,
        pace,
    }
}

async fn preflight(
    peer: &PeerUnderTest,
    tenant: &BenchTenant,
    run_id: &str,
    now: i64,
) -> anyhow::Result<Preflight> {
    let signed = |tenant: &BenchTenant, path: &str, tag: &str| {
        sign_webhooks(
            std::slice::from_ref(tenant),
            1,
            path,
            &format!("{tag}{run_id}"),
            now,
        )
        .map(|mut one| one.remove(0))
    };
    let forger = BenchTenant {
        client_key: tenant.client_key.clone(),
        ..BenchTenant::numbered(0)
    };
    let preflight = Preflight {
        good: answer(peer, signed(tenant, fixture::WEBHOOK_PATH, "g")?).await?,
        forged: answer(peer, signed(&forger, fixture::WEBHOOK_PATH, "f")?).await?,
        other_path: answer(peer, signed(tenant, OTHER_PATH, "o")?).await?,
    };
    preflight.check()?;
    Ok(preflight)
}

impl Preflight {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.good == Outcome::Status(202),
            "the peer answered {} to a correctly signed webhook, not 202",
            self.good
        );
        anyhow::ensure!(
            matches!(self.forged, Outcome::Status(400 | 401)),
            "the peer answered {} to a token signed with the wrong secret: is its JWT check on?",
            self.forged
        );
        anyhow::ensure!(
            self.other_path == Outcome::Status(401),
            "the peer answered {} to a token signed for another path: is its qsh check on?",
            self.other_path
        );
        Ok(())
    }
}

/// Sends one webhook through the load generator and returns what became of it.
async fn answer(peer: &PeerUnderTest, webhook: SignedWebhook) -> anyhow::Result<Outcome> {
    let result = load::run(plan(peer, vec![webhook], 1, Pace::Closed)).await?;
    result
        .outcomes
        .into_keys()
        .next()
        .context("a preflight request had no outcome")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACE: Preflight = Preflight {
        good: Outcome::Status(202),
        forged: Outcome::Status(400),
        other_path: Outcome::Status(401),
    };

    #[test]
    fn a_peer_that_rejects_forged_and_misdirected_tokens_passes() {
        ACE.check().unwrap();
    }

    #[test]
    fn a_peer_that_lets_a_forged_token_through_is_refused() {
        let open = Preflight {
            forged: Outcome::Status(202),
            ..ACE
        };
        assert!(open.check().is_err());
        let no_qsh = Preflight {
            other_path: Outcome::Status(202),
            ..ACE
        };
        assert!(no_qsh.check().is_err());
    }
}

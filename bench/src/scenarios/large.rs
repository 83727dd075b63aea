//! Large webhooks at the release ingress: many uploads of a big `jira:issue_created` at once,
//! and the ingress's peak resident memory against its memory at ready. What bounds it is
//! `server.large_bodies_at_once`: bodies above `server.large_body_bytes` wait for a slot.
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use crate::cli::LargeArgs;
use crate::fixture;
use crate::pipeline::{Pipeline, PipelineSpec};
use crate::procs::Memory;
use crate::signed::sign_webhooks;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct LargeResult {
    /// The run's parameters.
    pub args: LargeArgs,
    /// The body size sent, bytes.
    pub body_bytes: usize,
    /// The ingress's memory once ready, and at the end (its peak covers the run).
    pub ready: Memory,
    /// The ingress's memory after the uploads.
    pub after: Memory,
    /// Answers by status.
    pub statuses: Vec<(u16, usize)>,
    /// From the first upload to the last answer.
    pub elapsed: Duration,
}

/// Starts the ingress (no worker: the events stay queued), sends the uploads, and cleans up.
pub async fn run(args: &LargeArgs) -> anyhow::Result<LargeResult> {
    let spec = PipelineSpec {
        workers: 0,
        tenants: 1,
        jira_latency: Duration::ZERO,
        worker_prefetch: None,
        log_level: "warn".into(),
        extra_env: vec![(
            "HOOKLINE_SERVER__LARGE_BODIES_AT_ONCE".into(),
            args.slots.to_string(),
        )],
    };
    let pipeline = Pipeline::start(&spec).await?;
    let measured = measure(&pipeline, args).await;
    pipeline.stop().await?;
    measured
}

async fn measure(pipeline: &Pipeline, args: &LargeArgs) -> anyhow::Result<LargeResult> {
    let ready = pipeline.figures()?[0].memory;
    let body = body_of_mib(args.size_mib)?;
    let now = chrono::Utc::now().timestamp();
    let signed = sign_webhooks(
        &pipeline.tenants,
        args.uploads,
        fixture::WEBHOOK_PATH,
        &uuid::Uuid::new_v4().simple().to_string(),
        now,
    )?;
    let url = format!(
        "http://{}{}",
        pipeline.ingress_address,
        fixture::WEBHOOK_PATH
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    let started = Instant::now();
    let uploads = signed.into_iter().map(|webhook| {
        let request = client
            .post(&url)
            .header("Authorization", webhook.authorization)
            .header("X-Atlassian-Webhook-Identifier", webhook.webhook_id)
            .header("Content-Type", "application/json")
            .body(body.clone());
        async move {
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    });
    let answers = futures::future::join_all(uploads).await;
    let elapsed = started.elapsed();
    let mut statuses: Vec<(u16, usize)> = Vec::new();
    for status in answers {
        match statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => statuses.push((status, 1)),
        }
    }
    statuses.sort_unstable();
    Ok(LargeResult {
        args: args.clone(),
        body_bytes: body.len(),
        ready,
        after: pipeline.figures()?[0].memory,
        statuses,
        elapsed,
    })
}

/// The fixture with its description grown to `mib` MiB.
fn body_of_mib(mib: usize) -> anyhow::Result<bytes::Bytes> {
    let mut payload: Value =
        serde_json::from_slice(fixture::JIRA_ISSUE_CREATED).context("the fixture is JSON")?;
    let line = "A long description line, as bulk imports and automation write them. ";
    payload["issue"]["fields"]["description"] =
        Value::String(line.repeat(mib * 1024 * 1024 / line.len()));
    Ok(serde_json::to_vec(&payload)?.into())
}

/// The report: sizes, answers, and memory.
pub fn report(result: &LargeResult) -> String {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let statuses: Vec<String> = result
        .statuses
        .iter()
        .map(|(status, n)| format!("{n}× {status}"))
        .collect();
    format!(
        "large bodies: {} uploads of {:.1} MiB at once, large_bodies_at_once={}: {} in {:.1} s\n\
         ingress RSS at ready {:.1} MiB, peak {:.1} MiB (+{:.1} MiB, {:.2}× the body size per slot), now {:.1} MiB",
        result.args.uploads,
        result.body_bytes as f64 / 1024.0 / 1024.0,
        result.args.slots,
        statuses.join(", "),
        result.elapsed.as_secs_f64(),
        mib(result.ready.current_kib),
        mib(result.after.peak_kib),
        mib(result.after.peak_kib.saturating_sub(result.ready.current_kib)),
        (result.after.peak_kib.saturating_sub(result.ready.current_kib)) as f64 * 1024.0
            / (result.body_bytes as f64 * (result.args.slots as usize).min(result.args.uploads) as f64),
        mib(result.after.current_kib),
    )
}

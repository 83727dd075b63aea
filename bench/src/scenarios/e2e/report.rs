//! The plain-text report of an end-to-end run, and the Markdown table of several.
use std::fmt::Write as _;

use common::config::WorkerSettings;

use super::E2eResult;
use crate::cpu::{BROKER, LOAD_THREAD, POSTGRES};
use crate::fixture;
use crate::load::Pace;
use crate::pipeline::ProcessFigures;
use crate::report::{mib, ms, pace, percentiles, thousands};

/// The report of an end-to-end run.
pub fn e2e(result: &E2eResult) -> String {
    let (run, sent, comments) = (&result.run, &result.sent, &result.comments);
    let mut out = format!(
        "## End to end, {} worker process{}, Jira answering in {} ms, {}\n",
        run.pipeline.workers,
        if run.pipeline.workers == 1 { "" } else { "es" },
        run.pipeline.jira_latency.as_millis(),
        pace(run.pace, "events/s")
    );
    let _ = writeln!(
        out,
        "webhooks   {} x {} B, {} connections, {} tenants with a comment rule each (after {} \
         warm-up), worker prefetch {}",
        thousands(run.events as f64),
        fixture::JIRA_ISSUE_CREATED.len(),
        run.concurrency,
        run.pipeline.tenants,
        run.pipeline.tenants,
        prefetch(result)
    );
    let _ = writeln!(
        out,
        "ingress    {} accepted (202) at {} req/s ({:.2} s), answered in {}",
        thousands(sent.accepted() as f64),
        thousands(sent.accepted_per_sec()),
        sent.elapsed.as_secs_f64(),
        percentiles(&sent.latency_us)
    );
    if sent.outcomes.len() > 1 || sent.accepted() == 0 {
        let outcomes: Vec<String> = sent
            .outcomes
            .iter()
            .map(|(o, n)| format!("{o}: {n}"))
            .collect();
        let _ = writeln!(out, "outcomes   {}", outcomes.join(", "));
    }
    let _ = writeln!(
        out,
        "comments   {} at Jira: {} comments/s ({:.2} s from the first webhook to the last comment)",
        thousands(comments.distinct as f64),
        thousands(result.throughput()),
        result.window.as_secs_f64()
    );
    let latency = comments.latency_us.as_ref().map_or_else(
        || "not measured in the closed loop (send times are not recorded)".to_owned(),
        percentiles,
    );
    let _ = writeln!(out, "latency    webhook due -> comment recorded: {latency}");
    let _ = writeln!(
        out,
        "lost       {}{}, duplicates {}, calls refused by Jira {}",
        result.lost(),
        if result.drained {
            ""
        } else {
            " (the drain timed out)"
        },
        comments.duplicates,
        result.refused_by_jira
    );
    let memory: Vec<String> = result
        .processes
        .iter()
        .map(|p| {
            let at_ready = p.memory_at_ready.current_kib as f64 / 1024.0;
            format!(
                "{} {} ({at_ready:.1} once ready)",
                p.name,
                mib(p.memory.peak_kib)
            )
        })
        .collect();
    let _ = writeln!(out, "memory     peak RSS: {}", memory.join(", "));
    let ready: Vec<String> = result
        .processes
        .iter()
        .map(|p| format!("{} {:.0} ms", p.name, p.ready.as_secs_f64() * 1e3))
        .collect();
    let _ = writeln!(
        out,
        "ready      {} (spawn -> /readyz 200 or consuming; database already migrated)",
        ready.join(", ")
    );
    if comments.distinct > 0 {
        let per_event = |name: &str| {
            let micros = result.cpu.cores(name) * result.cpu_wall.as_secs_f64() * 1e6;
            format!("{name} {:.0}", micros / comments.distinct as f64)
        };
        let names = result.processes.iter().map(|p| p.name.as_str());
        let costs: Vec<String> = names
            .chain([BROKER, POSTGRES, LOAD_THREAD])
            .map(per_event)
            .collect();
        let _ = writeln!(
            out,
            "cost       us of CPU per comment: {}",
            costs.join(", ")
        );
    }
    let _ = write!(out, "cpu        {}", result.cpu);
    out
}

/// The Markdown table of end-to-end runs.
pub fn e2e_table(results: &[E2eResult]) -> String {
    let mut out = String::from(
        "| worker processes | Jira latency | load (events/s) | accepted | comments/s \
         | webhook -> comment p50 / p99 / max | lost | duplicates \
         | peak RSS ingress / workers (MiB) | ready ingress / workers (ms) | other processes (cores) |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for result in results {
        let _ = writeln!(out, "{}", e2e_row(result));
    }
    if let Some(first) = results.first() {
        let _ = write!(
            out,
            "\n{} events (fewer in the matrix's open-loop runs: at most 60 s of sending), {} tenants, \
             {} connections, worker prefetch {}; the ingress and workers are the release binaries.",
            thousands(first.run.events as f64),
            first.run.pipeline.tenants,
            first.run.concurrency,
            prefetch(first)
        );
    }
    out
}

/// One end-to-end run as a row of [`e2e_table`].
pub fn e2e_row(result: &E2eResult) -> String {
    let run = &result.run;
    let load = match run.pace {
        Pace::Closed => "saturation".to_owned(),
        Pace::Open { rate } => thousands(rate),
    };
    let latency = result.comments.latency_us.as_ref().map_or_else(
        || "-".to_owned(),
        |us| {
            format!(
                "{} / {} / {} ms",
                ms(us.value_at_quantile(0.5)),
                ms(us.value_at_quantile(0.99)),
                ms(us.max())
            )
        },
    );
    let joined = |each: &dyn Fn(&ProcessFigures) -> String| {
        result
            .processes
            .iter()
            .map(each)
            .collect::<Vec<_>>()
            .join(" / ")
    };
    format!(
        "| {} | {} ms | {load} | {} | {} | {latency} | {} | {} | {} | {} | {:.2} |",
        run.pipeline.workers,
        run.pipeline.jira_latency.as_millis(),
        thousands(result.sent.accepted() as f64),
        thousands(result.throughput()),
        result.lost(),
        result.comments.duplicates,
        joined(&|p| format!("{:.1}", p.memory.peak_kib as f64 / 1024.0)),
        joined(&|p| format!("{:.0}", p.ready.as_secs_f64() * 1e3)),
        result.cpu.others_cores(),
    )
}

fn prefetch(result: &E2eResult) -> u16 {
    result
        .run
        .pipeline
        .worker_prefetch
        .unwrap_or_else(|| WorkerSettings::default().prefetch)
}

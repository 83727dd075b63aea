//! Plain-text reports of each run and the Markdown summary of `all`.
use std::fmt::Write as _;

use common::config::WorkerSettings;
use hdrhistogram::Histogram;

use crate::cli::LoadArgs;
use crate::cpu::{CpuUse, BROKER, INGRESS_THREAD, LAPIN_THREAD, LOAD_THREAD, PEER, POSTGRES};
use crate::fixture;
use crate::load::{LoadResult, Pace};
use crate::pipeline::ProcessFigures;
use crate::scenarios::ceiling::CeilingResult;
use crate::scenarios::e2e::E2eResult;
use crate::scenarios::ingress::IngressResult;
use crate::scenarios::peer::PeerResult;

/// The report of a ceiling run.
pub fn ceiling(result: &CeilingResult) -> String {
    let args = &result.args;
    let mut out = match result.pace {
        Pace::Closed => String::from("## Broker ceiling: confirmed publishes on one channel\n"),
        Pace::Open { .. } => format!(
            "## Broker alone, {}: confirmed publishes on one channel\n",
            pace(result.pace, "msgs/s")
        ),
    };
    let _ = writeln!(
        out,
        "messages   {} x {} B, {} confirms in flight (after {} warm-up)",
        result.confirmed + result.failed,
        result.message_bytes,
        args.in_flight,
        args.warmup_messages
    );
    let _ = writeln!(
        out,
        "rate       {} msgs/s confirmed ({:.2} s)",
        thousands(result.per_sec()),
        result.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "confirm    {}", percentiles(&result.confirm_us));
    let _ = writeln!(out, "failed     {}", result.failed);
    let _ = writeln!(
        out,
        "queued     {} (warm-up included), then deleted",
        result.queued
    );
    let _ = write!(out, "cpu        {}", result.cpu);
    out
}

/// The report of an ingress run.
pub fn ingress(result: &IngressResult) -> String {
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

/// The report of a peer run.
pub fn peer(result: &PeerResult) -> String {
    let (args, load, preflight) = (&result.args, &result.load, &result.preflight);
    let mut out = format!(
        "## Peer: atlassian-connect-express, {}, {}\n",
        peer_processes(result.processes),
        pace(result.pace, "req/s")
    );
    requests_line(&mut out, args, load);
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

/// The `requests` line of a signed-webhook load (ingress or peer).
fn requests_line(out: &mut String, args: &LoadArgs, load: &LoadResult) {
    let _ = writeln!(
        out,
        "requests   {} x {} B, {} connections, {} tenants (after {} warm-up)",
        load.outcomes.values().sum::<u64>(),
        fixture::JIRA_ISSUE_CREATED.len(),
        args.concurrency,
        args.tenants,
        args.warmup_requests.max(args.tenants)
    );
}

/// The `rate` and `latency` lines of a signed-webhook load.
fn load_lines(out: &mut String, load: &LoadResult) {
    let _ = writeln!(
        out,
        "rate       {} req/s accepted ({:.2} s)",
        thousands(load.accepted_per_sec()),
        load.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "latency    {}", percentiles(&load.latency_us));
}

/// The `outcomes` line: answers by status.
fn outcomes_line(out: &mut String, load: &LoadResult) {
    let outcomes: Vec<String> = load
        .outcomes
        .iter()
        .map(|(outcome, count)| format!("{outcome}: {count}"))
        .collect();
    let _ = writeln!(out, "outcomes   {}", outcomes.join(", "));
}

/// Microseconds of `thread`'s CPU per accepted request (the caller checks there was one).
fn cpu_per_request(cpu: &CpuUse, thread: &str, load: &LoadResult) -> f64 {
    cpu.cores(thread) * load.elapsed.as_secs_f64() * 1e6 / load.accepted() as f64
}

/// `1 process` or `cluster of N`.
fn peer_processes(processes: usize) -> String {
    if processes == 1 {
        "1 process".to_owned()
    } else {
        format!("cluster of {processes}")
    }
}

/// The Markdown table of `all`.
pub fn summary_table(
    ceiling: &CeilingResult,
    saturation: &IngressResult,
    half: &IngressResult,
    broker_alone: &CeilingResult,
    peers: &[PeerResult],
) -> String {
    let ingress = saturation.load.accepted_per_sec();
    let peer_shapes: Vec<String> = peers.iter().map(|p| peer_processes(p.processes)).collect();
    let peer_rates: Vec<f64> = peers.iter().map(|p| p.load.accepted_per_sec()).collect();
    let peer_column = peer_rates
        .iter()
        .map(|rate| thousands(*rate))
        .collect::<Vec<_>>()
        .join(" / ");
    let ratio_column = peer_rates
        .iter()
        .map(|rate| format!("{:.2}", ingress / rate.max(f64::MIN_POSITIVE)))
        .collect::<Vec<_>>()
        .join(" / ");
    let offered = match half.pace {
        Pace::Open { rate } => thousands(rate),
        Pace::Closed => "?".to_owned(),
    };
    let quantiles = |micros: &Histogram<u64>| {
        format!(
            "{} / {} ms",
            ms(micros.value_at_quantile(0.5)),
            ms(micros.value_at_quantile(0.99))
        )
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| broker ceiling (msgs/s) | ingress (req/s) | ingress / ceiling \
         | peer, {} (req/s) | ingress / peer \
         | ingress p50 / p99 at saturation | ingress p50 / p99 at half saturation ({offered} req/s) \
         | broker alone p50 / p99 at {offered} msgs/s |",
        peer_shapes.join(" / ")
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {:.2} | {} | {} | {} | {} | {} |",
        thousands(ceiling.per_sec()),
        thousands(ingress),
        ingress / ceiling.per_sec().max(f64::MIN_POSITIVE),
        peer_column,
        ratio_column,
        quantiles(&saturation.load.latency_us),
        quantiles(&half.load.latency_us),
        quantiles(&broker_alone.confirm_us),
    );
    let others = [
        ceiling.cpu.others_cores(),
        saturation.cpu.others_cores(),
        half.cpu.others_cores(),
        broker_alone.cpu.others_cores(),
    ];
    let _ = write!(
        out,
        "\n{} B messages; ceiling: 1 confirm channel, {} in flight; ingress: {} connections, \
         {} tenants, ingress runtime {} thread(s), load generator {}; other processes used \
         {:.2} / {:.2} / {:.2} / {:.2} cores during the four runs.",
        ceiling.message_bytes,
        ceiling.args.in_flight,
        saturation.args.concurrency,
        saturation.args.tenants,
        threads(saturation.runtime.ingress_threads),
        saturation.runtime.load_threads,
        others[0],
        others[1],
        others[2],
        others[3],
    );
    if let Some(first) = peers.first() {
        let peer_others: Vec<String> = peers
            .iter()
            .map(|p| format!("{:.2}", p.cpu.others_cores()))
            .collect();
        let _ = write!(
            out,
            " Peer: {} (bench/peer), JWT check over an in-memory store then 202, no queue; \
             other processes used {} cores during its runs.",
            first.description,
            peer_others.join(" / ")
        );
    }
    out
}

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

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn pace(pace: Pace, unit: &str) -> String {
    match pace {
        Pace::Closed => "closed loop (saturation)".to_owned(),
        Pace::Open { rate } => format!("open loop at {} {unit} offered", thousands(rate)),
    }
}

fn threads(ingress_threads: usize) -> String {
    if ingress_threads == 0 {
        "shared with the load generator".to_owned()
    } else {
        ingress_threads.to_string()
    }
}

/// `p50 1.23 ms, p90 ..., p99 ..., max ...`.
fn percentiles(micros: &Histogram<u64>) -> String {
    format!(
        "p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        ms(micros.value_at_quantile(0.5)),
        ms(micros.value_at_quantile(0.9)),
        ms(micros.value_at_quantile(0.99)),
        ms(micros.max())
    )
}

/// Microseconds as milliseconds with three significant digits or more.
fn ms(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    match ms {
        m if m < 10.0 => format!("{m:.2}"),
        m if m < 100.0 => format!("{m:.1}"),
        m => format!("{m:.0}"),
    }
}

/// A rate rounded to a whole number, with thousands separated: `12,345`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_numbers_with_thousands_separated() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.6), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn latencies_keep_three_significant_digits() {
        assert_eq!(ms(1_234), "1.23");
        assert_eq!(ms(12_345), "12.3");
        assert_eq!(ms(123_456), "123");
    }
}

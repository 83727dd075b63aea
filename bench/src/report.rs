//! Formatting shared by the scenarios' reports (each scenario renders its own): the lines of a
//! signed-webhook load, CPU per request, latency percentiles, and numbers as the reports print
//! them.
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::cli::LoadArgs;
use crate::cpu::CpuUse;
use crate::load::{LoadResult, Pace};

/// The `requests` line of a signed-webhook load (ingress or peer) of `body_bytes` bodies.
pub(crate) fn requests_line(
    out: &mut String,
    args: &LoadArgs,
    load: &LoadResult,
    body_bytes: usize,
) {
    let _ = writeln!(
        out,
        "requests   {} x {} B, {} connections, {} tenants (after {} warm-up)",
        load.outcomes.values().sum::<u64>(),
        body_bytes,
        args.concurrency,
        args.tenants,
        args.warmup_requests.max(args.tenants)
    );
}

/// The `rate` and `latency` lines of a signed-webhook load.
pub(crate) fn load_lines(out: &mut String, load: &LoadResult) {
    let _ = writeln!(
        out,
        "rate       {} req/s accepted ({:.2} s)",
        thousands(load.accepted_per_sec()),
        load.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "latency    {}", percentiles(&load.latency_us));
}

/// The `outcomes` line: answers by status.
pub(crate) fn outcomes_line(out: &mut String, load: &LoadResult) {
    let outcomes: Vec<String> = load
        .outcomes
        .iter()
        .map(|(outcome, count)| format!("{outcome}: {count}"))
        .collect();
    let _ = writeln!(out, "outcomes   {}", outcomes.join(", "));
}

/// Microseconds of `thread`'s CPU per accepted request (the caller checks there was one).
pub(crate) fn cpu_per_request(cpu: &CpuUse, thread: &str, load: &LoadResult) -> f64 {
    cpu.cores(thread) * load.elapsed.as_secs_f64() * 1e6 / load.accepted() as f64
}

/// `1 process` or `cluster of N`.
pub(crate) fn peer_processes(processes: usize) -> String {
    if processes == 1 {
        "1 process".to_owned()
    } else {
        format!("cluster of {processes}")
    }
}

/// Kibibytes as `12.3 MiB`.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The pace of a run for a report's title: `closed loop (saturation)` or `open loop at ...`.
pub(crate) fn pace(pace: Pace, unit: &str) -> String {
    match pace {
        Pace::Closed => "closed loop (saturation)".to_owned(),
        Pace::Open { rate } => format!("open loop at {} {unit} offered", thousands(rate)),
    }
}

/// The ingress runtime's threads (0: it shares the load generator's runtime).
pub(crate) fn threads(ingress_threads: usize) -> String {
    if ingress_threads == 0 {
        "shared with the load generator".to_owned()
    } else {
        ingress_threads.to_string()
    }
}

/// `p50 1.23 ms, p90 ..., p99 ..., max ...`.
pub(crate) fn percentiles(micros: &Histogram<u64>) -> String {
    format!(
        "p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        ms(micros.value_at_quantile(0.5)),
        ms(micros.value_at_quantile(0.9)),
        ms(micros.value_at_quantile(0.99)),
        ms(micros.max())
    )
}

/// Microseconds as milliseconds with three significant digits or more.
pub(crate) fn ms(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    match ms {
        m if m < 10.0 => format!("{m:.2}"),
        m if m < 100.0 => format!("{m:.1}"),
        m => format!("{m:.0}"),
    }
}

/// A rate rounded to a whole number, with thousands separated: `12,345`.
pub(crate) fn thousands(value: f64) -> String {
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

//! Plain-text reports of each run and the Markdown summary of `all`.
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::cpu::{INGRESS_THREAD, LAPIN_THREAD};
use crate::fixture;
use crate::load::Pace;
use crate::scenarios::ceiling::CeilingResult;
use crate::scenarios::ingress::IngressResult;

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
    let _ = writeln!(
        out,
        "requests   {} x {} B, {} connections, {} tenants (after {} warm-up)",
        load.outcomes.values().sum::<u64>(),
        fixture::JIRA_ISSUE_CREATED.len(),
        args.concurrency,
        args.tenants,
        args.warmup_requests.max(args.tenants)
    );
    let _ = writeln!(
        out,
        "threads    ingress runtime {}, load generator runtime {}",
        threads(result.runtime.ingress_threads),
        result.runtime.load_threads
    );
    let _ = writeln!(
        out,
        "rate       {} req/s accepted ({:.2} s)",
        thousands(load.accepted_per_sec()),
        load.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "latency    {}", percentiles(&load.latency_us));
    if result.runtime.ingress_threads > 0 && load.accepted() > 0 {
        let per_request = |thread: &str| {
            result.cpu.cores(thread) * load.elapsed.as_secs_f64() * 1e6 / load.accepted() as f64
        };
        let _ = writeln!(
            out,
            "cost       {:.0} us of ingress runtime CPU per request, {:.0} us in lapin's I/O thread",
            per_request(INGRESS_THREAD),
            per_request(LAPIN_THREAD)
        );
    }
    let outcomes: Vec<String> = load
        .outcomes
        .iter()
        .map(|(outcome, count)| format!("{outcome}: {count}"))
        .collect();
    let _ = writeln!(out, "outcomes   {}", outcomes.join(", "));
    let _ = writeln!(
        out,
        "queued     {} (warm-up included), then deleted",
        result.queued
    );
    let _ = write!(out, "cpu        {}", result.cpu);
    out
}

/// The Markdown table of `all`.
pub fn summary_table(
    ceiling: &CeilingResult,
    saturation: &IngressResult,
    half: &IngressResult,
    broker_alone: &CeilingResult,
) -> String {
    let ingress = saturation.load.accepted_per_sec();
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
         | ingress p50 / p99 at saturation | ingress p50 / p99 at half saturation ({offered} req/s) \
         | broker alone p50 / p99 at {offered} msgs/s |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {:.2} | {} | {} | {} |",
        thousands(ceiling.per_sec()),
        thousands(ingress),
        ingress / ceiling.per_sec().max(f64::MIN_POSITIVE),
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
    out
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

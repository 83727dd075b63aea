//! `all`: the ceiling, the ingress at saturation, the ingress at half the rate it reached, and
//! the broker alone at that same rate (how much of the latency is the broker's own), in one
//! run so the figures share the machine's state; ends with the Markdown table. After the
//! ceiling, the peer (atlassian-connect-express) at saturation, as one process and as a
//! cluster of two.
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::ceiling::CeilingResult;
use super::ingress::IngressResult;
use super::peer::PeerResult;
use crate::cli::{AllArgs, Protocol, RuntimeArgs};
use crate::cpu::INGRESS_THREAD;
use crate::load::Pace;
use crate::report::cpu_per_request;
use crate::report::{ms, peer_processes, thousands, threads};

/// The fraction of the saturation rate offered in the fixed-rate run.
const HALF: f64 = 0.5;
/// The peer's shapes: one Node process, and a cluster of two (one per core, as the ingress's
/// runtime has two threads).
const PEER_PROCESSES: [usize; 2] = [1, 2];

/// Runs the measurements in order, printing each report as it finishes.
pub async fn run(args: &AllArgs, runtime: RuntimeArgs) -> anyhow::Result<()> {
    // Before anything is measured, so a missing `npm ci` does not cost a ceiling run.
    crate::peer_app::check_installed().await?;
    let ceiling = super::ceiling::run(&args.ceiling, Pace::Closed).await?;
    println!("{}\n", super::ceiling::report(&ceiling));
    let mut peers = Vec::new();
    for processes in PEER_PROCESSES {
        let peer =
            super::peer::run(&args.load, Pace::Closed, processes, runtime.load_threads).await?;
        println!("{}\n", super::peer::report(&peer));
        peers.push(peer);
    }
    let saturation =
        super::ingress::run(&args.load, Pace::Closed, runtime, Protocol::Connect).await?;
    println!("{}\n", super::ingress::report(&saturation));
    let forge = super::ingress::run(&args.load, Pace::Closed, runtime, Protocol::Forge).await?;
    println!("{}\n", super::ingress::report(&forge));
    let rate = saturation.load.accepted_per_sec() * HALF;
    anyhow::ensure!(rate > 0.0, "the ingress accepted nothing at saturation");
    let half =
        super::ingress::run(&args.load, Pace::Open { rate }, runtime, Protocol::Connect).await?;
    println!("{}\n", super::ingress::report(&half));
    let broker_alone = super::ceiling::run(&args.ceiling, Pace::Open { rate }).await?;
    println!("{}\n", super::ceiling::report(&broker_alone));
    println!(
        "{}",
        summary_table(&ceiling, &saturation, &half, &broker_alone, &peers)
    );
    println!("\n{}", protocol_table(&saturation, &forge, &peers));
    Ok(())
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

/// One row per way in at saturation: Connect webhooks and Forge events at the ingress (same
/// load, same machine state), and the peer (Connect only), with the ratio to Connect's rate.
pub fn protocol_table(
    connect: &IngressResult,
    forge: &IngressResult,
    peers: &[PeerResult],
) -> String {
    let base = connect.load.accepted_per_sec().max(f64::MIN_POSITIVE);
    let mut out = String::from(
        "| at saturation | req/s | / ingress Connect | p50 / p99 | ingress CPU per request |\n|---|---:|---:|---:|---:|\n",
    );
    for (name, result) in [
        ("ingress, Connect (HS256 JWT, qsh)", connect),
        ("ingress, Forge (RS256 FIT, warm JWKS)", forge),
    ] {
        let rate = result.load.accepted_per_sec();
        let cpu = if result.runtime.ingress_threads > 0 && result.load.accepted() > 0 {
            format!(
                "{:.0} us",
                cpu_per_request(&result.cpu, INGRESS_THREAD, &result.load)
            )
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {:.2} | {} / {} ms | {cpu} |",
            thousands(rate),
            rate / base,
            ms(result.load.latency_us.value_at_quantile(0.5)),
            ms(result.load.latency_us.value_at_quantile(0.99)),
        );
    }
    for peer in peers {
        let rate = peer.load.accepted_per_sec();
        let _ = writeln!(
            out,
            "| peer, {} (Connect) | {} | {:.2} | {} / {} ms | - |",
            peer_processes(peer.processes),
            thousands(rate),
            rate / base,
            ms(peer.load.latency_us.value_at_quantile(0.5)),
            ms(peer.load.latency_us.value_at_quantile(0.99)),
        );
    }
    out
}

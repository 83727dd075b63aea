//! `all`: the ceiling, the ingress at saturation, the ingress at half the rate it reached, and
//! the broker alone at that same rate (how much of the latency is the broker's own), in one
//! run so the figures share the machine's state; ends with the Markdown table. After the
//! ceiling, the peer (atlassian-connect-express) at saturation, as one process and as a
//! cluster of two.
use crate::cli::{AllArgs, RuntimeArgs};
use crate::load::Pace;
use crate::report;

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
    println!("{}\n", report::ceiling(&ceiling));
    let mut peers = Vec::new();
    for processes in PEER_PROCESSES {
        let peer =
            super::peer::run(&args.load, Pace::Closed, processes, runtime.load_threads).await?;
        println!("{}\n", report::peer(&peer));
        peers.push(peer);
    }
    let saturation = super::ingress::run(&args.load, Pace::Closed, runtime).await?;
    println!("{}\n", report::ingress(&saturation));
    let rate = saturation.load.accepted_per_sec() * HALF;
    anyhow::ensure!(rate > 0.0, "the ingress accepted nothing at saturation");
    let half = super::ingress::run(&args.load, Pace::Open { rate }, runtime).await?;
    println!("{}\n", report::ingress(&half));
    let broker_alone = super::ceiling::run(&args.ceiling, Pace::Open { rate }).await?;
    println!("{}\n", report::ceiling(&broker_alone));
    println!(
        "{}",
        report::summary_table(&ceiling, &saturation, &half, &broker_alone, &peers)
    );
    Ok(())
}

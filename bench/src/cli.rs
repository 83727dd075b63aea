//! The command line: one subcommand per scenario.
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load tests of hookline's ingress against real PostgreSQL and RabbitMQ.
///
/// Services are found as the test suite finds them: `HOOKLINE_TEST_DATABASE_URL` (default
/// postgres://postgres@127.0.0.1:5432/test) and `HOOKLINE_TEST_AMQP_URL` (default the local
/// broker as guest). Every run uses a fresh database and a unique queue prefix, and deletes both.
#[derive(Debug, Parser)]
#[command(name = "hookline-bench", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Log filter (`RUST_LOG` wins). The ingress logs a line per accepted event at `info`,
    /// which is left out by default so the figures measure the pipeline, not the terminal.
    #[arg(long, global = true, default_value = "warn")]
    pub log_level: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The broker's own confirmed-publish rate on one confirm channel: the ingress's ceiling.
    Ceiling(CeilingRunArgs),
    /// Signed webhooks at an in-process ingress, closed loop (saturation) or at a fixed rate.
    Ingress(IngressArgs),
    /// atlassian-connect-express (bench/peer, on Node) under the ingress's load: its JWT check
    /// over an in-memory store, then 202. Needs `npm ci --prefix bench/peer`.
    Peer(PeerArgs),
    /// Webhooks in, comments out, with the real processes: the release ingress and workers,
    /// the simulated Jira in this process; throughput, webhook-to-comment latency, losses,
    /// duplicates, memory and start-up time. Needs `cargo build --release -p ingress -p worker`.
    E2e(E2eArgs),
    /// Many large webhooks at once at the release ingress: its peak memory against its memory
    /// at ready (`server.large_bodies_at_once` bounds it). Needs `cargo build --release -p ingress`.
    LargeBodies(LargeArgs),
    /// `hookline up` on its default (SQLite, local queue) without and with group commit, against
    /// the peer (one Node process): saturation, the worker's drain, half-saturation latency.
    /// Needs `npm ci --prefix bench/peer` unless --no-peer.
    Embedded(EmbeddedArgs),
    /// Ceiling, peer at saturation (1 and 2 processes), ingress at saturation, ingress at half
    /// that rate and the broker alone at that rate; ends with a Markdown table.
    All(AllArgs),
}

/// Threads of the two runtimes sharing this process.
#[derive(Debug, Clone, Copy, Args)]
pub struct RuntimeArgs {
    /// Worker threads of the ingress's own runtime (2, as `#[tokio::main]` gives the ingress
    /// on a two-core machine); 0 runs it on the load generator's runtime.
    #[arg(long, global = true, default_value_t = 2)]
    pub ingress_threads: usize,
    /// Worker threads of the load generator's runtime (which also runs the ceiling publisher).
    #[arg(long, global = true, default_value_t = 1)]
    pub load_threads: usize,
}

#[derive(Debug, Clone, Args)]
pub struct CeilingArgs {
    /// Messages to publish (after the warm-up).
    #[arg(long, default_value_t = 50_000)]
    pub messages: usize,
    /// Confirms awaited at once on the channel (compare with the ingress's --concurrency).
    #[arg(long, default_value_t = 64)]
    pub in_flight: usize,
    /// Message size; by default the exact envelope the ingress publishes for the fixture.
    #[arg(long)]
    pub body_bytes: Option<usize>,
    /// Messages published first and left out of the figures.
    #[arg(long, default_value_t = 2_000)]
    pub warmup_messages: usize,
}

#[derive(Debug, Clone, Args)]
pub struct CeilingRunArgs {
    #[command(flatten)]
    pub ceiling: CeilingArgs,
    /// Messages per second (open loop: the broker's latency at that load); without it,
    /// back to back.
    #[arg(long)]
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Webhooks to send (after the warm-up).
    #[arg(long, default_value_t = 50_000)]
    pub requests: usize,
    /// Connections, each with one request at a time.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Installed, enabled tenants the webhooks come from, in turn.
    #[arg(long, default_value_t = 100)]
    pub tenants: usize,
    /// Webhooks sent first and left out of the figures (at least one per tenant, so every
    /// tenant is in the ingress's cache when measuring starts).
    #[arg(long, default_value_t = 2_000)]
    pub warmup_requests: usize,
}

#[derive(Debug, Clone, Args)]
pub struct IngressArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Offered load in requests per second (open loop); without it, closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Connect webhooks (HS256 JWT with qsh, each tenant's secret) or Forge events (RS256
    /// Forge Invocation Tokens against a warm JWKS, each token used once).
    #[arg(long, value_enum, default_value_t = Protocol::Connect)]
    pub protocol: Protocol,
}

/// How the requests at the ingress are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// Signed Connect webhooks at `/webhooks/jira/jira:issue_created`.
    Connect,
    /// Forge product events at `/forge/events`.
    Forge,
}

impl Protocol {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "Connect",
            Self::Forge => "Forge",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct PeerArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Offered load in requests per second (open loop); without it, closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Node processes, one run for each value: 1 is a single process, more a Node `cluster`
    /// of that many workers (the ingress's runtime has 2 threads).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub processes: Vec<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct E2eArgs {
    /// Worker processes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub workers: u16,
    /// Webhooks to send (after a warm-up of one per tenant).
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Offered load in webhooks per second (open loop); default 250. With --matrix, the rate
    /// of every open-loop run instead of half the throughput found.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Send back to back instead (closed loop): the sustainable throughput, as comments per
    /// second recorded by the simulated Jira.
    #[arg(long, conflicts_with = "rate")]
    pub closed: bool,
    /// How long the simulated Jira takes to answer each call, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jira_latency_ms: u64,
    /// The workers' prefetch (`HOOKLINE_WORKER__PREFETCH`); without it, the worker's default.
    #[arg(long)]
    pub worker_prefetch: Option<u16>,
    /// Connections of the load generator, each with one request at a time.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Tenants the webhooks come from, in turn, each with one comment rule for
    /// jira:issue_created.
    #[arg(long, default_value_t = 100)]
    pub tenants: usize,
    /// Seconds without a new comment after which the missing ones count as lost.
    #[arg(long, default_value_t = 60)]
    pub drain_timeout_secs: u64,
    /// Log filter of the ingress and worker processes (`HOOKLINE_LOG__LEVEL`; an inherited
    /// `RUST_LOG` wins). Their output goes to standard error.
    #[arg(long, default_value = "warn")]
    pub process_log_level: String,
    /// A setting for every process, as `HOOKLINE_VAR=value` (repeatable), e.g.
    /// `HOOKLINE_DATABASE__GROUP_COMMIT_ROWS=1` to measure without group commit.
    #[arg(long = "setting", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    /// Worker processes {1, 2} x Jira latency {0, 100 ms}: at each, saturation (closed loop),
    /// then the open loop at half the throughput found; ends with one Markdown table.
    #[arg(long, conflicts_with_all = ["workers", "jira_latency_ms", "closed"])]
    pub matrix: bool,
    /// The noisy neighbour: one tenant floods (closed loop, --events webhooks) while 20 quiet
    /// tenants send at --rate (default 20/s) against a 100 ms Jira, with the tenants' lanes
    /// off and on; and one tenant alone at saturation, lanes off and on (their cost).
    #[arg(long, conflicts_with_all = ["matrix", "workers", "closed", "tenants"])]
    pub noisy: bool,
}

#[derive(Debug, Clone, Args)]
pub struct EmbeddedArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// How long the simulated Jira takes to answer each call, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jira_latency_ms: u64,
    /// Seconds without a new comment after which the missing ones count as lost.
    #[arg(long, default_value_t = 60)]
    pub drain_timeout_secs: u64,
    /// Leave the peer out (no Node needed).
    #[arg(long)]
    pub no_peer: bool,
    /// Leave out the run without group commit (the baseline), e.g. for long runs.
    #[arg(long)]
    pub no_baseline: bool,
}

/// `HOOKLINE_VAR=value`.
fn parse_setting(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((var, value)) if var.starts_with("HOOKLINE_") => {
            Ok((var.to_owned(), value.to_owned()))
        }
        _ => Err(format!("{raw:?} is not HOOKLINE_VAR=value")),
    }
}

#[derive(Debug, Clone, Args)]
pub struct LargeArgs {
    /// Size of each webhook body, MiB (Jira sends at most 25 MB).
    #[arg(long, default_value_t = 24)]
    pub size_mib: usize,
    /// Uploads sent at once.
    #[arg(long, default_value_t = 16)]
    pub uploads: usize,
    /// The ingress's `server.large_bodies_at_once`.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
}

#[derive(Debug, Clone, Args)]
pub struct AllArgs {
    #[command(flatten)]
    pub ceiling: CeilingArgs,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn runtime_flags_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "hookline-bench",
            "ingress",
            "--rate",
            "500",
            "--ingress-threads",
            "2",
        ])
        .unwrap();
        assert_eq!(cli.runtime.ingress_threads, 2);
        let Command::Ingress(args) = cli.command else {
            panic!("not the ingress scenario")
        };
        assert_eq!(args.rate, Some(500.0));
        assert_eq!(args.load.tenants, 100);
    }

    #[test]
    fn the_peer_runs_as_one_process_then_as_a_cluster_of_two_unless_told() {
        let cli = Cli::try_parse_from(["hookline-bench", "peer"]).unwrap();
        let Command::Peer(args) = cli.command else {
            panic!("not the peer scenario")
        };
        assert_eq!(args.processes, [1, 2]);
        let cli = Cli::try_parse_from(["hookline-bench", "peer", "--processes", "2"]).unwrap();
        let Command::Peer(args) = cli.command else {
            panic!("not the peer scenario")
        };
        assert_eq!(args.processes, [2]);
    }
}

use anyhow::Context;
use bench::cli::Cli;
use clap::Parser;
use tracing_subscriber::EnvFilter;

// glibc malloc showed up at about 10% of the ingress's CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cli.log_level))
        .context("parsing --log-level")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .compact()
        .init();
    // The load generator gets its own runtime; the ingress under test gets another (see
    // `harness`), so neither can starve the other's scheduler.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.runtime.load_threads)
        .thread_name(bench::cpu::LOAD_THREAD)
        .enable_all()
        .build()
        .context("building the load generator's runtime")?;
    // Spawned, so the scenario itself runs on (and is accounted to) the runtime's threads.
    let scenario = runtime.spawn(bench::scenarios::run(cli.command, cli.runtime));
    runtime.block_on(scenario)?
}

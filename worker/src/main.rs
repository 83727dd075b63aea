use common::config::Settings;
use common::shutdown::shutdown_on_signal;
use common::telemetry::{get_subscriber, init_subscriber};
use worker::startup::Worker;

// glibc malloc showed up at about 10% of the ingress's CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(None)?;
    init_subscriber(get_subscriber(&settings.log));
    settings.warn_deprecated();
    let worker = Worker::build(settings, shutdown_on_signal()).await?;
    worker.run_until_stopped().await;
    Ok(())
}

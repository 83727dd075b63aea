use common::config::Settings;
use common::telemetry::{get_subscriber, init_subscriber};
use ingress::startup::Application;

// glibc malloc showed up at about 10% of the ingress's CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(None)?;
    init_subscriber(get_subscriber(&settings.log));
    settings.warn_deprecated();
    let shutdown = common::shutdown::shutdown_on_signal();
    let application = Application::build(settings, shutdown).await?;
    application.run_until_stopped().await;
    Ok(())
}

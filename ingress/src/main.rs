use common::config::Settings;
use common::telemetry::{get_subscriber, init_subscriber};
use ingress::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(None)?;
    init_subscriber(get_subscriber(&settings.log));
    let shutdown = common::shutdown::shutdown_on_signal();
    let application = Application::build(settings, shutdown).await?;
    application.run_until_stopped().await;
    Ok(())
}

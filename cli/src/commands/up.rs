//! `hookline up`: the whole pipeline in one process until Ctrl-C or SIGTERM.
use std::path::Path;
use std::process::ExitCode;

use common::config::{DataDir, Settings};
use common::shutdown::shutdown_on_signal;
use common::telemetry::{get_subscriber, init_subscriber};
use hookline::standalone::Pipeline;

use crate::cli::UpArgs;

/// The descriptor's default base URL, which follows `--port` unless configured otherwise.
const DEFAULT_BASE_URL: &str = "http://localhost:8080";

pub async fn run(config: Option<&Path>, args: UpArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(config, args)?;
    init_subscriber(get_subscriber(&settings.log));
    settings.warn_deprecated();
    let mode = if settings.amqp.uses_broker() {
        "RabbitMQ"
    } else {
        "embedded (SQLite + local queue)"
    };
    let pipeline = Pipeline::start(settings.clone(), shutdown_on_signal()).await?;
    println!("hookline is up ({mode})");
    for product in settings.app.products() {
        println!(
            "  {product:<11} http://{}:{}/{product}/atlassian-connect.json",
            settings.server.host, pipeline.port
        );
    }
    println!("  app baseUrl {}", settings.app.base_url);
    println!(
        "  health      http://{}:{}/readyz   metrics /metrics",
        settings.server.host, pipeline.port
    );
    println!("Press Ctrl-C to stop.");
    pipeline.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// The settings with the command-line overrides applied, validated again.
pub fn settings(config: Option<&Path>, args: UpArgs) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(config)?;
    if let Some(port) = args.port {
        settings.server.port = port;
        if settings.app.base_url == DEFAULT_BASE_URL && port != 0 {
            settings.app.base_url = format!("http://localhost:{port}");
        }
    }
    if let Some(host) = args.host {
        settings.server.host = host;
    }
    if let Some(dir) = args.data_dir {
        settings.data_dir = DataDir(dir);
    }
    if args.amqp_url.is_some() {
        settings.amqp.url = args.amqp_url;
    }
    if args.database_url.is_some() {
        settings.database.url = args.database_url;
    }
    settings.validate()?;
    Ok(settings)
}

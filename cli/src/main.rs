//! `hookline`: the command line of the hookline webhook pipeline.
mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

// glibc malloc showed up at about 10% of the ingress's CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

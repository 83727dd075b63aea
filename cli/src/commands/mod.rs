//! One module per subcommand; each returns the process exit code.
mod demo;
mod jwt;
mod migrate;
mod up;

use std::process::ExitCode;

use crate::cli::{Cli, Command, JwtCommand};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up(args) => up::run(cli.config.as_deref(), args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Migrate(args) => migrate::run(cli.config.as_deref(), args).await,
        Command::Jwt(JwtCommand::Qsh(args)) => Ok(jwt::qsh(&args)),
        Command::Jwt(JwtCommand::Inspect(args)) => jwt::inspect(&args),
    }
}

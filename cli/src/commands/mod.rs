//! One module per subcommand; each returns the process exit code.
mod admin;
#[cfg(feature = "demo")]
mod demo;
mod dlq;
mod forge;
mod jwt;
mod keys;
mod migrate;
mod rules;
mod table;
mod tenants;
mod up;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ForgeCommand, JwtCommand, KeysCommand};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Up(args) => up::run(config, args).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args).await,
        Command::Migrate(args) => migrate::run(config, args).await,
        Command::Jwt(JwtCommand::Qsh(args)) => Ok(jwt::qsh(&args)),
        Command::Jwt(JwtCommand::Inspect(args)) => jwt::inspect(&args),
        Command::Tenants(command) => tenants::run(config, command).await,
        Command::Rules(command) => rules::run(config, command).await,
        Command::Dlq(command) => dlq::run(config, command).await,
        Command::Keys(KeysCommand::Rotate) => keys::rotate(config).await,
        Command::Forge(ForgeCommand::Manifest(args)) => forge::run_manifest(config, &args),
    }
}

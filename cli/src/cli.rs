//! The command-line grammar (clap derive); every subcommand has `--help`.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// hookline: a webhook pipeline for Atlassian Connect apps (Jira and Confluence).
#[derive(Debug, Parser)]
#[command(name = "hookline", version, about, propagate_version = true)]
pub struct Cli {
    /// Settings file (TOML); defaults to $HOOKLINE_CONFIG, then built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline (ingress and worker) in one process.
    ///
    /// With no options it uses the embedded default: SQLite and a durable local queue in the
    /// data directory. With --amqp-url and --database-url it uses RabbitMQ and PostgreSQL.
    Up(UpArgs),
    /// A one-minute tour: the pipeline and the Connect simulator together, two tenants, a few
    /// webhooks, and what was posted back.
    Demo(DemoArgs),
    /// Apply or inspect database migrations.
    Migrate(MigrateArgs),
    /// Connect JWT tools: decode and check tokens, compute query string hashes.
    #[command(subcommand)]
    Jwt(JwtCommand),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Option<MigrateAction>,
    /// Database URL (overrides the settings), e.g. postgres://postgres@127.0.0.1/hookline.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the most recent migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Decode a token and check it against a request: qsh, times and (given the key) signature.
    Inspect(InspectArgs),
    /// Print the canonical request and query string hash of a request.
    Qsh(RequestArgs),
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// HTTP method of the request.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// The request URL or target as sent (`/rest/api/2/issue/X-1?expand=names`).
    #[arg(long)]
    pub url: String,
    /// The base path to strip (the app's baseUrl path, or `/wiki` for Confluence).
    #[arg(long, default_value = "")]
    pub base_path: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token (a leading `JWT ` is ignored); taken from the URL's `jwt` parameter if omitted.
    pub token: Option<String>,
    /// HTTP method of the request the token was sent with.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// The request URL or target the token was sent with, to check its qsh.
    #[arg(long)]
    pub url: Option<String>,
    /// The base path to strip (the app's baseUrl path, or `/wiki` for Confluence).
    #[arg(long, default_value = "")]
    pub base_path: String,
    /// The tenant's sharedSecret, to check an HS256 signature.
    #[arg(long, conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// A file holding the sharedSecret (keeps it out of shell history).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// A PEM public key, to check an RS256 (signed-install) signature.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Clock skew allowed on exp and iat, seconds.
    #[arg(long, default_value_t = 30)]
    pub leeway: u64,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Port of the ingress (0 picks a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind.
    #[arg(long)]
    pub host: Option<String>,
    /// Where the embedded mode keeps its database and key file.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use RabbitMQ at this URL instead of the local queue.
    #[arg(long, value_name = "URL")]
    pub amqp_url: Option<String>,
    /// Use this database (postgres://… or sqlite://…) instead of SQLite in the data directory.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database (a temporary directory by default).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

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
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Apply or inspect database migrations.
    Migrate(MigrateArgs),
    /// Connect JWT tools: decode and check tokens, compute query string hashes.
    #[command(subcommand)]
    Jwt(JwtCommand),
    /// Inspect and administer tenants (installed sites).
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// List, add, remove, enable and disable a tenant's rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Inspect, replay and purge dead letters (RabbitMQ `{prefix}.dead`, or the local queue).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Manage the keys that encrypt tenant secrets at rest.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// hookline as the remote of a Forge app: the app's manifest.
    #[command(subcommand)]
    Forge(ForgeCommand),
}

#[derive(Debug, Subcommand)]
pub enum ForgeCommand {
    /// Print the Forge app's manifest.yml (YAML on standard output), hookline as its remote.
    ///
    /// From the settings: forge.app_id (required) is the app's id, app.base_url the remote's
    /// baseUrl, and app.webhooks the events its triggers send (with the scopes they and
    /// hookline's actions need). Deploy it with Atlassian's forge CLI (`forge deploy`,
    /// `forge install`), which this command does not run.
    Manifest(ForgeManifestArgs),
}

#[derive(Debug, Args)]
pub struct ForgeManifestArgs {
    /// The Forge runtime the manifest names (Forge requires one even when, as here, every
    /// module runs on the remote).
    #[arg(
        long,
        default_value = "nodejs22.x",
        value_parser = ["nodejs20.x", "nodejs22.x", "nodejs24.x"]
    )]
    pub runtime: String,
    /// Connect on Forge: also declare the Connect app (`app.connect`, its key the descriptor's)
    /// and its descriptor's modules (`connectModules`). Each event then comes by a Connect
    /// webhook unless forge.triggers moves it to a Forge trigger, and the pages stay Connect
    /// pages unless forge.custom_ui is true.
    #[arg(long)]
    pub connect: bool,
    /// Only this product's events, pages and Connect modules (needed with --connect when
    /// app.jira.key and app.confluence.key differ: one Forge app carries one Connect app).
    #[arg(long, value_parser = ["jira", "confluence"])]
    pub product: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// List every tenant: clientKey, product, state, baseUrl, installed at (never the secret).
    List,
    /// Show one tenant (every field but the secret), its rule count and recent activity.
    Show {
        /// The tenant's clientKey.
        client_key: String,
    },
    /// Disable a tenant: its webhooks are refused (403) and queued events are skipped.
    ///
    /// Running processes notice within `database.tenant_cache_ttl_secs`. A lifecycle `enabled`
    /// callback from the site, or `hookline tenants enable`, enables it again.
    Disable {
        /// The tenant's clientKey.
        client_key: String,
    },
    /// Enable a disabled tenant again.
    Enable {
        /// The tenant's clientKey.
        client_key: String,
    },
    /// Pause a tenant: its webhooks are still accepted, and the workers hold its events
    /// (stored, not acted on) until it is resumed.
    ///
    /// Running workers hold its events within about a second. Nothing is refused or lost:
    /// unlike `disable`, which refuses its webhooks and skips its queued events.
    Pause {
        /// The tenant's clientKey.
        client_key: String,
    },
    /// Resume a paused tenant: its held events go back into the queue in the order they were
    /// held, and its new events are acted on again.
    ///
    /// Running workers act on its events again, and start releasing the held ones, within
    /// about a second.
    Resume {
        /// The tenant's clientKey.
        client_key: String,
    },
    /// Tie a Connect tenant to its site's Forge installation (Connect on Forge).
    ///
    /// Only for a tenant installed before the app was on Forge: its `installed` named no
    /// installation, and Atlassian does not send `installed` again. The site's cloud id is at
    /// `https://<site>.atlassian.net/_edge/tenant_info`. A tenant its Forge installation
    /// created already (with its rules and history) is merged into the Connect tenant now;
    /// otherwise the installation's first call joins it.
    Link {
        /// The Connect tenant's clientKey.
        client_key: String,
        /// The site's cloud id (a UUID).
        #[arg(long)]
        cloud_id: String,
    },
    /// Choose how the worker calls a tenant known both ways (a Connect app on Forge).
    ///
    /// `connect`: a Connect JWT to its baseUrl; `forge`: the app system token to its Forge
    /// apiBaseUrl; `auto`: Connect while it has a sharedSecret, else Forge. When the chosen way
    /// cannot be used (no sharedSecret, no usable token), the other one is. Running workers
    /// switch within `database.tenant_cache_ttl_secs`, without a restart.
    Calls {
        /// The tenant's clientKey.
        client_key: String,
        /// connect, forge or auto.
        #[arg(value_enum)]
        with: CallsWith,
    },
    /// Delete a tenant with its rules, event ledger rows and held events, in one transaction.
    ///
    /// Without --yes, prints what would be deleted and deletes nothing (exit code 1).
    Purge {
        /// The tenant's clientKey.
        client_key: String,
        /// Really delete.
        #[arg(long)]
        yes: bool,
    },
}

/// How the worker calls a tenant (`hookline tenants calls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CallsWith {
    /// A Connect JWT to the site's baseUrl.
    Connect,
    /// The app system token to the installation's apiBaseUrl.
    Forge,
    /// Connect while the tenant has a sharedSecret, else Forge.
    Auto,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List a tenant's rules.
    List {
        /// The tenant's clientKey.
        client_key: String,
    },
    /// Add a rule (JSON, validated for the tenant's product) to a tenant.
    ///
    /// Example: --json '{"name": "triage", "event": "jira:issue_created", "action":
    /// {"type": "jira_comment", "template": "{{ issue.key }} is queued for triage."}}'
    Add(RuleAddArgs),
    /// Remove one of a tenant's rules.
    Remove(RuleRef),
    /// Enable one of a tenant's rules.
    Enable(RuleRef),
    /// Disable one of a tenant's rules (kept, but not applied).
    Disable(RuleRef),
}

#[derive(Debug, Args)]
pub struct RuleAddArgs {
    /// The tenant's clientKey.
    pub client_key: String,
    /// A file holding the rule's JSON (`-` reads standard input).
    #[arg(long, value_name = "FILE", required_unless_present = "json")]
    pub file: Option<PathBuf>,
    /// The rule's JSON inline.
    #[arg(long, value_name = "JSON", conflicts_with = "file")]
    pub json: Option<String>,
}

#[derive(Debug, Args)]
pub struct RuleRef {
    /// The tenant's clientKey.
    pub client_key: String,
    /// The rule's id (see `hookline rules list`).
    pub rule_id: i64,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters: id, clientKey, event, reason.
    ///
    /// On RabbitMQ the id is the message id (the delivery id). Listing is non-destructive: it
    /// takes every message with basic.get and returns them all with nack(requeue) at the end,
    /// which may change their order in the queue.
    List {
        /// Only this tenant's dead letters (a Forge tenant: its key or its installation ARI).
        #[arg(long, value_name = "CLIENT_KEY")]
        client_key: Option<String>,
    },
    /// Show one dead letter's details.
    Show {
        /// The dead letter's id (see `hookline dlq list`).
        id: String,
        /// Also print the webhook payload (it may hold personal data).
        #[arg(long)]
        payload: bool,
    },
    /// Move dead letters back to the work queue as first attempts.
    ///
    /// On RabbitMQ each selected message is republished (persistent, confirmed) to the events
    /// exchange with routing key `{product}.{event}` and removed from the dead-letter queue
    /// only once the broker confirmed the copy; the others are returned untouched.
    Replay {
        #[command(flatten)]
        select: DlqSelect,
        /// List what would move, and move nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete dead letters for good.
    ///
    /// Without --yes, prints what would be deleted and deletes nothing (exit code 1).
    Purge {
        #[command(flatten)]
        select: DlqSelect,
        /// Really delete.
        #[arg(long)]
        yes: bool,
    },
}

/// Which dead letters a command acts on: exactly one of the three.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct DlqSelect {
    /// The dead letter with this id.
    #[arg(long)]
    pub id: Option<String>,
    /// Every dead letter of this tenant (a Forge tenant: its key or its installation ARI).
    #[arg(long, value_name = "CLIENT_KEY")]
    pub client_key: Option<String>,
    /// Every dead letter.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every tenant secret under a new key, then retire the old keys.
    ///
    /// Works on the key file (`security.key_file`, default `{data_dir}/hookline.key`). Steps:
    /// (1) a new key is written to the key file as the active key, keeping the old ones;
    /// (2) every secret is re-encrypted under it; (3) every tenant is checked to decrypt with
    /// the new key alone; (4) the key file is rewritten with only the new key. Safe to
    /// interrupt and run again: a key file holding more than one key is a rotation in
    /// progress, which is finished with its active key instead of starting another.
    ///
    /// Running hookline processes keep the keys they loaded at start: stop them first, or
    /// restart every one of them right after.
    ///
    /// With inline keys (`security.encryption_keys`), which hookline cannot rewrite: holding
    /// one key, it prints a new key to put first and exits 1; holding several, it re-encrypts
    /// under the first, verifies, and names the keys to remove.
    Rotate,
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

#[cfg(feature = "demo")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database (a temporary directory by default).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Show a Connect app moving to Forge instead: one tenant across both, one effect when
    /// an event comes both ways, calls switched to Forge, Connect uninstalled.
    #[arg(long)]
    pub forge: bool,
}

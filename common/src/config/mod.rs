//! hookline's settings: one [`Settings`] with a section per concern, read from an optional
//! TOML file and `HOOKLINE_`-prefixed environment variables (`HOOKLINE_DATABASE__URL`,
//! `HOOKLINE_APP__SCOPES=READ,WRITE`), then validated.
//!
//! With no file and no variables the defaults run the embedded mode: SQLite in `./data`, the
//! in-process queue, and a key file created on first run.
mod app;
mod forge;
mod sections;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use app::{AppSettings, ProductIdentity};
pub use forge::{ForgeSettings, PRODUCTION_JWKS_URL};
pub use sections::{
    AmqpSettings, DatabaseSettings, FairnessSettings, LogFormat, LogSettings, OutboundSettings,
    SecuritySettings, ServerSettings, WorkerSettings,
};
pub use validate::ConfigError;

/// Environment variable naming the settings file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "HOOKLINE_CONFIG";

/// Variables with this prefix configure the test suite, not hookline.
const TEST_ENV_PREFIX: &str = "HOOKLINE_TEST_";

/// Every setting of hookline.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where embedded-mode state lives (SQLite database, key file).
    pub data_dir: DataDir,
    /// The HTTP server of the ingress.
    pub server: ServerSettings,
    /// The database holding tenants, rules and the event ledger.
    pub database: DatabaseSettings,
    /// The RabbitMQ broker; absent means the in-process queue.
    pub amqp: AmqpSettings,
    /// The app's identity in its Connect descriptor.
    pub app: AppSettings,
    /// Secrets at rest and token checks.
    pub security: SecuritySettings,
    /// Event processing.
    pub worker: WorkerSettings,
    /// Calls to Jira and Confluence.
    pub outbound: OutboundSettings,
    /// Fair share of the workers between tenants.
    pub fairness: FairnessSettings,
    /// hookline as a Forge remote (off until `forge.app_id` is set).
    pub forge: ForgeSettings,
    /// Deprecated keys the settings used, each with its replacement (not a setting).
    #[serde(skip)]
    pub deprecated: Vec<&'static str>,
    /// Logging.
    pub log: LogSettings,
}

/// The data directory (default `./data`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct DataDir(pub PathBuf);

impl Default for DataDir {
    fn default() -> Self {
        Self(PathBuf::from("data"))
    }
}

impl Settings {
    /// Reads the settings: defaults, then the file (`path`, else `$HOOKLINE_CONFIG` if set),
    /// then `HOOKLINE_*` variables; and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(path, std::env::vars())
    }

    /// [`Settings::load`] with the environment given explicitly (tests, tools).
    pub fn load_from(
        path: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("HOOKLINE_"))
            .collect();
        let file = path
            .map(Path::to_path_buf)
            .or_else(|| vars.get(CONFIG_FILE_ENV).map(PathBuf::from));
        let settings_vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(name, _)| name != CONFIG_FILE_ENV && !name.starts_with(TEST_ENV_PREFIX))
            .collect();
        let mut builder = config::Config::builder();
        if let Some(file) = &file {
            if !file.is_file() {
                return Err(ConfigError::MissingFile(file.clone()));
            }
            builder = builder.add_source(config::File::from(file.as_path()));
        }
        let environment = config::Environment::with_prefix("HOOKLINE")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("app.scopes")
            .with_list_parse_key("app.webhooks")
            .with_list_parse_key("app.allowed_base_url_hosts")
            .with_list_parse_key("app.frame_ancestors")
            .with_list_parse_key("amqp.retry_delays_secs")
            .with_list_parse_key("amqp.urls")
            .with_list_parse_key("forge.api_base_url_hosts")
            .with_list_parse_key("forge.triggers")
            .source(Some(settings_vars));
        let settings: Self = builder
            .add_source(environment)
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let settings = settings.with_deprecated_keys_moved();
        settings.validate()?;
        Ok(settings)
    }

    /// The settings with the keys that moved (kept for one release) taken to their new places,
    /// each noted in `deprecated`; a new key set beside its old one wins.
    fn with_deprecated_keys_moved(mut self) -> Self {
        let defaults = Settings::default();
        let moves = [
            (
                self.worker.http_timeout_secs.take(),
                &mut self.outbound.timeout_secs,
                defaults.outbound.timeout_secs,
                "worker.http_timeout_secs: use outbound.timeout_secs",
            ),
            (
                self.worker.http_connect_timeout_secs.take(),
                &mut self.outbound.connect_timeout_secs,
                defaults.outbound.connect_timeout_secs,
                "worker.http_connect_timeout_secs: use outbound.connect_timeout_secs",
            ),
            (
                self.worker.rules_cache_ttl_secs.take(),
                &mut self.database.rules_cache_ttl_secs,
                defaults.database.rules_cache_ttl_secs,
                "worker.rules_cache_ttl_secs: use database.rules_cache_ttl_secs",
            ),
        ];
        for (old, new, default, note) in moves {
            if let Some(old) = old {
                if *new == default {
                    *new = old;
                }
                self.deprecated.push(note);
            }
        }
        self
    }

    /// Logs a warning for each deprecated key the settings used (call it once the subscriber
    /// is installed).
    pub fn warn_deprecated(&self) {
        for note in &self.deprecated {
            tracing::warn!(setting = %note, "a deprecated setting is in use; it will be removed");
        }
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.0.join("hookline.db").display()
            ),
        }
    }

    /// The key file, defaulting to `hookline.key` in the data directory.
    pub fn key_file(&self) -> PathBuf {
        self.security
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.0.join("hookline.key"))
    }

    /// The encryption keys: inline from `security.encryption_keys`, else the key file
    /// (created with mode 0600 on first run).
    pub fn keyring(&self) -> Result<crate::crypto::Keyring, crate::crypto::CryptoError> {
        match &self.security.encryption_keys {
            Some(spec) => crate::crypto::Keyring::from_spec(spec),
            None => crate::crypto::Keyring::load_or_create_key_file(self.key_file()),
        }
    }
}

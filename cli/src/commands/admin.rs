//! What the admin commands (`tenants`, `rules`, `dlq`, `keys`) share: the settings, the
//! database and its stores, loaded exactly as the services load them.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::config::Settings;
use common::held::HeldEvents;
use common::ledger::LedgerStore;
use common::rules::RuleStore;
use common::tenant::{ClientKey, Tenant, TenantStore};
use sea_orm::DatabaseConnection;

/// Settings and a migrated database connection.
pub struct Admin {
    pub settings: Settings,
    pub db: DatabaseConnection,
}

impl Admin {
    /// Loads the settings (`--config`, `HOOKLINE_*`) and connects to their database.
    pub async fn open(config: Option<&Path>) -> anyhow::Result<Self> {
        let settings = Settings::load(config)?;
        let db = connect_database(&settings).await?;
        Ok(Self { settings, db })
    }

    /// The tenant store, with the configured keys. Nothing is cached: one command, one read.
    pub fn tenants(&self) -> anyhow::Result<TenantStore> {
        let keyring = self
            .settings
            .keyring()
            .context("loading the encryption keys")?;
        Ok(TenantStore::new(
            self.db.clone(),
            Arc::new(keyring),
            Duration::ZERO,
        ))
    }

    /// The rule store.
    pub fn rules(&self) -> RuleStore {
        RuleStore::new(self.db.clone(), Duration::ZERO)
    }

    /// The event ledger.
    pub fn ledger(&self) -> LedgerStore {
        LedgerStore::new(self.db.clone())
    }

    /// The events of paused tenants.
    pub fn held(&self) -> HeldEvents {
        HeldEvents::new(self.db.clone())
    }

    /// The tenant with this client key, or an error naming it.
    pub async fn tenant(&self, store: &TenantStore, client_key: &str) -> anyhow::Result<Tenant> {
        let key = client_key_arg(client_key)?;
        store
            .find_by_client_key(&key)
            .await
            .with_context(|| format!("loading tenant {client_key}"))?
            .with_context(|| format!("no tenant with client key {client_key:?}"))
    }
}

/// Parses a client key given on the command line.
pub fn client_key_arg(raw: &str) -> anyhow::Result<ClientKey> {
    ClientKey::parse(raw).with_context(|| format!("{raw:?} is not a client key"))
}

/// Connects to the settings' database and applies pending migrations, as the services do.
/// The embedded default must already have its data directory: an admin command creates none.
pub async fn connect_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let data_dir = &settings.data_dir.0;
    if settings.database.url.is_none() && !data_dir.is_dir() {
        bail!(
            "the data directory {} does not exist, so there is no embedded database to act on \
             (run `hookline up` first, or set database.url / HOOKLINE_DATABASE__URL)",
            data_dir.display()
        );
    }
    let url = settings.database_url();
    let db = common::db::connect(&url)
        .await
        .with_context(|| format!("connecting to the database at {}", redact(&url)))?;
    common::db::migrate(&db)
        .await
        .context("migrating the database")?;
    Ok(db)
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_loses_its_password_but_nothing_else() {
        assert_eq!(
            redact("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}

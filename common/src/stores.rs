//! [`Stores`]: everything the ingress and the worker read and write, built once from the
//! settings. In the one-process pipeline both halves share one, so the database is opened and
//! migrated once and a change one half makes (a re-install, a rule) is seen by the other at
//! once.
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};

use crate::base_url::BaseUrlPolicy;
use crate::batch::WriteBatcher;
use crate::config::Settings;
use crate::crypto::{CryptoError, Keyring};
use crate::held::HeldEvents;
use crate::ledger::LedgerStore;
use crate::rules::RuleStore;
use crate::tenant::TenantStore;

/// Why the stores could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StoresError {
    /// The database could not be opened or migrated.
    #[error("opening and migrating the database: {0}")]
    Database(#[from] DbErr),
    /// The encryption keys could not be loaded.
    #[error("loading the encryption keys: {0}")]
    Keys(#[from] CryptoError),
}

/// The database and the stores over it; cheap to clone (pools, caches and keys are shared).
#[derive(Clone)]
pub struct Stores {
    /// The connection pool (readiness checks, the local queue).
    pub db: DatabaseConnection,
    /// Tenants, secrets decrypted, behind a read-through cache.
    pub tenants: TenantStore,
    /// Tenants' rules, cached per tenant.
    pub rules: RuleStore,
    /// The event ledger (its claims and completions group-committed through `writes`).
    pub ledger: LedgerStore,
    /// The process's group commit (`database.group_commit_*`): the ledger's writes and, in
    /// the embedded mode, the local queue's share its transactions.
    pub writes: WriteBatcher,
    /// The events of paused tenants, held until they are resumed.
    pub held: HeldEvents,
    /// Which tenant `baseUrl`s calls may go to.
    pub base_urls: BaseUrlPolicy,
    /// The keys that encrypt secrets at rest.
    pub keyring: Arc<Keyring>,
}

impl Stores {
    /// Opens the database the settings name, applies pending migrations, loads the keys and
    /// builds every store with the configured cache lifetimes.
    pub async fn open(settings: &Settings) -> Result<Self, StoresError> {
        let db = crate::db::open(settings).await?;
        let keyring = Arc::new(settings.keyring()?);
        Ok(Self::over(db, keyring, settings))
    }

    /// The stores over an open, migrated database.
    pub fn over(db: DatabaseConnection, keyring: Arc<Keyring>, settings: &Settings) -> Self {
        let writes = WriteBatcher::new(db.clone(), settings.database.group_commit());
        Self {
            tenants: TenantStore::new(
                db.clone(),
                keyring.clone(),
                settings.database.tenant_cache_ttl(),
            ),
            rules: RuleStore::new(db.clone(), settings.database.rules_cache_ttl()),
            ledger: LedgerStore::with_batcher(db.clone(), writes.clone()),
            writes,
            held: HeldEvents::new(db.clone()),
            base_urls: BaseUrlPolicy::new(&settings.app.allowed_base_url_hosts),
            keyring,
            db,
        }
    }
}

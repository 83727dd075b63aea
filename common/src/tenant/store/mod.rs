//! The tenant store: `tenants` rows in, decrypted [`Tenant`]s out, behind a read-through cache.
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

mod forge;
mod link;
mod pause;
mod purge;

pub use link::Uninstalled;
pub use pause::Resumed;
pub use purge::PurgeReport;

use super::cache::TenantCache;
use super::{ClientKey, InstallPayload, ProductType, Protocol, Tenant, TenantId, TenantState};
use crate::connect::verify::TenantLookup;
use crate::connect::SharedSecret;
use crate::crypto::{CryptoError, Keyring};
use crate::entities::tenants::{self, Column, Entity as Tenants};
use crate::forge::InstallationId;

const DEFAULT_CACHE_CAPACITY: u64 = 10_000;

/// Why a tenant could not be loaded or saved. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("tenant database error: {0}")]
    Database(#[from] DbErr),
    /// A stored secret failed to decrypt (wrong key, copied row, tampering).
    #[error("tenant secret: {0}")]
    Crypto(#[from] CryptoError),
    /// An install payload carried no `sharedSecret`.
    #[error("install payload has no sharedSecret")]
    MissingSecret,
    /// A row holds a value the domain model rejects.
    #[error("tenant row {client_key:?} is invalid: {reason}")]
    InvalidRow {
        /// The row's client key.
        client_key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Loads and saves tenants, encrypting secrets at rest with the client key as associated data.
///
/// Cheap to clone: a connection pool, a shared keyring and a shared cache.
#[derive(Clone)]
pub struct TenantStore {
    db: DatabaseConnection,
    keyring: Arc<Keyring>,
    cache: TenantCache,
    /// The tenant key of each Forge installation (per product) looked up lately.
    forge_keys: moka::future::Cache<(InstallationId, ProductType), ClientKey>,
}

impl TenantStore {
    /// A store whose cache keeps a tenant for `cache_ttl` (up to 10,000 tenants).
    pub fn new(db: DatabaseConnection, keyring: Arc<Keyring>, cache_ttl: Duration) -> Self {
        Self::with_cache_capacity(db, keyring, cache_ttl, DEFAULT_CACHE_CAPACITY)
    }

    /// A store whose cache keeps up to `max_capacity` tenants for `cache_ttl` each.
    pub fn with_cache_capacity(
        db: DatabaseConnection,
        keyring: Arc<Keyring>,
        cache_ttl: Duration,
        max_capacity: u64,
    ) -> Self {
        let cache = TenantCache::new(cache_ttl, max_capacity);
        let forge_keys = moka::future::Cache::builder()
            .time_to_live(cache_ttl)
            .max_capacity(max_capacity)
            .build();
        Self {
            db,
            keyring,
            cache,
            forge_keys,
        }
    }

    /// The tenant with this client key, from the cache or the database.
    ///
    /// Misses are not cached, so a tenant installed a moment ago is found at once.
    pub async fn find_by_client_key(
        &self,
        client_key: &ClientKey,
    ) -> Result<Option<Tenant>, StoreError> {
        if let Some(tenant) = self.cache.get(client_key).await {
            return Ok(Some(tenant));
        }
        let generation = self.cache.generation();
        let tenant = self.load(client_key).await?;
        if let Some(tenant) = &tenant {
            self.cache.insert_read(tenant.clone(), generation).await;
        }
        Ok(tenant)
    }

    /// The tenant `id` names in `product`, from the cache or the database.
    pub async fn find(
        &self,
        id: &TenantId,
        product: ProductType,
    ) -> Result<Option<Tenant>, StoreError> {
        match id {
            TenantId::Connect(client_key) => self.find_by_client_key(client_key).await,
            TenantId::Forge(forge) => self.find_forge(&forge.installation_id, product).await,
        }
    }

    /// Inserts or updates the tenant of an `installed` callback with its new secret.
    ///
    /// The tenant becomes `installed`, `installed_at` is now and `uninstalled_at` is cleared.
    pub async fn save_install(&self, payload: &InstallPayload) -> Result<Tenant, StoreError> {
        let secret = payload
            .shared_secret
            .as_ref()
            .ok_or(StoreError::MissingSecret)?;
        let client_key = &payload.client_key;
        // A Connect app on Forge: the installation may be known through Forge already.
        let installation_id = payload.installation_id.as_deref().map(|id| {
            InstallationId::parse(id).map_or_else(|_| id.to_owned(), |id| id.to_string())
        });
        let adopted = match &installation_id {
            Some(id) => {
                self.adopt_forge_tenant(client_key, id, payload.product_type)
                    .await?
            }
            None => None,
        };
        let now = Utc::now();
        let state = match &adopted {
            Some(adopted) if adopted.was_active => TenantState::Enabled,
            _ => TenantState::Installed,
        };
        let row = tenants::ActiveModel {
            id: NotSet,
            client_key: Set(client_key.as_str().to_owned()),
            app_key: Set(payload.key.clone()),
            shared_secret: Set(self.encrypt(client_key, secret)),
            base_url: Set(payload.base_url.clone()),
            display_url: Set(payload.display_url.clone()),
            product_type: Set(payload.product_type.as_str().to_owned()),
            description: Set(payload.description.clone()),
            oauth_client_id: Set(payload.oauth_client_id.clone()),
            installation_id: Set(installation_id),
            service_entitlement_number: Set(payload.service_entitlement_number.clone()),
            server_version: Set(payload.server_version.clone()),
            plugins_version: Set(payload.plugins_version.clone()),
            public_key: Set(payload.public_key.clone()),
            cloud_id: NotSet,
            api_base_url: NotSet,
            forge_token: NotSet,
            forge_token_expires_at: NotSet,
            forge_installed_at: NotSet,
            calls_with: NotSet,
            paused_at: NotSet,
            state: Set(state.as_str().to_owned()),
            installed_at: Set(now),
            enabled_at: Set(None),
            disabled_at: Set(None),
            uninstalled_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // One statement, so two concurrent installs of a site cannot both insert.
        Tenants::insert(row)
            .on_conflict(upsert_on_client_key())
            .exec_without_returning(&self.db)
            .await?;
        self.cache.invalidate(client_key).await;
        self.load(client_key).await?.ok_or_else(|| {
            StoreError::Database(DbErr::RecordNotFound(format!(
                "tenant {client_key} vanished right after its install was saved"
            )))
        })
    }

    /// Records a lifecycle event: sets the state and its timestamp (`enabled_at`, ...).
    ///
    /// Returns `None` for an unknown client key.
    pub async fn set_state(
        &self,
        client_key: &ClientKey,
        state: TenantState,
    ) -> Result<Option<Tenant>, StoreError> {
        let now = Utc::now();
        let stamp = match state {
            TenantState::Installed => Column::InstalledAt,
            TenantState::Enabled => Column::EnabledAt,
            TenantState::Disabled => Column::DisabledAt,
            TenantState::Uninstalled => Column::UninstalledAt,
        };
        let updated = Tenants::update_many()
            .col_expr(Column::State, Expr::value(state.as_str()))
            .col_expr(stamp, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(None);
        }
        self.cache.invalidate(client_key).await;
        self.load(client_key).await
    }

    /// Drops a tenant from the cache, so the next lookup reads the database.
    pub async fn invalidate(&self, client_key: &ClientKey) {
        self.cache.invalidate(client_key).await;
    }

    /// Every tenant, in any state, ordered by client key.
    pub async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = Tenants::find()
            .order_by_asc(Column::ClientKey)
            .all(&self.db)
            .await?;
        rows.into_iter().map(|row| self.to_tenant(row)).collect()
    }

    /// Re-encrypts under the active key every secret stored under an older key id.
    ///
    /// Returns how many rows changed. A row rewritten concurrently (a re-install) is skipped:
    /// its new ciphertext already uses the active key. Stops at the first row that fails to
    /// decrypt; rows already re-encrypted stay so, and running again resumes.
    pub async fn reencrypt_all(&self) -> Result<usize, StoreError> {
        self.reencrypt_all_with_progress(|_, _| ()).await
    }

    /// [`TenantStore::reencrypt_all`], calling `progress(done, total)` after each tenant row
    /// (including rows already under the active key), for progress bars.
    pub async fn reencrypt_all_with_progress(
        &self,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<usize, StoreError> {
        let rows = Tenants::find()
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?;
        let total = rows.len();
        let mut changed = 0;
        for (done, row) in rows.into_iter().enumerate() {
            if !self.keyring.is_active_ciphertext(&row.shared_secret) {
                changed += self.reencrypt_row(&row).await?;
            }
            progress(done + 1, total);
        }
        Ok(changed)
    }

    async fn reencrypt_row(&self, row: &tenants::Model) -> Result<usize, StoreError> {
        let aad = row.client_key.as_bytes();
        let secret = self.keyring.decrypt(&row.shared_secret, aad)?;
        let updated = Tenants::update_many()
            .col_expr(
                Column::SharedSecret,
                Expr::value(self.keyring.encrypt(&secret, aad)),
            )
            .filter(Column::Id.eq(row.id))
            .filter(Column::SharedSecret.eq(row.shared_secret.as_str()))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected as usize)
    }

    /// Reads a tenant from the database, bypassing the cache.
    async fn load(&self, client_key: &ClientKey) -> Result<Option<Tenant>, StoreError> {
        Tenants::find()
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .one(&self.db)
            .await?
            .map(|row| self.to_tenant(row))
            .transpose()
    }

    fn encrypt(&self, client_key: &ClientKey, secret: &SharedSecret) -> String {
        self.keyring
            .encrypt(secret.expose(), client_key.as_str().as_bytes())
    }

    fn to_tenant(&self, row: tenants::Model) -> Result<Tenant, StoreError> {
        let invalid = |reason: String| StoreError::InvalidRow {
            client_key: row.client_key.clone(),
            reason,
        };
        let client_key = ClientKey::parse(&row.client_key).map_err(|e| invalid(e.to_string()))?;
        let product_type =
            ProductType::parse(&row.product_type).map_err(|e| invalid(e.to_string()))?;
        let state = TenantState::parse(&row.state).map_err(|e| invalid(e.to_string()))?;
        // An empty secret column: a tenant known only through Forge.
        let shared_secret = match row.shared_secret.as_str() {
            "" => None,
            stored => Some(SharedSecret::new(
                self.keyring.decrypt(stored, row.client_key.as_bytes())?,
            )),
        };
        let forge = self.forge_identity(&row).map_err(invalid)?;
        let calls_with = row
            .calls_with
            .as_deref()
            .map(Protocol::parse)
            .transpose()
            .map_err(invalid)?;
        Ok(Tenant {
            client_key,
            app_key: row.app_key,
            shared_secret,
            forge,
            calls_with,
            base_url: row.base_url,
            display_url: row.display_url,
            product_type,
            description: row.description,
            oauth_client_id: row.oauth_client_id,
            installation_id: row.installation_id,
            service_entitlement_number: row.service_entitlement_number,
            server_version: row.server_version,
            plugins_version: row.plugins_version,
            state,
            installed_at: row.installed_at,
            enabled_at: row.enabled_at,
            disabled_at: row.disabled_at,
            uninstalled_at: row.uninstalled_at,
            paused_at: row.paused_at,
            updated_at: row.updated_at,
        })
    }
}

/// On a re-install, every column sent by the product is replaced; `created_at` and the
/// `enabled_at` / `disabled_at` history are kept.
/// The install's columns replace the stored ones, except that an `installed` without an
/// `installationId` (a plain Connect re-install) keeps the Forge installation it is linked to.
fn upsert_on_client_key() -> OnConflict {
    OnConflict::column(Column::ClientKey)
        .value(
            Column::InstallationId,
            Expr::cust("COALESCE(excluded.installation_id, tenants.installation_id)"),
        )
        .update_columns([
            Column::AppKey,
            Column::SharedSecret,
            Column::BaseUrl,
            Column::DisplayUrl,
            Column::ProductType,
            Column::Description,
            Column::OauthClientId,
            Column::ServiceEntitlementNumber,
            Column::ServerVersion,
            Column::PluginsVersion,
            Column::PublicKey,
            Column::State,
            Column::InstalledAt,
            Column::UninstalledAt,
            Column::UpdatedAt,
        ])
        .to_owned()
}

impl TenantLookup for TenantStore {
    type Tenant = Tenant;
    type Error = StoreError;

    /// A token whose `iss` is not a valid client key names no tenant: `Ok(None)`.
    async fn find_tenant(&self, client_key: &str) -> Result<Option<Tenant>, StoreError> {
        match ClientKey::parse(client_key) {
            Ok(client_key) => self.find_by_client_key(&client_key).await,
            Err(_) => Ok(None),
        }
    }
}

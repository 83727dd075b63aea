//! Forge installations as tenants: found by installation (and product), registered on their
//! first verified call, and tied to the tenant the site already is.
//!
//! Registering a call's installation, in order:
//! 1. the tenant with that installation id for that product: a known Forge installation, or
//!    a Connect tenant whose `installed` carried it (a Connect app on Forge): one tenant;
//! 2. else the tenant of that site and product (by cloud id): one whose earlier installation
//!    was replaced (a reinstall), which takes the new installation and is active again, rules
//!    and history kept; or a Connect tenant an operator linked to its site
//!    (`hookline tenants link`), which takes its first installation;
//! 3. else a new tenant keyed `forge:{cloudId}:{product}`.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::{StoreError, TenantStore};
use crate::entities::tenants::{self, Column, Entity as Tenants};
use crate::forge::{CloudId, InstallationId, SystemToken, VerifiedFit};
use crate::tenant::{ClientKey, ForgeIdentity, ProductType, Tenant, TenantState};

/// The associated data a system token is encrypted under (never the same as the secret's).
pub(super) fn token_aad(client_key: &ClientKey) -> Vec<u8> {
    format!("{}#forge-token", client_key.as_str()).into_bytes()
}

/// The key of a tenant known only through Forge.
fn forge_key(cloud_id: &CloudId, product: ProductType) -> Result<ClientKey, StoreError> {
    ClientKey::parse(&format!("forge:{cloud_id}:{}", product.as_str())).map_err(|error| {
        StoreError::InvalidRow {
            client_key: cloud_id.to_string(),
            reason: error.to_string(),
        }
    })
}

impl TenantStore {
    /// The tenant of a Forge installation in `product`, from the cache or the database.
    pub async fn find_forge(
        &self,
        installation_id: &InstallationId,
        product: ProductType,
    ) -> Result<Option<Tenant>, StoreError> {
        let cached = self
            .forge_keys
            .get(&(installation_id.clone(), product))
            .await;
        if let Some(client_key) = cached {
            if let Some(tenant) = self.find_by_client_key(&client_key).await? {
                if tenant.forge.as_ref().map(|f| &f.installation_id) == Some(installation_id) {
                    return Ok(Some(tenant));
                }
            }
        }
        let row = Tenants::find()
            .filter(Column::InstallationId.eq(installation_id.as_str()))
            .filter(Column::ProductType.eq(product.as_str()))
            .filter(Column::ApiBaseUrl.is_not_null())
            .one(&self.db)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let tenant = self.to_tenant(row)?;
        self.forge_keys
            .insert(
                (installation_id.clone(), product),
                tenant.client_key.clone(),
            )
            .await;
        Ok(Some(tenant))
    }

    /// Registers the installation of a verified call (see the module docs) with the system
    /// token it brought, and returns its tenant as stored now.
    pub async fn register_forge(
        &self,
        fit: &VerifiedFit,
        app_key: &str,
        token: Option<&SystemToken>,
    ) -> Result<Tenant, StoreError> {
        let product = fit.product;
        let same_installation = Tenants::find()
            .filter(Column::InstallationId.eq(fit.installation_id.as_str()))
            .filter(Column::ProductType.eq(product.as_str()))
            .one(&self.db)
            .await?;
        let same_site = match same_installation {
            Some(row) => Some((row, false)),
            None => Tenants::find()
                .filter(Column::CloudId.eq(fit.cloud_id.as_str()))
                .filter(Column::ProductType.eq(product.as_str()))
                .one(&self.db)
                .await?
                .map(|row| (row, true)),
        };
        let client_key = match same_site {
            Some((row, other_installation)) => {
                // A new installation of a site whose earlier one was known, or any Forge
                // install of an uninstalled tenant, brings it back; a Connect tenant's first
                // Forge installation (its cloud id set by `hookline tenants link`) does not
                // change its state.
                let revived = (other_installation && row.forge_installed_at.is_some())
                    || row.state == TenantState::Uninstalled.as_str();
                self.link(row, fit, revived).await?
            }
            None => self.create_forge(fit, app_key).await?,
        };
        if let Some(token) = token {
            self.store_forge_token(&client_key, token).await?;
        }
        self.invalidate(&client_key).await;
        self.forge_keys
            .invalidate(&(fit.installation_id.clone(), product))
            .await;
        self.find_by_client_key(&client_key)
            .await?
            .ok_or_else(|| StoreError::InvalidRow {
                client_key: client_key.to_string(),
                reason: "vanished right after its Forge installation was registered".into(),
            })
    }

    /// Records the installation on `row`'s tenant; a reinstall makes it active again.
    async fn link(
        &self,
        row: tenants::Model,
        fit: &VerifiedFit,
        reinstalled: bool,
    ) -> Result<ClientKey, StoreError> {
        let now = Utc::now();
        let mut update = Tenants::update_many()
            .col_expr(
                Column::InstallationId,
                Expr::value(fit.installation_id.as_str()),
            )
            .col_expr(Column::CloudId, Expr::value(fit.cloud_id.as_str()))
            .col_expr(Column::ApiBaseUrl, Expr::value(fit.api_base_url.as_str()))
            .col_expr(Column::UpdatedAt, Expr::value(now));
        if row.forge_installed_at.is_none() || reinstalled {
            update = update.col_expr(Column::ForgeInstalledAt, Expr::value(Some(now)));
        }
        if reinstalled {
            tracing::info!(tenant = %row.client_key, "a reinstalled Forge app keeps its tenant");
            update = update
                .col_expr(Column::State, Expr::value(TenantState::Enabled.as_str()))
                .col_expr(Column::InstalledAt, Expr::value(now))
                .col_expr(
                    Column::UninstalledAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
        }
        update.filter(Column::Id.eq(row.id)).exec(&self.db).await?;
        ClientKey::parse(&row.client_key).map_err(|error| StoreError::InvalidRow {
            client_key: row.client_key.clone(),
            reason: error.to_string(),
        })
    }

    /// A new tenant for a first-seen installation (two first calls racing make one).
    async fn create_forge(
        &self,
        fit: &VerifiedFit,
        app_key: &str,
    ) -> Result<ClientKey, StoreError> {
        let client_key = forge_key(&fit.cloud_id, fit.product)?;
        let now = Utc::now();
        let row = tenants::ActiveModel {
            id: NotSet,
            client_key: Set(client_key.as_str().to_owned()),
            app_key: Set(app_key.to_owned()),
            shared_secret: Set(String::new()),
            base_url: Set(fit.api_base_url.clone()),
            display_url: Set(None),
            product_type: Set(fit.product.as_str().to_owned()),
            description: Set(fit.environment.clone()),
            oauth_client_id: Set(None),
            installation_id: Set(Some(fit.installation_id.as_str().to_owned())),
            service_entitlement_number: Set(None),
            server_version: Set(None),
            plugins_version: Set(fit.app_version.clone()),
            public_key: Set(None),
            state: Set(TenantState::Enabled.as_str().to_owned()),
            installed_at: Set(now),
            enabled_at: Set(Some(now)),
            disabled_at: Set(None),
            uninstalled_at: Set(None),
            cloud_id: Set(Some(fit.cloud_id.as_str().to_owned())),
            api_base_url: Set(Some(fit.api_base_url.clone())),
            forge_token: Set(None),
            forge_token_expires_at: Set(None),
            forge_installed_at: Set(Some(now)),
            calls_with: Set(None),
            paused_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        Tenants::insert(row)
            .on_conflict(
                OnConflict::column(Column::ClientKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        tracing::info!(tenant = %client_key, "a new Forge installation registered");
        Ok(client_key)
    }

    /// Keeps `token` if it outlives the one stored (a late call must not bring back an older
    /// token), encrypted at rest.
    pub async fn store_forge_token(
        &self,
        client_key: &ClientKey,
        token: &SystemToken,
    ) -> Result<(), StoreError> {
        let encrypted = self.keyring.encrypt(token.expose(), &token_aad(client_key));
        let expires_at = token.expires_at();
        let older = Condition::any()
            .add(Column::ForgeTokenExpiresAt.is_null())
            .add(Column::ForgeTokenExpiresAt.lt(expires_at));
        let updated = Tenants::update_many()
            .col_expr(Column::ForgeToken, Expr::value(Some(encrypted)))
            .col_expr(Column::ForgeTokenExpiresAt, Expr::value(Some(expires_at)))
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .filter(older)
            .exec(&self.db)
            .await?;
        if updated.rows_affected > 0 {
            self.invalidate(client_key).await;
        }
        Ok(())
    }

    /// The tenant's Forge installation, if it has called (from its row).
    pub(super) fn forge_identity(
        &self,
        row: &tenants::Model,
    ) -> Result<Option<ForgeIdentity>, String> {
        let Some(api_base_url) = row.api_base_url.clone() else {
            return Ok(None);
        };
        let installation_id = row
            .installation_id
            .as_deref()
            .map(InstallationId::parse)
            .transpose()
            .map_err(|e| e.to_string())?
            .ok_or("a Forge tenant without an installation id")?;
        let cloud_id = row
            .cloud_id
            .as_deref()
            .map(CloudId::parse)
            .transpose()
            .map_err(|e| e.to_string())?
            .ok_or("a Forge tenant without a cloud id")?;
        let token = match (&row.forge_token, row.forge_token_expires_at) {
            (Some(stored), Some(expires_at)) => {
                let client_key = ClientKey::parse(&row.client_key).map_err(|e| e.to_string())?;
                let token = self
                    .keyring
                    .decrypt(stored, &token_aad(&client_key))
                    .map_err(|e| e.to_string())?;
                Some(SystemToken::stored(token, expires_at))
            }
            _ => None,
        };
        Ok(Some(ForgeIdentity {
            installation_id,
            cloud_id,
            api_base_url,
            token,
            installed_at: row.forge_installed_at.unwrap_or(row.installed_at),
        }))
    }
}

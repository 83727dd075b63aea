//! One tenant per site across both protocols (docs/migrating-to-forge.md). A Connect app on
//! Forge sends its Connect `installed` callback with the Forge `installationId`, and Forge calls
//! the remote with that installation in its tokens; whichever comes first creates the tenant,
//! the other joins it:
//! - Connect first: the Forge call finds the Connect tenant by its installation id
//!   (`register_forge`, step 1) and adds its Forge identity. Nothing is renamed.
//! - Forge first: the tenant was created as `forge:{cloudId}:{product}`. The Connect install
//!   adopts it ([`TenantStore::adopt_forge_tenant`]): in one transaction the tenant, its rules
//!   and its ledger rows take the Connect `clientKey` (the key every Connect token names), and
//!   its system token is re-encrypted under it. When a Connect tenant of that `clientKey`
//!   already exists (an older install that carried no `installationId`), the Forge tenant is
//!   merged into it instead: its rules and ledger rows move over, its Forge identity is copied,
//!   its row deleted.
//!
//! Only a tenant known through Forge alone is ever adopted: two Connect tenants are never
//! merged, whatever their installation ids say.
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait};

use super::{StoreError, TenantStore};
use crate::entities::tenants::{self, Column, Entity as Tenants};
use crate::entities::{event_ledger, held_events, rules, subject_order};
use crate::forge::{CloudId, InstallationId};
use crate::tenant::{ClientKey, ProductType, Protocol, Tenant, TenantState};

/// What an uninstall of one protocol's side did to its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uninstalled {
    /// The tenant is gone (it had no other identity): its events are refused.
    Tenant(Tenant),
    /// Only that side is gone: the tenant keeps its other identity, rules and history, and
    /// stays as active as it was; the side's events are refused and calls go the other way.
    Side(Tenant),
}

/// A Forge-only tenant a Connect install took over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Adopted {
    /// Its key before (`forge:{cloudId}:{product}`).
    pub from: ClientKey,
    /// Whether it was taking events: the install keeps it so (Forge's events must not be
    /// refused between Connect's `installed` and `enabled`).
    pub was_active: bool,
}

impl TenantStore {
    /// Before the Connect install of `client_key` with `installation_id` (any form Forge
    /// uses) in `product`: the Forge-only tenant it adopted, if any (see the module docs).
    /// Caches of both keys are dropped.
    pub(super) async fn adopt_forge_tenant(
        &self,
        client_key: &ClientKey,
        installation_id: &str,
        product: ProductType,
    ) -> Result<Option<Adopted>, StoreError> {
        let Ok(installation) = InstallationId::parse(installation_id) else {
            return Ok(None);
        };
        let site = Column::InstallationId.eq(installation.as_str());
        self.adopt(client_key, site, product).await
    }

    /// Ties the Connect tenant `client_key` to its site's Forge side by the site's cloud id,
    /// for a tenant installed before the app was on Forge (its `installed` named no
    /// installation, and Connect on Forge does not send `installed` again): a Forge-only
    /// tenant of that site and product is merged into it now, else its first Forge call
    /// joins it (`register_forge`, step 2). `None` for an unknown key; an error for a tenant
    /// that is not a Connect tenant or is tied to another site already.
    pub async fn link_site(
        &self,
        client_key: &ClientKey,
        cloud_id: &CloudId,
    ) -> Result<Option<Tenant>, StoreError> {
        let Some(tenant) = self.load(client_key).await? else {
            return Ok(None);
        };
        let refuse = |reason: String| StoreError::InvalidRow {
            client_key: client_key.to_string(),
            reason,
        };
        if !tenant.has_connect() {
            return Err(refuse(
                "it is not a Connect tenant (no sharedSecret)".into(),
            ));
        }
        if let Some(forge) = &tenant.forge {
            if &forge.cloud_id != cloud_id {
                return Err(refuse(format!(
                    "it is tied to the site {} already",
                    forge.cloud_id
                )));
            }
        }
        let site = Column::CloudId.eq(cloud_id.as_str());
        if self
            .adopt(client_key, site, tenant.product_type)
            .await?
            .is_none()
        {
            Tenants::update_many()
                .col_expr(Column::CloudId, Expr::value(cloud_id.as_str()))
                .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(Column::ClientKey.eq(client_key.as_str()))
                .exec(&self.db)
                .await?;
            self.invalidate(client_key).await;
        }
        self.load(client_key).await
    }

    /// Takes over the Forge-only tenant of `product` that `site` selects (see the module
    /// docs), if there is one.
    async fn adopt(
        &self,
        client_key: &ClientKey,
        site: sea_orm::sea_query::SimpleExpr,
        product: ProductType,
    ) -> Result<Option<Adopted>, StoreError> {
        let txn = self.db.begin().await?;
        let forge_only = Tenants::find()
            .filter(site)
            .filter(Column::ProductType.eq(product.as_str()))
            .filter(Column::SharedSecret.eq(""))
            .filter(Column::ApiBaseUrl.is_not_null())
            .filter(Column::ClientKey.ne(client_key.as_str()))
            .one(&txn)
            .await?;
        let Some(row) = forge_only else {
            txn.rollback().await?;
            return Ok(None);
        };
        let old = ClientKey::parse(&row.client_key).map_err(|error| StoreError::InvalidRow {
            client_key: row.client_key.clone(),
            reason: error.to_string(),
        })?;
        let token = self.reencrypted_token(&row, &old, client_key)?;
        let existing = Tenants::find()
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .one(&txn)
            .await?;
        match existing {
            None => rename(&txn, &row, client_key, token).await?,
            Some(connect) => merge(&txn, &row, &connect, token).await?,
        }
        move_rows(&txn, &old, client_key).await?;
        txn.commit().await?;
        tracing::info!(from = %old, to = %client_key, "the Forge installation's tenant joined its Connect install");
        self.invalidate(&old).await;
        self.invalidate(client_key).await;
        if let Some(installation) = row
            .installation_id
            .as_deref()
            .and_then(|id| InstallationId::parse(id).ok())
        {
            self.forge_keys.invalidate(&(installation, product)).await;
        }
        Ok(Some(Adopted {
            from: old,
            was_active: row.state == TenantState::Enabled.as_str(),
        }))
    }

    /// Sets how the worker calls the tenant (`None`: Connect while it has a sharedSecret, else
    /// Forge). Running workers see it once their cached copy expires
    /// (`database.tenant_cache_ttl_secs`). `None` for an unknown client key.
    pub async fn set_calls_with(
        &self,
        client_key: &ClientKey,
        calls_with: Option<Protocol>,
    ) -> Result<Option<Tenant>, StoreError> {
        let updated = Tenants::update_many()
            .col_expr(
                Column::CallsWith,
                Expr::value(calls_with.map(|p| p.as_str().to_owned())),
            )
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(None);
        }
        self.invalidate(client_key).await;
        self.load(client_key).await
    }

    /// The uninstall of `side` of `client_key`'s tenant. A tenant known both ways (a Connect app
    /// on Forge, mid-migration) loses only that side: Connect's sharedSecret, or Forge's
    /// apiBaseUrl and system token (its installation and cloud ids stay, so a reinstall
    /// finds it again). Otherwise the tenant becomes `uninstalled`. `None` for an unknown key.
    pub async fn uninstall_side(
        &self,
        client_key: &ClientKey,
        side: Protocol,
    ) -> Result<Option<Uninstalled>, StoreError> {
        let Some(tenant) = self.load(client_key).await? else {
            return Ok(None);
        };
        let other_side = match side {
            Protocol::Connect => tenant.forge.is_some(),
            Protocol::Forge => tenant.has_connect(),
        };
        if !other_side {
            let tenant = self.set_state(client_key, TenantState::Uninstalled).await?;
            return Ok(tenant.map(Uninstalled::Tenant));
        }
        let update = Tenants::update_many().col_expr(Column::UpdatedAt, Expr::value(Utc::now()));
        let update = match side {
            Protocol::Connect => update.col_expr(Column::SharedSecret, Expr::value("")),
            Protocol::Forge => update
                .col_expr(Column::ApiBaseUrl, Expr::value(Option::<String>::None))
                .col_expr(Column::ForgeToken, Expr::value(Option::<String>::None))
                .col_expr(
                    Column::ForgeTokenExpiresAt,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .col_expr(
                    Column::ForgeInstalledAt,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                ),
        };
        update
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .exec(&self.db)
            .await?;
        tracing::info!(tenant = %client_key, side = side.as_str(), "one side of a tenant known both ways was uninstalled; the other stays");
        self.invalidate(client_key).await;
        if let Some(forge) = &tenant.forge {
            self.forge_keys
                .invalidate(&(forge.installation_id.clone(), tenant.product_type))
                .await;
        }
        Ok(self.load(client_key).await?.map(Uninstalled::Side))
    }

    /// The row's system token, encrypted for `new` instead of `old`.
    fn reencrypted_token(
        &self,
        row: &tenants::Model,
        old: &ClientKey,
        new: &ClientKey,
    ) -> Result<Option<String>, StoreError> {
        let Some(stored) = row.forge_token.as_deref() else {
            return Ok(None);
        };
        let token = self
            .keyring
            .decrypt(stored, &super::forge::token_aad(old))?;
        Ok(Some(
            self.keyring.encrypt(&token, &super::forge::token_aad(new)),
        ))
    }
}

/// The Forge-only row takes the Connect key (the install's upsert then fills in the rest).
async fn rename(
    txn: &DatabaseTransaction,
    row: &tenants::Model,
    client_key: &ClientKey,
    token: Option<String>,
) -> Result<(), StoreError> {
    Tenants::update_many()
        .col_expr(Column::ClientKey, Expr::value(client_key.as_str()))
        .col_expr(Column::ForgeToken, Expr::value(token))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(row.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The Connect row takes the Forge identity; the Forge-only row goes.
async fn merge(
    txn: &DatabaseTransaction,
    row: &tenants::Model,
    connect: &tenants::Model,
    token: Option<String>,
) -> Result<(), StoreError> {
    Tenants::delete_many()
        .filter(Column::Id.eq(row.id))
        .exec(txn)
        .await?;
    Tenants::update_many()
        .col_expr(
            Column::InstallationId,
            Expr::value(row.installation_id.clone()),
        )
        .col_expr(Column::CloudId, Expr::value(row.cloud_id.clone()))
        .col_expr(Column::ApiBaseUrl, Expr::value(row.api_base_url.clone()))
        .col_expr(Column::ForgeToken, Expr::value(token))
        .col_expr(
            Column::ForgeTokenExpiresAt,
            Expr::value(row.forge_token_expires_at),
        )
        .col_expr(
            Column::ForgeInstalledAt,
            Expr::value(row.forge_installed_at),
        )
        // Paused either way: the merged tenant stays paused.
        .col_expr(
            Column::PausedAt,
            Expr::value(connect.paused_at.or(row.paused_at)),
        )
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(connect.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Rules, ledger rows and held events follow their tenant to its new key.
async fn move_rows(
    txn: &DatabaseTransaction,
    old: &ClientKey,
    new: &ClientKey,
) -> Result<(), StoreError> {
    rules::Entity::update_many()
        .col_expr(rules::Column::ClientKey, Expr::value(new.as_str()))
        .filter(rules::Column::ClientKey.eq(old.as_str()))
        .exec(txn)
        .await?;
    event_ledger::Entity::update_many()
        .col_expr(event_ledger::Column::ClientKey, Expr::value(new.as_str()))
        .filter(event_ledger::Column::ClientKey.eq(old.as_str()))
        .exec(txn)
        .await?;
    held_events::Entity::update_many()
        .col_expr(held_events::Column::ClientKey, Expr::value(new.as_str()))
        .filter(held_events::Column::ClientKey.eq(old.as_str()))
        .exec(txn)
        .await?;
    // The order guards are not moved (the kept tenant may guard the same targets): the
    // adopted side's subjects start a fresh order (docs/operations.md, "Order per subject").
    subject_order::Entity::delete_many()
        .filter(subject_order::Column::ClientKey.eq(old.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

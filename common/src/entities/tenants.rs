//! The `tenants` table: one row per installed Jira or Confluence site, keyed by `client_key`.
use sea_orm::entity::prelude::*;

/// A raw row of `tenants`; `shared_secret` holds the `kid:ciphertext` form, never the plaintext.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// Surrogate key; tenant data is addressed by `client_key`, not by this id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The site's `clientKey` (unique).
    #[sea_orm(unique)]
    pub client_key: String,
    /// The app key (`key` in the install payload).
    pub app_key: String,
    /// The encrypted `sharedSecret` (see [`crate::crypto::Keyring::encrypt`]); empty for a
    /// tenant known only as a Forge installation.
    #[sea_orm(column_type = "Text")]
    pub shared_secret: String,
    /// The site's base URL (Confluence ends with `/wiki`).
    pub base_url: String,
    /// The URL users see, if it differs from `base_url`.
    pub display_url: Option<String>,
    /// `jira` or `confluence`.
    pub product_type: String,
    /// Free-form description sent by the product.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// OAuth client id used to act as a user.
    pub oauth_client_id: Option<String>,
    /// Installation id of the app on the site (from Connect's `installed`, or the Forge
    /// installation ARI): how a Connect site and its Forge installation are one tenant.
    pub installation_id: Option<String>,
    /// Marketplace entitlement number.
    pub service_entitlement_number: Option<String>,
    /// Product server version.
    pub server_version: Option<String>,
    /// Connect plugins version.
    pub plugins_version: Option<String>,
    /// Public key sent by older products.
    #[sea_orm(column_type = "Text", nullable)]
    pub public_key: Option<String>,
    /// `installed`, `enabled`, `disabled` or `uninstalled`.
    pub state: String,
    /// When the last `installed` event was stored.
    pub installed_at: DateTimeUtc,
    /// When the last `enabled` event was stored.
    pub enabled_at: Option<DateTimeUtc>,
    /// When the last `disabled` event was stored.
    pub disabled_at: Option<DateTimeUtc>,
    /// When the last `uninstalled` event was stored (cleared by a re-install).
    pub uninstalled_at: Option<DateTimeUtc>,
    /// The site's cloud id, once its Forge installation called.
    pub cloud_id: Option<String>,
    /// Where product REST calls go for the Forge installation (`app.apiBaseUrl`).
    pub api_base_url: Option<String>,
    /// The freshest app system token, encrypted.
    #[sea_orm(column_type = "Text", nullable)]
    pub forge_token: Option<String>,
    /// When that token expires.
    pub forge_token_expires_at: Option<DateTimeUtc>,
    /// When the Forge installation first called (its first calls may meet missing permissions).
    pub forge_installed_at: Option<DateTimeUtc>,
    /// `connect` or `forge`: how a tenant with both identities is called (NULL: Connect when
    /// it has a sharedSecret).
    pub calls_with: Option<String>,
    /// Since when the tenant is paused: its events are held, not acted on (NULL: not paused).
    pub paused_at: Option<DateTimeUtc>,
    /// When the row was first inserted.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

/// `tenants` has no relations yet; later tables point at it by `client_key`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

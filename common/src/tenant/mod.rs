//! Tenants: the Jira and Confluence sites that installed the app, keyed by `clientKey`.
//!
//! - [`ClientKey`], [`ProductType`], [`TenantState`] and the decrypted [`Tenant`] record.
//! - [`TenantId`]: a tenant as the calling protocol names it, typed end to end.
//! - [`InstallPayload`]: the body of the lifecycle callbacks.
//! - [`TenantStore`]: persistence with secrets encrypted at rest and a read-through cache.
//!   [`TenantStore::purge`] deletes a tenant with its rules and ledger rows;
//!   [`TenantStore::pause`] and [`TenantStore::resume`] hold and release its events.

mod cache;
mod identity;
mod model;
mod payload;
mod store;

pub use identity::{ForgeInstallation, TenantId};
pub use model::{ClientKey, ForgeIdentity, ProductType, Protocol, SignedCall, Tenant, TenantState};
pub use payload::InstallPayload;
pub use store::{PurgeReport, Resumed, StoreError, TenantStore, Uninstalled};

/// A value that is not a valid part of a tenant (client key, product, state).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// The client key is empty, longer than 255 bytes or contains control characters.
    #[error("invalid client key: {0}")]
    InvalidClientKey(&'static str),
    /// The product type is neither `jira` nor `confluence`.
    #[error("unknown product type {0:?}")]
    UnknownProductType(String),
    /// The state is not one of `installed`, `enabled`, `disabled`, `uninstalled`.
    #[error("unknown tenant state {0:?}")]
    UnknownState(String),
}

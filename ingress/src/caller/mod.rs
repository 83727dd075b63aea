//! Who is calling, resolved by a warp filter before a route's handler runs. Routes take a
//! verified caller, never a token; each way of authenticating is one filter:
//! - [`connect`]: a Connect JWT with its `qsh` rule → a [`Caller`] (an active tenant and the
//!   user the token names);
//! - [`forge`]: a Forge Invocation Token → a [`forge::ForgeCall`] (the installation, and the
//!   app system token it brought).
mod connect;
pub mod forge;

use common::tenant::Tenant;
use warp::reject::Reject;

pub use connect::{connect, try_connect};

use crate::errors::ApiError;
use crate::state::AppState;

/// A verified caller. Everything it reads or changes is scoped by its tenant.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant named by the token's verified issuer; installed or enabled.
    pub tenant: Tenant,
    /// The user's accountId (`sub`), when the token names one.
    pub account_id: Option<String>,
}

/// A refused caller: the route answers with the error (see [`crate::errors`]).
#[derive(Debug)]
pub struct Refused(pub ApiError);

impl Reject for Refused {}

impl Caller {
    /// Succeeds only for a site admin of the caller's tenant, as the product says.
    pub async fn require_admin(&self, state: &AppState) -> Result<(), ApiError> {
        let Some(account_id) = self.account_id.as_deref() else {
            return Err(ApiError::forbidden(
                "no_user",
                "the token names no user, and only site admins may change rules or pause hookline",
            ));
        };
        crate::admin_check::require(state.admin_check.is_admin(&self.tenant, account_id).await)
    }
}

/// Nothing for a tenant that takes events and calls (installed or enabled); 403
/// `tenant_inactive` for a disabled or uninstalled one, whichever protocol named it.
pub fn require_active(tenant: &Tenant) -> Result<(), ApiError> {
    if tenant.is_active() {
        return Ok(());
    }
    tracing::info!(
        state = tenant.state.as_str(),
        "a request of an inactive tenant refused"
    );
    Err(ApiError::forbidden(
        "tenant_inactive",
        "the app is not enabled for this site",
    ))
}

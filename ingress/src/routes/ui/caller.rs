//! Who calls the API: the tenant of a verified context token (`qsh: "context-qsh"`, or a
//! token bound to this request), and the user it names in `sub`.
use common::connect::QshRule;
use common::tenant::Tenant;
use warp::http::{HeaderMap, StatusCode};

use crate::auth::{authenticate, token_of, RequestTarget};
use crate::errors::ApiError;
use crate::state::AppState;

/// A verified API caller. Everything it reads or changes is scoped by `tenant.client_key`.
pub struct Caller {
    /// The tenant named by the token's verified `iss`.
    pub tenant: Tenant,
    /// The user's accountId (`sub`), when the token names one.
    pub account_id: Option<String>,
}

impl Caller {
    /// Verifies the request's token (`Authorization: JWT …`) and the tenant's state.
    pub async fn authenticate(
        state: &AppState,
        headers: &HeaderMap,
        request: &RequestTarget,
    ) -> Result<Self, ApiError> {
        let token = token_of(headers, request);
        let verified =
            authenticate(state, token.as_deref(), request, QshRule::RequestOrContext).await?;
        require_active(&verified.tenant)?;
        let account_id = verified.claims.sub.filter(|sub| !sub.trim().is_empty());
        tracing::Span::current().record("client_key", verified.tenant.client_key.as_str());
        Ok(Self {
            tenant: verified.tenant,
            account_id,
        })
    }

    /// Succeeds only for a site admin of the caller's tenant, as the product says.
    pub async fn require_admin(&self, state: &AppState) -> Result<(), ApiError> {
        let Some(account_id) = self.account_id.as_deref() else {
            return Err(ApiError::forbidden(
                "no_user",
                "the token names no user, and only site admins may change rules",
            ));
        };
        match state.admin_check.is_admin(&self.tenant, account_id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::forbidden(
                "not_admin",
                "only site admins may change rules",
            )),
            Err(error) => {
                tracing::warn!(error = %error, "the admin check failed");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "admin_check_failed",
                    "could not confirm with the product that you are a site admin; retry later",
                ))
            }
        }
    }
}

/// Refuses tenants that uninstalled or disabled the app.
pub fn require_active(tenant: &Tenant) -> Result<(), ApiError> {
    if tenant.is_active() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "tenant_inactive",
            "the app is not enabled for this site",
        ))
    }
}

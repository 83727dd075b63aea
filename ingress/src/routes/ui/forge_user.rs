//! The user of a Forge Custom UI call: the verified invocation token's installation (looked up,
//! never registered here: only Forge's lifecycle events and triggers register one) and its
//! `principal`, with the tokens the call brought for asking the product about them.
use common::forge::SystemToken;
use common::tenant::Tenant;
use warp::http::StatusCode;

use crate::admin_check::{ForgeAsk, ForgeCredential};
use crate::caller::forge::ForgeCall;
use crate::errors::ApiError;
use crate::state::AppState;

/// Longest user token accepted (the system token's bound, `common::forge::token`).
const MAX_USER_TOKEN_BYTES: usize = 16 * 1024;

/// A verified Forge UI call's user, on an active tenant.
pub(crate) struct ForgeUser {
    /// The installation's tenant.
    pub tenant: Tenant,
    /// The token's `principal`, if it names one.
    pub account_id: Option<String>,
    /// The token's `apiBaseUrl` (its host checked by the caller filter).
    api_base_url: String,
    /// The user's own token (`x-forge-oauth-user`), when the endpoint shares it.
    user_token: Option<UserToken>,
    /// The call's app system token, else the installation's stored one if still usable.
    system_token: Option<SystemToken>,
}

/// The user token: a secret, never logged (`Debug` shows nothing of it).
struct UserToken(String);

impl UserToken {
    /// A plausible bearer token (non-empty, bounded, no whitespace), or nothing.
    fn received(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let plausible = !raw.is_empty()
            && raw.len() <= MAX_USER_TOKEN_BYTES
            && !raw.chars().any(char::is_whitespace);
        plausible.then(|| Self(raw.to_owned()))
    }
}

impl std::fmt::Debug for UserToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserToken(<redacted>)")
    }
}

impl ForgeUser {
    /// The user of `call`: 404 `installation_unknown` for an installation hookline has not
    /// registered, 403 `tenant_inactive` for an uninstalled one. A system token fresher than
    /// the stored one is kept, as on every other Forge call.
    pub(crate) async fn resolve(
        state: &AppState,
        call: ForgeCall,
        user_token: Option<String>,
    ) -> Result<Self, ApiError> {
        let fit = call.fit;
        let tenants = &state.stores.tenants;
        let tenant = tenants
            .find_forge(&fit.installation_id, fit.product)
            .await
            .map_err(store_unavailable)?
            .ok_or_else(|| {
                tracing::info!(installation = %fit.installation_id, "UI call of an unknown installation refused");
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "installation_unknown",
                    "hookline does not know this installation yet; retry once the app's installation has completed",
                )
            })?;
        tracing::Span::current().record("client_key", tenant.client_key.as_str());
        crate::caller::require_active(&tenant)?;
        let stored = tenant.forge.as_ref().and_then(|f| f.token.clone());
        let system_token = match (call.token, stored) {
            (Some(fresh), stored) => {
                if stored.is_none_or(|s| fresh.expires_at() > s.expires_at()) {
                    tenants
                        .store_forge_token(&tenant.client_key, &fresh)
                        .await
                        .map_err(store_unavailable)?;
                }
                Some(fresh)
            }
            (None, stored) => stored.filter(|token| token.usable_at(chrono::Utc::now())),
        };
        Ok(Self {
            tenant,
            account_id: fit.principal,
            api_base_url: fit.api_base_url,
            user_token: user_token.as_deref().and_then(UserToken::received),
            system_token,
        })
    }

    /// Succeeds only for a site admin, as the product says: asked with the user's own token
    /// when the call brought one, else with the app system token about the accountId.
    pub(crate) async fn require_admin(&self, state: &AppState) -> Result<(), ApiError> {
        let Some(account_id) = self.account_id.as_deref() else {
            return Err(ApiError::forbidden(
                "no_user",
                "the call names no user, and only site admins may change rules or pause hookline",
            ));
        };
        let credential = match (&self.user_token, &self.system_token) {
            (Some(user), _) => ForgeCredential::User(&user.0),
            (None, Some(system)) => ForgeCredential::System(system.expose()),
            (None, None) => {
                tracing::warn!("admin check: the call brought no token and none is stored");
                return Err(crate::admin_check::check_failed());
            }
        };
        let ask = ForgeAsk {
            client_key: &self.tenant.client_key,
            product: self.tenant.product_type,
            api_base_url: &self.api_base_url,
            account_id,
            credential,
        };
        crate::admin_check::require(state.admin_check.is_forge_admin(&ask).await)
    }
}

fn store_unavailable(error: common::tenant::StoreError) -> ApiError {
    tracing::error!(%error, "the tenant store failed");
    ApiError::unavailable(
        "tenant_store_unavailable",
        "the tenant store is unavailable; retry later",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plausible_user_token_is_kept_and_it_never_shows_in_debug() {
        let token = UserToken::received(" eyJ.abc.def ").expect("kept");
        assert_eq!(token.0, "eyJ.abc.def");
        assert!(!format!("{token:?}").contains("eyJ"));
        for bad in ["", "  ", "a b", &"x".repeat(MAX_USER_TOKEN_BYTES + 1)] {
            assert!(UserToken::received(bad).is_none(), "{bad:.10}");
        }
    }
}

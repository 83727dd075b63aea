//! Forge sites: the product APIs as `api.atlassian.com` serves them to a Forge app, at
//! `/ex/{product}/{cloudId}/...` with `Authorization: Bearer <app system token>` instead of a
//! Connect JWT (docs/forge.md §5). Only tokens issued for the site (by
//! [`ForgeSim`](crate::ForgeSim)) and not expired or revoked are accepted. Also: a site whose
//! app permissions are not granted yet answers 403 to every verified request.
use std::collections::HashMap;

use common::tenant::ProductType;
use serde_json::json;
use warp::reply::Response;

use super::reply;
use super::ProductSim;

/// What a Forge site knows of its tokens.
pub(crate) struct ForgeAccess {
    /// The site's cloud id (stable across reinstalls).
    pub cloud_id: String,
    /// Every token issued for the site, by value.
    tokens: HashMap<String, Issued>,
}

struct Issued {
    /// `exp`, epoch seconds: the token is refused from this second on.
    exp: i64,
    revoked: bool,
}

/// Why a bearer token was refused (each answers 401).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BearerError {
    /// No `Authorization: Bearer <token>`.
    Missing,
    /// A token never issued for this site (another site's, or made up).
    Unknown,
    /// A token of this site that was revoked (expired by a test, or the app was uninstalled).
    Revoked,
    /// A token of this site past its `exp`.
    Expired,
}

impl BearerError {
    /// The code recorded in [`RecordedRequest::jwt`](crate::RecordedRequest::jwt).
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Missing => "bearer_missing",
            Self::Unknown => "bearer_unknown",
            Self::Revoked => "bearer_revoked",
            Self::Expired => "bearer_expired",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Missing => "Unauthorized; no bearer token",
            Self::Unknown => "Unauthorized; the token is not valid for this site",
            Self::Revoked => "Unauthorized; the token has been revoked",
            Self::Expired => "Unauthorized; the token has expired",
        }
    }
}

impl ForgeAccess {
    pub(crate) fn new(cloud_id: &str) -> Self {
        Self {
            cloud_id: cloud_id.to_owned(),
            tokens: HashMap::new(),
        }
    }

    /// Verifies `Authorization: Bearer <token>` at `now` (epoch seconds).
    pub(crate) fn verify(&self, authorization: Option<&str>, now: i64) -> Result<(), BearerError> {
        let token = authorization
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or(BearerError::Missing)?;
        let issued = self.tokens.get(token).ok_or(BearerError::Unknown)?;
        if issued.revoked {
            return Err(BearerError::Revoked);
        }
        if issued.exp <= now {
            return Err(BearerError::Expired);
        }
        Ok(())
    }
}

/// The 401 a refused bearer token gets (the gateway's shape, plus the failed check).
pub(crate) fn unauthorized(error: BearerError) -> Response {
    reply::json(
        401,
        &json!({ "code": 401, "message": error.message(), "reason": error.code() }),
    )
}

/// The 403 of a site whose app permissions are not granted yet, in the product's shape.
pub(crate) fn not_granted(product: ProductType) -> Response {
    let message = "The app has not been granted the permissions this request needs.";
    match product {
        ProductType::Jira => reply::error(403, message),
        ProductType::Confluence => reply::confluence_error(403, message),
    }
}

impl ProductSim {
    /// Registers (or re-registers, keeping records and tokens) a Forge site reached at
    /// `/ex/{product}/{cloud_id}`; its effects are recorded under `site_key`. Returns its
    /// `apiBaseUrl`.
    pub(crate) fn add_forge_site(
        &self,
        site_key: &str,
        product: ProductType,
        cloud_id: &str,
    ) -> String {
        self.state.lock().upsert_forge(site_key, product, cloud_id);
        let path = super::state::forge_base_path(product, cloud_id);
        format!("http://{}{path}", self.address())
    }

    /// Accepts `token` for the Forge site `site_key` until `exp` (epoch seconds).
    pub(crate) fn issue_bearer(&self, site_key: &str, token: &str, exp: i64) {
        self.with_forge(site_key, |forge| {
            let issued = Issued {
                exp,
                revoked: false,
            };
            forge.tokens.insert(token.to_owned(), issued);
        });
    }

    /// Refuses every token issued so far for the Forge site `site_key`.
    pub(crate) fn revoke_bearers(&self, site_key: &str) {
        self.with_forge(site_key, |forge| {
            forge
                .tokens
                .values_mut()
                .for_each(|issued| issued.revoked = true);
        });
    }

    /// Makes every verified request of a site answer 403 until [`ProductSim::grant`]: a Forge
    /// app may be installed (and get `avi:forge:installed:app`) before its permissions are
    /// active. Works for Connect sites too. Refused requests are recorded, not counted in
    /// [`ProductSim::rejected_requests`].
    ///
    /// # Panics
    /// If no site is registered under `site_key`.
    pub fn deny_until_granted(&self, site_key: &str) {
        self.set_denied(site_key, true);
    }

    /// Grants the app's permissions on a site denied by [`ProductSim::deny_until_granted`].
    ///
    /// # Panics
    /// If no site is registered under `site_key`.
    pub fn grant(&self, site_key: &str) {
        self.set_denied(site_key, false);
    }

    fn set_denied(&self, site_key: &str, denied: bool) {
        let mut state = self.state.lock();
        let tenant = state
            .by_client_key(site_key)
            .unwrap_or_else(|| panic!("no simulated site is registered as {site_key}"));
        tenant.denied = denied;
    }

    fn with_forge(&self, site_key: &str, change: impl FnOnce(&mut ForgeAccess)) {
        let mut state = self.state.lock();
        let forge = state
            .by_client_key(site_key)
            .and_then(|tenant| tenant.forge.as_mut())
            .unwrap_or_else(|| panic!("no simulated Forge site is registered as {site_key}"));
        change(forge);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> ForgeAccess {
        let mut access = ForgeAccess::new("cloud-1");
        access.tokens.insert(
            "good".into(),
            Issued {
                exp: 100,
                revoked: false,
            },
        );
        access.tokens.insert(
            "old".into(),
            Issued {
                exp: 100,
                revoked: true,
            },
        );
        access
    }

    #[test]
    fn only_an_issued_live_bearer_token_passes() {
        let access = access();
        assert_eq!(access.verify(Some("Bearer good"), 99), Ok(()));
        assert_eq!(access.verify(Some("bearer  good "), 99), Ok(()));
        let refused = [
            (None, BearerError::Missing),
            (Some("JWT good"), BearerError::Missing),
            (Some("Bearer "), BearerError::Missing),
            (Some("Bearer other"), BearerError::Unknown),
            (Some("Bearer old"), BearerError::Revoked),
        ];
        for (authorization, error) in refused {
            assert_eq!(
                access.verify(authorization, 99),
                Err(error),
                "{authorization:?}"
            );
        }
        assert_eq!(
            access.verify(Some("Bearer good"), 100),
            Err(BearerError::Expired)
        );
    }
}

//! App system tokens: what Forge hands the remote in `x-forge-oauth-system` and what the
//! product accepts as `Authorization: Bearer` for that installation's site (docs/forge.md §3,
//! §5). The simulator signs them HS256 with a secret of its own; to the app they are opaque
//! but for `exp`, as Atlassian documents.
//!
//! Each site has one current token. Forge hands out cached tokens that stay valid for about
//! two more hours, so a delivery carries the current token, replaced by a fresh one once less
//! than half its lifetime is left; except after [`ForgeSim::expire_system_tokens`], when the
//! site keeps an expired token until [`ForgeSim::rotate_system_token`].
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::{lock, now, random_hex, ForgeSim, ForgeSite};

/// The lifetime of system tokens unless [`ForgeSim::set_token_lifetime`] says otherwise (the
/// longest Atlassian issues).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(4 * 3600);
/// The `iss` of the simulator's system tokens (nothing an app may rely on).
const SYSTEM_TOKEN_ISSUER: &str = "hookline-simulator/app-system-token";

/// The system tokens of every site of a simulator.
pub(crate) struct SystemTokens {
    key: EncodingKey,
    state: Mutex<TokenState>,
}

struct TokenState {
    lifetime: Duration,
    /// The current token of each site, by site key.
    current: HashMap<String, Current>,
}

struct Current {
    token: String,
    exp: i64,
    iat: i64,
    /// Set by `expire_system_tokens`, cleared by a new token: no automatic refresh.
    expired_on_purpose: bool,
}

impl SystemTokens {
    pub(crate) fn new() -> Self {
        let secret = random_hex(32);
        Self {
            key: EncodingKey::from_secret(secret.as_bytes()),
            state: Mutex::new(TokenState {
                lifetime: DEFAULT_TOKEN_LIFETIME,
                current: HashMap::new(),
            }),
        }
    }

    /// A token for `site` valid from `iat` to `exp`.
    fn sign(&self, sim: &ForgeSim, site: &ForgeSite, iat: i64, exp: i64) -> String {
        let claims = json!({
            "iss": SYSTEM_TOKEN_ISSUER,
            "sub": sim.app_id(),
            "aud": format!("ari:cloud:platform::site/{}", site.cloud_id),
            "installationId": site.installation_id,
            "iat": iat,
            "exp": exp,
            "jti": random_hex(16),
        });
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .expect("an HS256 token signs")
    }
}

fn lifetime_secs(lifetime: Duration) -> i64 {
    i64::try_from(lifetime.as_secs())
        .unwrap_or(i64::MAX / 2)
        .max(1)
}

impl ForgeSim {
    /// The site's current app system token (the one the next delivery carries, unless it is
    /// refreshed first).
    ///
    /// # Panics
    /// If `site` was not installed through this simulator.
    pub fn system_token(&self, site: &ForgeSite) -> String {
        let state = lock(&self.inner.tokens.state);
        match state.current.get(&site.site_key) {
            Some(current) => current.token.clone(),
            None => panic!("no Forge site {} was installed here", site.site_key),
        }
    }

    /// Mints a new system token for the site (valid for the token lifetime) and makes it
    /// current; earlier tokens stay valid until their `exp`. Returns it.
    pub fn rotate_system_token(&self, site: &ForgeSite) -> String {
        let tokens = &self.inner.tokens;
        let iat = now();
        let exp = iat + lifetime_secs(lock(&tokens.state).lifetime);
        let token = tokens.sign(self, site, iat, exp);
        self.inner.product.issue_bearer(&site.site_key, &token, exp);
        let current = Current {
            token: token.clone(),
            exp,
            iat,
            expired_on_purpose: false,
        };
        lock(&tokens.state)
            .current
            .insert(site.site_key.clone(), current);
        token
    }

    /// Expires the site's tokens: the product refuses every token issued for it so far, and
    /// the site's current token becomes one whose `exp` has passed (what an app holding a
    /// stale token has). Deliveries carry that expired token, and the product refuses it,
    /// until [`ForgeSim::rotate_system_token`] (or a reinstall) mints a valid one.
    pub fn expire_system_tokens(&self, site: &ForgeSite) {
        let tokens = &self.inner.tokens;
        self.inner.product.revoke_bearers(&site.site_key);
        let lifetime = lifetime_secs(lock(&tokens.state).lifetime);
        let exp = now() - 1;
        let iat = exp - lifetime;
        let token = tokens.sign(self, site, iat, exp);
        self.inner.product.issue_bearer(&site.site_key, &token, exp);
        let current = Current {
            token,
            exp,
            iat,
            expired_on_purpose: true,
        };
        lock(&tokens.state)
            .current
            .insert(site.site_key.clone(), current);
    }

    /// The lifetime of system tokens minted from now on (default
    /// [`DEFAULT_TOKEN_LIFETIME`]; at least a second).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        lock(&self.inner.tokens.state).lifetime = lifetime;
    }

    /// The token a delivery to the app carries: the current one, replaced first when less
    /// than half of its lifetime is left (or just half) (as Forge's token cache does), unless it was expired
    /// on purpose.
    pub(crate) fn delivered_system_token(&self, site: &ForgeSite) -> String {
        let stale = {
            let state = lock(&self.inner.tokens.state);
            match state.current.get(&site.site_key) {
                Some(current) if current.expired_on_purpose => return current.token.clone(),
                Some(current) => (current.exp - now()) * 2 <= current.exp - current.iat,
                None => true,
            }
        };
        if stale {
            self.rotate_system_token(site)
        } else {
            self.system_token(site)
        }
    }

    /// Refuses every token of the site from now on (an uninstall).
    pub(crate) fn revoke_system_tokens(&self, site: &ForgeSite) {
        self.inner.product.revoke_bearers(&site.site_key);
    }
}

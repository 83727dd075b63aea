//! Forge Invocation Tokens (FIT): the `Authorization: Bearer` of every call from Forge to the
//! remote (docs/forge.md §2). RS256 with the header `{"alg":"RS256","kid":"forge/invocation-
//! token/wf-<uuid>"}` (no `typ`), and the claim set of Atlassian's documented example for a
//! `core:endpoint` call: `app{id, version, appVersion, installationId, apiBaseUrl,
//! installation{id, contexts}, environment{type, id}, module{type, key}}`, `aud` = the app
//! ARI, `iss` = `forge/invocation-token`, `iat` = `nbf` = now, `exp` = now + 25, `jti` (40 hex
//! characters). No `context` or `principal`: those are for UI calls.
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{now, random_hex, ForgeSim, ForgeSite};

/// The `iss` of every FIT.
pub const FIT_ISSUER: &str = "forge/invocation-token";
/// `exp - iat` of a FIT, seconds (as in the documented example and real tokens).
pub const FIT_LIFETIME_SECS: i64 = 25;

/// The `kid` a FIT's header names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FitKid {
    /// The current key's kid (signed with the current key).
    #[default]
    Current,
    /// No `kid` in the header (signed with the current key).
    Absent,
    /// This kid: signed with the simulator's key of that kid (current or rotated out), or
    /// with the current key if no key of the simulator has it.
    Named(String),
}

/// Changes to a FIT, to make the tokens attack tests need; the default changes nothing.
/// Anything else (other algorithms, claims removed or added) is made by altering
/// [`ForgeSim::fit_claims`] and signing with [`ForgeSim::sign_fit`] or [`sign_with_key`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FitOverrides {
    /// `aud` instead of the app ARI (e.g. another app's).
    pub audience: Option<String>,
    /// `iss` instead of `forge/invocation-token`.
    pub issuer: Option<String>,
    /// Moves `iat`, `nbf` and `exp` by this many seconds (negative: into the past).
    pub time_shift_secs: i64,
    /// `nbf` this many seconds after `iat` (positive: not valid yet).
    pub not_before_delay_secs: i64,
    /// `exp - iat` instead of [`FIT_LIFETIME_SECS`].
    pub lifetime_secs: Option<i64>,
    /// The kid the header names.
    pub kid: FitKid,
}

impl FitOverrides {
    /// A token that expired ten minutes ago (beyond any sensible leeway).
    pub fn expired() -> Self {
        Self {
            time_shift_secs: -600,
            ..Self::default()
        }
    }

    /// A token whose `nbf` is ten minutes ahead.
    pub fn not_yet_valid() -> Self {
        Self {
            not_before_delay_secs: 600,
            lifetime_secs: Some(900),
            ..Self::default()
        }
    }

    /// A token for another audience (e.g. another Forge app's ARI).
    pub fn audience(audience: &str) -> Self {
        Self {
            audience: Some(audience.to_owned()),
            ..Self::default()
        }
    }

    /// A token whose header names no key.
    pub fn without_kid() -> Self {
        Self {
            kid: FitKid::Absent,
            ..Self::default()
        }
    }

    /// A token whose header names a kid the JWKS never served.
    pub fn unknown_kid() -> Self {
        Self {
            kid: FitKid::Named(format!("{}{}", super::KID_PREFIX, uuid::Uuid::new_v4())),
            ..Self::default()
        }
    }
}

impl ForgeSim {
    /// The claims of a FIT for a call to the endpoint `endpoint_key` of `site`'s installation,
    /// issued now; alter them and sign with [`ForgeSim::sign_fit`] for attack tests.
    pub fn fit_claims(&self, site: &ForgeSite, endpoint_key: &str) -> Value {
        let iat = now();
        let version = self.app_version();
        let product = site.product.as_str();
        json!({
            "app": {
                "id": self.app_id(),
                "version": version.to_string(),
                "appVersion": format!("{version}.0.0"),
                "installationId": site.installation_id,
                "apiBaseUrl": site.api_base_url,
                "installation": {
                    "id": site.installation_id,
                    "contexts": [{
                        "name": product,
                        "apiBaseUrl": site.api_base_url,
                        "cloudId": site.cloud_id,
                    }],
                },
                "environment": {
                    "type": "PRODUCTION",
                    "id": format!(
                        "ari:cloud:ecosystem::environment/{}/{}",
                        self.inner.app_uuid, self.inner.environment_uuid
                    ),
                },
                "module": { "type": "core:endpoint", "key": endpoint_key },
            },
            "aud": self.app_id(),
            "iss": FIT_ISSUER,
            "iat": iat,
            "nbf": iat,
            "exp": iat + FIT_LIFETIME_SECS,
            "jti": random_hex(20),
        })
    }

    /// A valid FIT for a call to the endpoint `endpoint_key` of `site`'s installation, signed
    /// with the current key.
    pub fn mint_fit(&self, site: &ForgeSite, endpoint_key: &str) -> String {
        self.mint_fit_with(site, endpoint_key, &FitOverrides::default())
    }

    /// A FIT like [`ForgeSim::mint_fit`] with `overrides` applied.
    pub fn mint_fit_with(
        &self,
        site: &ForgeSite,
        endpoint_key: &str,
        overrides: &FitOverrides,
    ) -> String {
        let mut claims = self.fit_claims(site, endpoint_key);
        let iat = now() + overrides.time_shift_secs;
        let lifetime = overrides.lifetime_secs.unwrap_or(FIT_LIFETIME_SECS);
        claims["iat"] = json!(iat);
        claims["nbf"] = json!(iat + overrides.not_before_delay_secs);
        claims["exp"] = json!(iat + lifetime);
        if let Some(audience) = &overrides.audience {
            claims["aud"] = json!(audience);
        }
        if let Some(issuer) = &overrides.issuer {
            claims["iss"] = json!(issuer);
        }
        let kid = match &overrides.kid {
            FitKid::Current => Some(self.current_kid()),
            FitKid::Absent => None,
            FitKid::Named(kid) => Some(kid.clone()),
        };
        self.sign_fit(&claims, kid.as_deref())
    }

    /// Signs `claims` RS256 with the header `{"alg":"RS256","kid":kid}` (no `kid` if `None`):
    /// with the simulator's key of that kid (current or rotated out), else the current key.
    pub fn sign_fit(&self, claims: &Value, kid: Option<&str>) -> String {
        let key = kid
            .and_then(|kid| self.inner.jwks.by_kid(kid))
            .unwrap_or_else(|| self.inner.jwks.current());
        sign_with_key(claims, kid, key.encoding_key())
    }
}

/// Signs `claims` RS256 with `key` and the header `{"alg":"RS256","kid":kid}` (no `typ`; no
/// `kid` if `None`), e.g. with [`foreign_encoding_key`](super::foreign_encoding_key).
///
/// # Panics
/// If `key` is not an RSA key.
pub fn sign_with_key(claims: &Value, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = None;
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("an RS256 token signs with an RSA key")
}

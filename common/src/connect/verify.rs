//! Verifying product-issued (HS256) Connect JWTs against a request.
use std::future::Future;

use jsonwebtoken::{Algorithm, DecodingKey};

pub use super::token::MAX_TOKEN_BYTES;
use super::token::{check_qsh, check_times, Claims, QshRule, Unverified};
use super::{CanonicalRequest, JwtError, SharedSecret};

/// Anything that carries a tenant's `sharedSecret` (the tenant record the lookup returns).
pub trait HasSharedSecret {
    /// The key that verifies this tenant's tokens; none for a tenant that is no Connect
    /// issuer (a site known only through Forge), whose name in `iss` is then unknown.
    fn shared_secret(&self) -> Option<&SharedSecret>;
}

/// How the verifier finds the tenant named by a token's `iss` (provided by the caller).
pub trait TenantLookup: Sync {
    /// The tenant record returned with a verified token.
    type Tenant: HasSharedSecret + Send;
    /// Why a lookup failed (database down, ...); never "not found", which is `Ok(None)`.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Loads the tenant whose `clientKey` is `client_key`, if there is one.
    fn find_tenant(
        &self,
        client_key: &str,
    ) -> impl Future<Output = Result<Option<Self::Tenant>, Self::Error>> + Send;
}

/// A token that passed every check, with the tenant that issued it.
#[derive(Debug)]
pub struct Verified<T> {
    /// The tenant named by `iss`, as the lookup returned it.
    pub tenant: T,
    /// The token's claims.
    pub claims: Claims,
}

/// Verifies product-issued HS256 tokens: exactly HS256, `exp` with leeway, `qsh` bound to the request.
#[derive(Debug, Clone, Copy)]
pub struct Verifier {
    leeway_secs: i64,
    fixed_now: Option<i64>,
}

impl Verifier {
    /// A verifier allowing `leeway_secs` of clock skew on `exp` and `iat`.
    pub fn new(leeway_secs: u64) -> Self {
        Self {
            leeway_secs: i64::try_from(leeway_secs).unwrap_or(i64::MAX),
            fixed_now: None,
        }
    }

    /// The same verifier with the clock fixed at `now` (epoch seconds), for tests and tools.
    pub fn at(self, now: i64) -> Self {
        Self {
            fixed_now: Some(now),
            ..self
        }
    }

    fn now(&self) -> i64 {
        self.fixed_now
            .unwrap_or_else(|| chrono::Utc::now().timestamp())
    }

    /// Verifies `token` for `request`: reads `iss` without trust, loads that tenant through
    /// `lookup`, then checks algorithm, signature, times and `qsh` under `rule`.
    pub async fn verify<L: TenantLookup>(
        &self,
        token: &str,
        request: &CanonicalRequest,
        rule: QshRule,
        lookup: &L,
    ) -> Result<Verified<L::Tenant>, JwtError> {
        let unverified = Unverified::decode(token)?;
        unverified.require_algorithm(Algorithm::HS256)?;
        let issuer = unverified
            .claims
            .iss
            .as_deref()
            .filter(|iss| !iss.is_empty())
            .ok_or(JwtError::MissingIssuer)?;
        let tenant = lookup
            .find_tenant(issuer)
            .await
            .map_err(|error| JwtError::Lookup(Box::new(error)))?
            .ok_or(JwtError::UnknownIssuer)?;
        let secret = tenant.shared_secret().ok_or(JwtError::UnknownIssuer)?;
        let claims = self.check(unverified, secret, request, rule)?;
        Ok(Verified { tenant, claims })
    }

    /// Verifies `token` for `request` with a known secret (no lookup; `iss` is not checked).
    pub fn verify_with_secret(
        &self,
        token: &str,
        secret: &SharedSecret,
        request: &CanonicalRequest,
        rule: QshRule,
    ) -> Result<Claims, JwtError> {
        let unverified = Unverified::decode(token)?;
        unverified.require_algorithm(Algorithm::HS256)?;
        self.check(unverified, secret, request, rule)
    }

    fn check(
        &self,
        unverified: Unverified<'_>,
        secret: &SharedSecret,
        request: &CanonicalRequest,
        rule: QshRule,
    ) -> Result<Claims, JwtError> {
        if secret.expose().is_empty() {
            return Err(JwtError::Key("the shared secret is empty".into()));
        }
        let key = DecodingKey::from_secret(secret.expose().as_bytes());
        unverified.verify_signature(&key, Algorithm::HS256)?;
        check_times(&unverified.claims, self.now(), self.leeway_secs)?;
        check_qsh(&unverified.claims, request, rule)?;
        Ok(unverified.claims)
    }
}

//! Verifying RS256 signed-install tokens (`installed` / `uninstalled`, docs/protocol.md §1).
use jsonwebtoken::{Algorithm, DecodingKey};

use super::token::{check_qsh, check_times, QshRule, Unverified};
use super::{CanonicalRequest, Claims, JwtError};

/// What a signed-install token must match.
#[derive(Debug, Clone, Copy)]
pub struct InstallExpectations<'a> {
    /// The app's own `baseUrl` (the token's `aud`; one trailing `/` is ignored).
    pub app_base_url: &'a str,
    /// The `clientKey` of the lifecycle body (the token's `iss`).
    pub client_key: &'a str,
    /// The lifecycle request, relative to the app's base URL (`POST&/installed&`).
    pub request: &'a CanonicalRequest,
    /// Now, epoch seconds.
    pub now: i64,
    /// Allowed clock skew, seconds.
    pub leeway_secs: i64,
}

/// Reads the `kid` of a signed-install token, refusing ids that are unsafe in a URL path.
pub fn key_id(token: &str) -> Result<String, JwtError> {
    let unverified = Unverified::decode(token)?;
    unverified.require_algorithm(Algorithm::RS256)?;
    let kid = unverified
        .header
        .kid
        .ok_or_else(|| JwtError::Malformed("the header has no kid".into()))?;
    let safe = !kid.is_empty()
        && kid.len() <= 128
        && kid != "."
        && kid != ".."
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if safe {
        Ok(kid)
    } else {
        Err(JwtError::Malformed("the kid is not a safe key id".into()))
    }
}

/// Verifies a signed-install token with the PEM public key named by its `kid`.
pub fn verify_install(
    token: &str,
    public_key_pem: &[u8],
    expected: &InstallExpectations<'_>,
) -> Result<Claims, JwtError> {
    let unverified = Unverified::decode(token)?;
    unverified.require_algorithm(Algorithm::RS256)?;
    let key = DecodingKey::from_rsa_pem(public_key_pem)
        .map_err(|_| JwtError::Key("the install public key is not an RSA PEM".into()))?;
    unverified.verify_signature(&key, Algorithm::RS256)?;
    let claims = &unverified.claims;
    if claims.iss.as_deref() != Some(expected.client_key) {
        return Err(if claims.iss.is_none() {
            JwtError::MissingIssuer
        } else {
            JwtError::WrongIssuer
        });
    }
    let audience = claims.aud.first().map(|aud| aud.trim_end_matches('/'));
    if audience.is_none() || audience != Some(expected.app_base_url.trim_end_matches('/')) {
        return Err(JwtError::WrongAudience);
    }
    check_times(claims, expected.now, expected.leeway_secs)?;
    check_qsh(claims, expected.request, QshRule::Request)?;
    Ok(unverified.claims)
}

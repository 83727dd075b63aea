//! The app system token Forge hands the remote in `x-forge-oauth-system`: the only credential
//! for calling the product back (`Authorization: Bearer`). There is no refresh endpoint, so
//! hookline keeps the freshest token each installation delivered. The token is opaque but for
//! its `exp`, which Atlassian documents; it is never logged and is encrypted at rest.
use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};

/// How long before its `exp` a token is no longer used: a call must not start with a token
/// that expires on the way.
pub const EXPIRY_MARGIN_SECS: i64 = 60;
/// The lifetime assumed for a token whose `exp` cannot be read (Atlassian promises at least
/// two hours when a trigger calls the remote directly).
const ASSUMED_LIFETIME_SECS: i64 = 3600;

/// An app system token and when it expires. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct SystemToken {
    token: String,
    expires_at: DateTime<Utc>,
}

impl SystemToken {
    /// A token received now: its `exp` read from its (unverified) JWT payload, or an hour.
    pub fn received(token: &str, now: DateTime<Utc>) -> Option<Self> {
        let token = token.trim();
        if token.is_empty() || token.len() > 16 * 1024 || token.contains(char::is_whitespace) {
            return None;
        }
        let expires_at = exp_of(token)
            .and_then(|exp| Utc.timestamp_opt(exp, 0).single())
            .unwrap_or(now + chrono::Duration::seconds(ASSUMED_LIFETIME_SECS));
        Some(Self::stored(token.to_owned(), expires_at))
    }

    /// A token as stored.
    pub fn stored(token: String, expires_at: DateTime<Utc>) -> Self {
        Self { token, expires_at }
    }

    /// The token itself, for an `Authorization: Bearer` header only.
    pub fn expose(&self) -> &str {
        &self.token
    }

    /// When it expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Whether a call may still start with it at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - chrono::Duration::seconds(EXPIRY_MARGIN_SECS) > now
    }
}

impl fmt::Debug for SystemToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The `exp` claim of a JWT, read without verification (the token is not ours to verify).
fn exp_of(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let part = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        format!("{}.{}.sig", part(r#"{"alg":"RS256"}"#), part(claims))
    }

    #[test]
    fn a_tokens_expiry_is_its_exp_and_it_is_not_used_in_its_last_minute() {
        let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
        let token = SystemToken::received(&jwt(r#"{"exp":1007200}"#), now).unwrap();
        assert_eq!(token.expires_at().timestamp(), 1_007_200);
        assert!(token.usable_at(now));
        assert!(!token.usable_at(Utc.timestamp_opt(1_007_150, 0).unwrap()));
        let opaque = SystemToken::received("opaque-token", now).unwrap();
        assert_eq!(opaque.expires_at(), now + chrono::Duration::seconds(3600));
        assert!(SystemToken::received("", now).is_none());
        assert!(
            !format!("{token:?}").contains("sig"),
            "Debug hides the token"
        );
    }
}

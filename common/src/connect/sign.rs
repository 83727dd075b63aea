//! Signing HS256 Connect tokens: app-issued tokens for calls to the product, and (for the
//! simulator and tests) product-issued tokens for calls to the app.
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

use super::{CanonicalRequest, Claims, JwtError, SharedSecret};

/// Lifetime of app-issued tokens (docs/protocol.md §2: `exp` = `iat` + 180 s).
pub const APP_TOKEN_TTL_SECS: i64 = 180;

/// Signs a token for a request from the app to a tenant's product: `iss` = the app key,
/// `qsh` of the request, `aud` = [clientKey], `exp` = `now` + 180 s.
pub fn app_token(
    app_key: &str,
    client_key: &str,
    secret: &SharedSecret,
    request: &CanonicalRequest,
    now: i64,
) -> Result<String, JwtError> {
    let claims = Claims {
        iss: Some(app_key.to_owned()),
        iat: Some(now),
        exp: Some(now + APP_TOKEN_TTL_SECS),
        qsh: Some(request.qsh().as_str().to_owned()),
        aud: vec![client_key.to_owned()],
        ..Claims::default()
    };
    sign_hs256(&claims, secret)
}

/// Signs a token as the product does toward the app: `iss` = clientKey, `qsh` of the request.
pub fn product_token(
    client_key: &str,
    secret: &SharedSecret,
    request: &CanonicalRequest,
    now: i64,
    ttl_secs: i64,
) -> Result<String, JwtError> {
    let claims = Claims {
        iss: Some(client_key.to_owned()),
        iat: Some(now),
        exp: Some(now + ttl_secs),
        qsh: Some(request.qsh().as_str().to_owned()),
        ..Claims::default()
    };
    sign_hs256(&claims, secret)
}

/// Signs arbitrary claims with HS256 (header `{"typ":"JWT","alg":"HS256"}`).
pub fn sign_hs256(claims: &Claims, secret: &SharedSecret) -> Result<String, JwtError> {
    if secret.expose().is_empty() {
        return Err(JwtError::Key("the shared secret is empty".into()));
    }
    let key = EncodingKey::from_secret(secret.expose().as_bytes());
    encode(&Header::new(Algorithm::HS256), claims, &key).map_err(|e| JwtError::Key(e.to_string()))
}

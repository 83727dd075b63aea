//! Verifying the Connect JWT of every request from the app (docs/protocol.md §2, §3).
use common::connect::{CanonicalRequest, JwtError, QshRule, SharedSecret, Verifier};
use serde_json::json;
use warp::reply::Response;

use super::reply;

/// Clock skew allowed on `exp` and `iat`.
const LEEWAY_SECS: u64 = 30;

/// What a tenant's tokens are checked against.
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    pub client_key: String,
    pub secret: SharedSecret,
    pub app_key: String,
    /// The path of the tenant's baseUrl (`/t/{site}` or `/t/{site}/wiki`), left out of the qsh.
    pub base_path: String,
}

/// Verifies the `Authorization: JWT <token>` of a request to `target` (raw path and query):
/// exactly HS256 with the tenant's secret, `exp`, `iss` = the app key, `aud` containing the
/// clientKey, and a `qsh` computed without the tenant's base path.
pub(crate) fn verify(
    credentials: &Credentials,
    method: &str,
    target: &str,
    authorization: Option<&str>,
) -> Result<(), JwtError> {
    let token = authorization
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("JWT"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(JwtError::Missing)?;
    let request = CanonicalRequest::new(method, target, &credentials.base_path);
    let claims = Verifier::new(LEEWAY_SECS).verify_with_secret(
        token,
        &credentials.secret,
        &request,
        QshRule::Request,
    )?;
    match claims.iss.as_deref() {
        None => return Err(JwtError::MissingIssuer),
        Some(iss) if iss != credentials.app_key => return Err(JwtError::WrongIssuer),
        Some(_) => {}
    }
    if !claims.aud.contains(&credentials.client_key) {
        return Err(JwtError::WrongAudience);
    }
    Ok(())
}

/// The 401 a refused token gets, naming the failed check.
pub(crate) fn unauthorized(error: &JwtError) -> Response {
    reply::json(
        401,
        &json!({
            "errorMessages": [format!("Authentication failed: {error}")],
            "errors": {},
            "code": error.code(),
        }),
    )
}

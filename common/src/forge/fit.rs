//! The Forge Invocation Token (FIT): every call from Forge to the remote carries one
//! (`Authorization: Bearer <FIT>`). RS256, signed by Atlassian with a key named by `kid` from
//! its JWKS; `iss` = `forge/invocation-token`, `aud` = the app's ARI (the configured one: the
//! token's own `app.id` would accept any Forge app's token), `exp`/`nbf` with a leeway, `iat`
//! and `jti` present. The tenant comes only from here: `app.installationId` and the cloud of
//! `app.apiBaseUrl`, never from a body (docs/forge.md §2).
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::ids::{CloudId, InstallationId};
use crate::tenant::ProductType;

/// The FIT's issuer.
pub const ISSUER: &str = "forge/invocation-token";

/// Why a FIT was refused: each answers 401 with its [`FitError::code`] (Forge records it as
/// `INVALID_FORGE_INVOCATION_TOKEN`), never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// No `Authorization: Bearer` token.
    #[error("no Forge Invocation Token (Authorization: Bearer)")]
    Missing,
    /// Not a JWT, or its header or claims are not the documented JSON objects.
    #[error("the token is not a well-formed FIT")]
    Malformed,
    /// Not RS256.
    #[error("the token is not signed with RS256")]
    Algorithm,
    /// The header names no key.
    #[error("the token's header has no kid")]
    NoKeyId,
    /// No key of the JWKS has the token's `kid` (after one refetch).
    #[error("no Forge signing key has the token's kid")]
    UnknownKeyId,
    /// The signature does not verify with the key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `iss` is not `forge/invocation-token`.
    #[error("the token's iss is not forge/invocation-token")]
    Issuer,
    /// `aud` is not this app.
    #[error("the token is for another app")]
    Audience,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A required claim is absent.
    #[error("the token has no {0}")]
    MissingClaim(&'static str),
    /// `icLabel` is not `^[a-z0-9_-]{1,50}$`, or no Isolated Cloud JWKS is configured.
    #[error("the token's Isolated Cloud label is not acceptable")]
    IcLabel,
    /// The token names no installation, or two that differ.
    #[error("the token names no single installation")]
    Installation,
    /// `app.apiBaseUrl` is absent or not a Jira or Confluence API base.
    #[error("the token's apiBaseUrl is not a Jira or Confluence API base URL")]
    ApiBaseUrl,
    /// The token was issued for another endpoint than the one called.
    #[error("the token was issued for another endpoint")]
    WrongEndpoint,
    /// The token (its `jti`) was used before: each FIT is good for one call.
    #[error("the token was used before")]
    Replayed,
}

impl FitError {
    /// A short, stable code for answers and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "fit_missing",
            Self::Malformed => "fit_malformed",
            Self::Algorithm => "fit_algorithm",
            Self::NoKeyId => "fit_no_kid",
            Self::UnknownKeyId => "fit_unknown_kid",
            Self::BadSignature => "fit_bad_signature",
            Self::Issuer => "fit_wrong_issuer",
            Self::Audience => "fit_wrong_audience",
            Self::Expired => "fit_expired",
            Self::NotYetValid => "fit_not_yet_valid",
            Self::MissingClaim(_) => "fit_missing_claim",
            Self::IcLabel => "fit_ic_label",
            Self::Installation => "fit_no_installation",
            Self::ApiBaseUrl => "fit_api_base_url",
            Self::WrongEndpoint => "fit_wrong_endpoint",
            Self::Replayed => "fit_replayed",
        }
    }
}

/// What can be read of a FIT before its key is known (to choose the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitHeader {
    /// The signing key's id.
    pub kid: String,
    /// The Isolated Cloud label, checked against `^[a-z0-9_-]{1,50}$`.
    pub ic_label: Option<String>,
}

/// Reads the key id (and Isolated Cloud label) of an unverified token: RS256 only.
pub fn peek(token: &str) -> Result<FitHeader, FitError> {
    let header = decode_header(token).map_err(|_| unreadable_header(token))?;
    if header.alg != Algorithm::RS256 {
        return Err(FitError::Algorithm);
    }
    let kid = header
        .kid
        .filter(|kid| !kid.is_empty())
        .ok_or(FitError::NoKeyId)?;
    let ic_label = unverified_claims(token)?
        .get("icLabel")
        .map(|label| match label.as_str() {
            Some(label) if valid_ic_label(label) => Ok(label.to_owned()),
            _ => Err(FitError::IcLabel),
        })
        .transpose()?;
    Ok(FitHeader { kid, ic_label })
}

/// Why a header did not decode: an `alg` jsonwebtoken does not know (`none`, `None`, ...) is
/// the wrong algorithm; anything else is malformed.
fn unreadable_header(token: &str) -> FitError {
    use base64::Engine as _;
    let alg = token
        .split('.')
        .next()
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|header| header.get("alg").and_then(Value::as_str).map(str::to_owned));
    match alg {
        Some(_) => FitError::Algorithm,
        None => FitError::Malformed,
    }
}

/// `^[a-z0-9_-]{1,50}$`: checked before the label chooses a URL.
pub fn valid_ic_label(label: &str) -> bool {
    (1..=50).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn unverified_claims(token: &str) -> Result<serde_json::Map<String, Value>, FitError> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).ok_or(FitError::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| FitError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(FitError::Malformed),
    }
}

/// What a route expects of its FIT.
#[derive(Debug, Clone, Copy)]
pub struct FitExpectations<'a> {
    /// The app ARI: the only accepted audience.
    pub app_id: &'a str,
    /// Now, epoch seconds.
    pub now: i64,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: i64,
    /// The endpoint the route is declared under: a token whose `app.module.key` names another
    /// of the remote's endpoints was issued for another route (a key that names none of them
    /// is accepted: what Forge puts there for triggers is not documented).
    pub endpoint: Option<super::Endpoint>,
}

/// A verified FIT: who calls, and where to call back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedFit {
    /// The installation (the tenant's Forge identity).
    pub installation_id: InstallationId,
    /// The site.
    pub cloud_id: CloudId,
    /// Jira or Confluence, from `app.apiBaseUrl`.
    pub product: ProductType,
    /// Where product REST calls go.
    pub api_base_url: String,
    /// The token's id.
    pub jti: String,
    /// `exp`, epoch seconds.
    pub expires_at: i64,
    /// The user, on UI calls.
    pub principal: Option<String>,
    /// `app.appVersion`, when sent.
    pub app_version: Option<String>,
    /// `app.environment.type` (`DEVELOPMENT`, `STAGING`, `PRODUCTION`), when sent.
    pub environment: Option<String>,
}

/// Verifies `token` with `key` against `expect`; see the module docs for the checks.
pub fn verify(
    token: &str,
    key: &DecodingKey,
    expect: &FitExpectations<'_>,
) -> Result<VerifiedFit, FitError> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Every claim is checked below, each with its own answer.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = decode::<Claims>(token, key, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => FitError::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => FitError::Algorithm,
            _ => FitError::Malformed,
        })?
        .claims;
    claims.check(expect)?;
    claims.into_verified()
}

/// The claims hookline reads (unknown ones are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    app: Option<App>,
    principal: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct App {
    installation_id: Option<String>,
    installation: Option<Installation>,
    api_base_url: Option<String>,
    app_version: Option<String>,
    environment: Option<Environment>,
    module: Option<Module>,
}

#[derive(Debug, Deserialize)]
struct Installation {
    id: Option<String>,
    #[serde(default)]
    contexts: Vec<InstallationContext>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallationContext {
    api_base_url: Option<String>,
    cloud_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Environment {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Module {
    key: Option<String>,
}

impl Claims {
    fn check(&self, expect: &FitExpectations<'_>) -> Result<(), FitError> {
        if self.iss.as_deref() != Some(ISSUER) {
            return Err(FitError::Issuer);
        }
        let for_us = match &self.aud {
            Some(Audience::One(aud)) => aud == expect.app_id,
            Some(Audience::Many(auds)) => auds.iter().any(|aud| aud == expect.app_id),
            None => false,
        };
        if !for_us {
            return Err(FitError::Audience);
        }
        let exp = self.exp.ok_or(FitError::MissingClaim("exp"))?;
        if exp.saturating_add(expect.leeway_secs) < expect.now {
            return Err(FitError::Expired);
        }
        if self
            .nbf
            .is_some_and(|nbf| nbf.saturating_sub(expect.leeway_secs) > expect.now)
        {
            return Err(FitError::NotYetValid);
        }
        if self.iat.is_none() {
            return Err(FitError::MissingClaim("iat"));
        }
        if self.jti.as_deref().is_none_or(str::is_empty) {
            return Err(FitError::MissingClaim("jti"));
        }
        let module = self.app.as_ref().and_then(|app| app.module.as_ref());
        let module_key = module.and_then(|module| module.key.as_deref());
        if let (Some(expected), Some(key)) = (expect.endpoint, module_key) {
            let ours = super::ENDPOINTS.iter().any(|endpoint| endpoint.key == key);
            if ours && key != expected.key {
                return Err(FitError::WrongEndpoint);
            }
        }
        Ok(())
    }

    fn into_verified(self) -> Result<VerifiedFit, FitError> {
        let app = self.app.ok_or(FitError::Installation)?;
        let from_installation = app.installation.as_ref().and_then(|i| i.id.as_deref());
        let installation = match (app.installation_id.as_deref(), from_installation) {
            (Some(a), Some(b)) if a != b => return Err(FitError::Installation),
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => return Err(FitError::Installation),
        };
        let installation_id =
            InstallationId::parse(installation).map_err(|_| FitError::Installation)?;
        let api_base_url = app
            .api_base_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_owned())
            .ok_or(FitError::ApiBaseUrl)?;
        let (product, path_cloud) = api_base(&api_base_url).ok_or(FitError::ApiBaseUrl)?;
        let contexts = app.installation.map(|i| i.contexts).unwrap_or_default();
        let context_cloud = contexts
            .into_iter()
            .find(|context| {
                context
                    .api_base_url
                    .as_deref()
                    .map(|u| u.trim_end_matches('/'))
                    == Some(api_base_url.as_str())
            })
            .and_then(|context| context.cloud_id);
        let cloud = context_cloud.unwrap_or(path_cloud);
        let cloud_id = CloudId::parse(&cloud).map_err(|_| FitError::ApiBaseUrl)?;
        Ok(VerifiedFit {
            installation_id,
            cloud_id,
            product,
            api_base_url,
            jti: self.jti.unwrap_or_default(),
            expires_at: self.exp.unwrap_or_default(),
            principal: self.principal.filter(|p| !p.is_empty()),
            app_version: app.app_version,
            environment: app.environment.and_then(|e| e.kind),
        })
    }
}

/// The product and cloud id of an API base URL `https://{host}/ex/{jira|confluence}/{cloudId}`.
pub fn api_base(url: &str) -> Option<(ProductType, String)> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.query().is_some() {
        return None;
    }
    let segments: Vec<&str> = parsed.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., "ex", product, cloud] => {
            Some((ProductType::parse(product).ok()?, (*cloud).to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_urls_name_their_product_and_cloud() {
        assert_eq!(
            api_base("https://api.atlassian.com/ex/jira/abc-123"),
            Some((ProductType::Jira, "abc-123".into()))
        );
        assert_eq!(
            api_base("http://127.0.0.1:9/ex/confluence/c1/"),
            Some((ProductType::Confluence, "c1".into()))
        );
        for bad in [
            "https://api.atlassian.com/ex/bitbucket/x",
            "https://api.atlassian.com/jira/x",
            "ftp://api.atlassian.com/ex/jira/x",
            "https://api.atlassian.com/ex/jira/x?y=1",
        ] {
            assert_eq!(api_base(bad), None, "{bad}");
        }
    }

    #[test]
    fn isolated_cloud_labels_are_checked_before_use() {
        assert!(valid_ic_label("orange") && valid_ic_label("ic_1-a"));
        for bad in ["", "Orange", "a.b", "a/b", &"x".repeat(51)] {
            assert!(!valid_ic_label(bad), "{bad}");
        }
    }
}

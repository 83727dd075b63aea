//! The Forge caller: a verified Forge Invocation Token (`Authorization: Bearer <FIT>`) issued
//! for the route's endpoint, and the app system token it brought. The tenant is only ever taken
//! from here, never from a body.
use common::forge::{fit, Endpoint, FitError, FitExpectations, SystemToken, VerifiedFit};
use warp::http::StatusCode;
use warp::{Filter, Rejection};

use super::Refused;
use crate::errors::ApiError;
use crate::forge::{ForgeRemote, KeyError};
use crate::routes::with_state;
use crate::state::AppState;

/// The header that brings the app system token.
const SYSTEM_TOKEN: &str = "x-forge-oauth-system";

/// A verified call from Forge.
#[derive(Debug, Clone)]
pub struct ForgeCall {
    /// Who calls: the installation, its site and product, where to call back.
    pub fit: VerifiedFit,
    /// The app system token the call brought, if any.
    pub token: Option<SystemToken>,
}

/// The Forge caller of a request to `endpoint`; a refusal rejects with its [`ApiError`] (401
/// naming the failed check, or 503 when no signing key can be had).
pub fn forge(
    state: AppState,
    endpoint: Endpoint,
) -> impl Filter<Extract = (ForgeCall,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>(SYSTEM_TOKEN))
        .and(warp::header::optional::<String>("x-b3-traceid"))
        .and(with_state(state))
        .and_then(
            move |authorization: Option<String>,
                  token: Option<String>,
                  trace: Option<String>,
                  state: AppState| async move {
                if let Some(trace) =
                    trace.filter(|t| t.len() <= 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    tracing::Span::current().record("b3_trace_id", trace.as_str());
                }
                let Some(remote) = state.forge.as_ref() else {
                    return Err(warp::reject::not_found());
                };
                let verified = verify(&state, remote, authorization.as_deref(), endpoint)
                    .await
                    .map_err(|error| warp::reject::custom(Refused(error)))?;
                let now = chrono::Utc::now();
                let token = token.and_then(|token| SystemToken::received(&token, now));
                Ok(ForgeCall {
                    fit: verified,
                    token,
                })
            },
        )
}

async fn verify(
    state: &AppState,
    remote: &ForgeRemote,
    authorization: Option<&str>,
    endpoint: Endpoint,
) -> Result<VerifiedFit, ApiError> {
    let refused = |error: FitError| {
        state.metrics.jwt_rejected_by("forge", error.code());
        tracing::warn!(reason = error.code(), "Forge invocation token refused");
        ApiError::new(StatusCode::UNAUTHORIZED, error.code(), error.to_string())
    };
    let token = authorization
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(FitError::Missing)
        .map_err(refused)?;
    let header = fit::peek(token).map_err(refused)?;
    let key = remote
        .keys
        .key(&header)
        .await
        .map_err(|error| match error {
            KeyError::Unknown => refused(FitError::UnknownKeyId),
            KeyError::NoIsolatedCloud => refused(FitError::IcLabel),
            KeyError::Unavailable(reason) => {
                tracing::warn!(%reason, "no Forge signing key can be had");
                ApiError::unavailable(
                    "fit_keys_unavailable",
                    "the Forge signing keys cannot be fetched; retry later",
                )
            }
        })?;
    let now = chrono::Utc::now().timestamp();
    let leeway_secs = i64::try_from(state.settings.security.jwt_leeway_secs).unwrap_or(0);
    let expect = FitExpectations {
        app_id: &remote.app_id,
        now,
        leeway_secs,
        endpoint: Some(endpoint),
    };
    let verified = fit::verify(token, &key, &expect).map_err(refused)?;
    if remote.api_base_urls.check(&verified.api_base_url).is_err() {
        return Err(refused(FitError::ApiBaseUrl));
    }
    // Last, so that only a token good in every other way is remembered.
    if !remote
        .used
        .first_use(&verified.jti, verified.expires_at, now, leeway_secs)
    {
        return Err(refused(FitError::Replayed));
    }
    Ok(verified)
}

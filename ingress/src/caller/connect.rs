//! The Connect caller: a Connect JWT (`Authorization: JWT …` or `?jwt=`) whose `qsh` obeys the
//! route's rule, from an active tenant.
use common::connect::QshRule;
use warp::{Filter, Rejection};

use super::{Caller, Refused};
use crate::auth::{authenticate, request_target, token_of, RequestTarget};
use crate::errors::ApiError;
use crate::routes::with_state;
use crate::state::AppState;

/// The caller of a request bearing a Connect JWT (`Authorization: JWT …` or `?jwt=`) whose
/// `qsh` obeys `rule`, from an active tenant; a refusal rejects with its [`ApiError`].
pub fn connect(
    state: AppState,
    rule: QshRule,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    try_connect(state, rule).and_then(|caller: Result<Caller, ApiError>| async move {
        caller.map_err(|error| warp::reject::custom(Refused(error)))
    })
}

/// [`connect`], with a refusal as a value (pages render it as an error page, not JSON).
pub fn try_connect(
    state: AppState,
    rule: QshRule,
) -> impl Filter<Extract = (Result<Caller, ApiError>,), Error = Rejection> + Clone {
    request_target()
        .and(warp::header::optional::<String>("authorization"))
        .and(with_state(state))
        .then(
            move |request: RequestTarget, authorization: Option<String>, state: AppState| async move {
                let token = token_of(authorization.as_deref(), &request);
                resolve(&state, token.as_deref(), &request, rule).await
            },
        )
}

async fn resolve(
    state: &AppState,
    token: Option<&str>,
    request: &RequestTarget,
    rule: QshRule,
) -> Result<Caller, ApiError> {
    let verified = authenticate(state, token, request, rule).await?;
    let tenant = verified.tenant;
    // Every log line of the request names its tenant from here on.
    tracing::Span::current().record("client_key", tenant.client_key.as_str());
    super::require_active(&tenant)?;
    let account_id = verified.claims.sub.filter(|sub| !sub.trim().is_empty());
    Ok(Caller { tenant, account_id })
}

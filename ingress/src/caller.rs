//! Who is calling, resolved by a warp filter before a route's handler runs: a [`Caller`] is a
//! verified, active tenant and the user the token names, if any. Routes take a `Caller`,
//! never a token; each way of authenticating is one filter here (the Connect JWT with its
//! `qsh` rule today).
use common::connect::QshRule;
use common::tenant::Tenant;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Filter, Rejection};

use crate::auth::{authenticate, request_target, token_of, RequestTarget};
use crate::errors::ApiError;
use crate::routes::with_state;
use crate::state::AppState;

/// A verified caller. Everything it reads or changes is scoped by its tenant.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant named by the token's verified issuer; installed or enabled.
    pub tenant: Tenant,
    /// The user's accountId (`sub`), when the token names one.
    pub account_id: Option<String>,
}

/// A refused caller: the route answers with the error (see [`crate::errors`]).
#[derive(Debug)]
pub struct Refused(pub ApiError);

impl Reject for Refused {}

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
    if !tenant.is_active() {
        tracing::info!(
            state = tenant.state.as_str(),
            "a request of an inactive tenant refused"
        );
        return Err(ApiError::forbidden(
            "tenant_inactive",
            "the app is not enabled for this site",
        ));
    }
    let account_id = verified.claims.sub.filter(|sub| !sub.trim().is_empty());
    Ok(Caller { tenant, account_id })
}

impl Caller {
    /// Succeeds only for a site admin of the caller's tenant, as the product says.
    pub async fn require_admin(&self, state: &AppState) -> Result<(), ApiError> {
        let Some(account_id) = self.account_id.as_deref() else {
            return Err(ApiError::forbidden(
                "no_user",
                "the token names no user, and only site admins may change rules",
            ));
        };
        match state.admin_check.is_admin(&self.tenant, account_id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::forbidden(
                "not_admin",
                "only site admins may change rules",
            )),
            Err(error) => {
                tracing::warn!(error = %error, "the admin check failed");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "admin_check_failed",
                    "could not confirm with the product that you are a site admin; retry later",
                ))
            }
        }
    }
}

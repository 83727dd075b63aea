//! Pausing and resuming hookline on the caller's site, for its site admins: `POST /api/pause`
//! and `POST /api/resume` (a Connect context token, like the rules API's changes), and the
//! same under `/forge/ui/` for the Custom UI pages (`super::forge`).
//!
//! While a site is paused its webhooks are still accepted (202) and queued, and the workers
//! hold its events, acting on none, until it is resumed; then its held events go back into
//! the queue in order (docs/operations.md, "Pausing a tenant"). Both answer 200 with the site's
//! [`PauseView`], which the site-wide activity answer carries too (`"pause"`).
use chrono::{DateTime, Utc};
use common::connect::QshRule;
use common::tenant::Tenant;
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::{json, PageUser};
use crate::caller;
use crate::errors::ApiError;
use crate::routes::with_state;
use crate::state::AppState;

/// Whether a site is paused, and how many of its events are held.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PauseView {
    /// Whether its events are being held.
    paused: bool,
    /// Since when, while paused.
    paused_at: Option<DateTime<Utc>>,
    /// Its held events: not acted on while paused, being released once resumed.
    held: u64,
}

/// Pause or resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Hold the site's events.
    Pause,
    /// Act on the site's events again, and release the held ones.
    Resume,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }
}

/// `POST /api/pause` and `POST /api/resume`, for site admins.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let route = move |name: &'static str, change: Change| {
        warp::path("api")
            .and(warp::path(name))
            .and(warp::path::end())
            .and(warp::post())
            .and(caller::connect(state.clone(), QshRule::RequestOrContext))
            .and(with_state(state.clone()))
            .then(move |caller: caller::Caller, state: AppState| async move {
                answer(set(&PageUser::Connect(caller), &state, change).await)
            })
    };
    route("pause", Change::Pause)
        .or(route("resume", Change::Resume))
        .unify()
        .boxed()
}

/// 200 with the view, or the error.
pub(crate) fn answer(result: Result<PauseView, ApiError>) -> Response {
    result
        .map(|view| json(StatusCode::OK, &view))
        .unwrap_or_else(Reply::into_response)
}

/// Pauses or resumes the user's site: site admins only (403 `no_user` or `not_admin`, 503
/// `admin_check_failed`), idempotent.
#[tracing::instrument(name = "tenant_pause", skip_all, fields(change = change.as_str()))]
pub(crate) async fn set(
    user: &PageUser,
    state: &AppState,
    change: Change,
) -> Result<PauseView, ApiError> {
    user.require_admin(state).await?;
    let tenants = &state.stores.tenants;
    let client_key = &user.tenant().client_key;
    let changed = match change {
        Change::Pause => tenants.pause(client_key).await.map(|t| t.is_some()),
        Change::Resume => tenants.resume(client_key).await.map(|r| r.is_some()),
    }
    .map_err(store_error)?;
    if !changed {
        // Purged between the token's check and now.
        return Err(ApiError::forbidden(
            "tenant_inactive",
            "the app is not enabled for this site",
        ));
    }
    tracing::info!("a site admin changed whether the site is paused");
    status(state, user.tenant()).await
}

/// Whether `tenant` is paused (read from the database, not the cache: another replica may
/// have changed it), and its held events.
pub(crate) async fn status(state: &AppState, tenant: &Tenant) -> Result<PauseView, ApiError> {
    let client_key = &tenant.client_key;
    let paused_at = state
        .stores
        .tenants
        .paused_since(client_key)
        .await
        .map_err(store_error)?;
    let held = state.stores.held.count(client_key).await.map_err(|error| {
        tracing::error!(%error, "the held events cannot be counted");
        unavailable()
    })?;
    Ok(PauseView {
        paused: paused_at.is_some(),
        paused_at,
        held,
    })
}

fn store_error(error: common::tenant::StoreError) -> ApiError {
    tracing::error!(%error, "the tenant store failed");
    unavailable()
}

fn unavailable() -> ApiError {
    ApiError::unavailable(
        "tenant_store_unavailable",
        "whether hookline is paused cannot be read or changed now; retry later",
    )
}

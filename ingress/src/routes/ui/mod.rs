//! The pages shown inside Jira and Confluence (rules admin, activity panel), their static
//! assets and the JSON API their scripts call (rules, preview, activity, and pausing the
//! site: [`pause`]).
//!
//! Pages are authorised by the page-load JWT (a `qsh` bound to the page request); the API by
//! the context tokens the scripts get from `AP.context.getToken()`. Either way the tenant is
//! the token's verified `iss`, and every store call is scoped by its clientKey. Every answer
//! carries the same Content-Security-Policy (see [`security`]).
//!
//! The same API serves the Forge Custom UI pages (`forge-ui/`) under `/forge/ui/` ([`forge`]),
//! authorised by Forge Invocation Tokens: the handlers' core takes a [`PageUser`], whichever
//! way it was authenticated.
mod activity;
mod assets;
mod forge;
mod forge_user;
mod pages;
mod pause;
mod preview;
mod rules;
pub mod security;
mod templates;
mod view;

use std::sync::Arc;

use common::tenant::Tenant;
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::state::AppState;
use forge_user::ForgeUser;
use security::SecurityHeaders;

/// Largest JSON body the API accepts (templates are at most 10 KiB).
const API_BODY_LIMIT: u64 = 64 * 1024;

/// Pages, assets and API, every answer with the security headers.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let headers = Arc::new(SecurityHeaders::new(&state.settings.app));
    pages::routes(state.clone())
        .or(rules::routes(state.clone()))
        .unify()
        .or(preview::route(state.clone()))
        .unify()
        .or(activity::route(state.clone()))
        .unify()
        .or(pause::routes(state.clone()))
        .unify()
        .or(forge::routes(state))
        .unify()
        .or(assets::route())
        .unify()
        // A refused caller's answer carries the same headers as any other.
        .recover(refused)
        .unify()
        .map(move |mut response: Response| {
            headers.apply(&mut response);
            response
        })
        .boxed()
}

/// The answer to a refused caller; any other rejection goes on to the other routes.
async fn refused(rejection: warp::Rejection) -> Result<Response, warp::Rejection> {
    match rejection.find::<crate::caller::Refused>() {
        Some(refused) => Ok(refused.0.clone().into_response()),
        None => Err(rejection),
    }
}

/// A JSON answer with `status`.
fn json(status: StatusCode, body: &impl Serialize) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// The user of the pages' API, however authenticated: a Connect context token, or a Forge
/// Invocation Token of a Custom UI page. Every store call is scoped by its tenant.
pub(crate) enum PageUser {
    /// A Connect page's script.
    Connect(Caller),
    /// A Forge Custom UI page, through `invokeRemote`.
    Forge(ForgeUser),
}

impl PageUser {
    /// The site the user is on.
    pub(crate) fn tenant(&self) -> &Tenant {
        match self {
            Self::Connect(caller) => &caller.tenant,
            Self::Forge(user) => &user.tenant,
        }
    }

    /// Succeeds only for a site admin, as the product says (403 `no_user` or `not_admin`, 503
    /// `admin_check_failed`).
    pub(crate) async fn require_admin(&self, state: &AppState) -> Result<(), ApiError> {
        match self {
            Self::Connect(caller) => caller.require_admin(state).await,
            Self::Forge(user) => user.require_admin(state).await,
        }
    }
}

//! The pages shown inside Jira and Confluence (rules admin, activity panel), their static
//! assets and the JSON API their scripts call.
//!
//! Pages are authorised by the page-load JWT (a `qsh` bound to the page request); the API by
//! the context tokens the scripts get from `AP.context.getToken()`. Either way the tenant is
//! the token's verified `iss`, and every store call is scoped by its clientKey. Every answer
//! carries the same Content-Security-Policy (see [`security`]).
mod activity;
mod assets;
mod pages;
mod preview;
mod rules;
pub mod security;
mod templates;
mod view;

use std::sync::Arc;

use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::state::AppState;
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
        .or(activity::route(state))
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

//! The ingress's routes, one file per resource, composed with one rejection handler.
pub mod descriptor;
mod forge;
mod health;
pub mod lifecycle;
mod metrics;
pub mod ui;
pub mod webhooks;

use std::convert::Infallible;

use warp::{Filter, Reply};

use crate::errors::handle_rejection;
use crate::state::AppState;

/// Injects the shared state into a handler.
pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// Every route, with metrics per request and JSON errors.
pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let metrics = state.metrics.clone();
    let observe = warp::log::custom(move |info| {
        metrics.observe_request(
            route_label(info.path()),
            info.status().as_u16(),
            info.elapsed(),
        );
    });
    descriptor::route(state.clone())
        .or(lifecycle::routes(state.clone()))
        .or(webhooks::route(state.clone()))
        .or(forge::routes(state.clone()))
        .or(ui::routes(state.clone()))
        .or(health::routes(state.clone()))
        .or(metrics::route(state))
        .recover(handle_rejection)
        .with(observe)
        .with(warp::trace(request_span))
}

/// Every log line of a request carries its own id (and the route, never the query, which
/// may hold a page token).
fn request_span(info: warp::trace::Info<'_>) -> tracing::Span {
    tracing::info_span!(
        "request",
        request_id = %uuid::Uuid::new_v4(),
        method = %info.method(),
        route = route_label(info.path()),
        // Recorded once the caller is verified (crate::caller).
        client_key = tracing::field::Empty,
        // Atlassian's trace id of a Forge call (x-b3-traceid), to follow it across systems.
        b3_trace_id = tracing::field::Empty,
    )
}

/// A low-cardinality name for the route a path belongs to.
fn route_label(path: &str) -> &'static str {
    match path {
        p if p.ends_with("/atlassian-connect.json") => "descriptor",
        "/installed" => "installed",
        "/uninstalled" => "uninstalled",
        "/enabled" => "enabled",
        "/disabled" => "disabled",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        p if p.starts_with("/webhooks/") => "webhook",
        p if p.starts_with("/forge/") => "forge",
        p if p.starts_with("/pages/") => "page",
        p if p.starts_with("/api/") => "api",
        p if p.starts_with("/static/") => "static",
        _ => "other",
    }
}

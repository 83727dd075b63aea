//! One request's way through the simulator: resolve the tenant from the path (`/t/{site}` for a
//! Connect site, `/ex/{product}/{cloudId}` for a Forge site), verify its credentials (Connect
//! JWT or bearer token), refuse it while the app's permissions are not granted, apply a queued
//! fault, handle, record.
use std::convert::Infallible;
use std::time::Instant;

use common::tenant::ProductType;
use percent_encoding::percent_decode_str;
use warp::filters::path::FullPath;
use warp::filters::BoxedFilter;
use warp::http::Method;
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::address::{resolve, verify, Refusal};
use super::faults::{self, Endpoint, FaultKind};
use super::records::RecordedRequest;
use super::state::Shared;
use super::{bearer, confluence, jira, permissions, reply};
use crate::server::{dropped_connection, DropConnection};

/// Both products refuse bodies this large long before the worker would send one.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request as the simulator sees it.
pub(crate) struct Incoming {
    pub method: String,
    /// The raw path as received, e.g. `/t/{site}/rest/api/2/issue/KAN-1/comment`.
    pub path: String,
    /// The raw query, without `?` (empty when there is none).
    pub query: String,
    pub authorization: Option<String>,
    pub body: Bytes,
}

enum Route {
    Jira(jira::Route),
    Confluence(confluence::Route),
    Permissions(permissions::Route),
}

impl Route {
    fn parse(product: ProductType, method: &str, relative: &str) -> Option<Self> {
        let decoded: Vec<String> = relative
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
            .collect();
        let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
        match product {
            ProductType::Jira => permissions::Route::parse(product, method, &segments)
                .map(Self::Permissions)
                .or_else(|| jira::Route::parse(method, &segments).map(Self::Jira)),
            ProductType::Confluence => {
                let (wiki, rest) = segments.split_first()?;
                let rest = if *wiki == "wiki" { rest } else { return None };
                permissions::Route::parse(product, method, rest)
                    .map(Self::Permissions)
                    .or_else(|| confluence::Route::parse(method, rest).map(Self::Confluence))
            }
        }
    }

    fn endpoint(&self) -> Endpoint {
        match self {
            Self::Jira(route) => route.endpoint(),
            Self::Confluence(route) => route.endpoint(),
            Self::Permissions(route) => route.endpoint(),
        }
    }
}

/// The warp filter answering every request with [`handle`].
pub(crate) fn filter(state: Shared) -> BoxedFilter<(Response,)> {
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(raw_query)
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::bytes())
        .then(
            move |method: Method, path: FullPath, query, authorization, body| {
                let incoming = Incoming {
                    method: method.as_str().to_owned(),
                    path: path.as_str().to_owned(),
                    query,
                    authorization,
                    body,
                };
                handle(state.clone(), incoming)
            },
        )
        .recover(unreadable)
        .unify()
        .boxed()
}

async fn unreadable(_: Rejection) -> Result<Response, Infallible> {
    Ok(reply::error(400, "The request could not be read."))
}

async fn handle(state: Shared, incoming: Incoming) -> Response {
    let received = Instant::now();
    let latency = state.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(address) = resolve(&state, &incoming.path) else {
        return unknown_site(&state);
    };
    let route = Route::parse(address.product, &incoming.method, &address.relative);
    let (response, jwt) = match verify(&state, &address, &incoming) {
        Err(refusal) => {
            let Refusal { code, response } = *refusal;
            (response, Err(code))
        }
        Ok(()) => {
            let site = address.site.as_str();
            let response = respond(&state, site, address.product, route, &incoming).await;
            (response, Ok(()))
        }
    };
    let status = match response.extensions().get::<DropConnection>() {
        Some(_) => 0,
        None => response.status().as_u16(),
    };
    tracing::debug!(client_key = %address.client_key, method = %incoming.method,
        path = %incoming.path, status, jwt = ?jwt, "simulated product request");
    let mut state = state.lock();
    if jwt.is_err() {
        state.rejected += 1;
    }
    if let Some(tenant) = state.by_site(&address.site) {
        tenant.requests.push(RecordedRequest {
            method: incoming.method,
            path: incoming.path,
            status,
            jwt,
            at: received,
        });
    }
    response
}

fn unknown_site(state: &Shared) -> Response {
    state.lock().rejected += 1;
    reply::error(404, "No site is registered at this address.")
}

/// Answers a verified request: 403 while the app's permissions are not granted, else the
/// first matching fault, else the endpoint itself.
async fn respond(
    state: &Shared,
    site: &str,
    product: ProductType,
    route: Option<Route>,
    incoming: &Incoming,
) -> Response {
    let endpoint = route.as_ref().map(Route::endpoint);
    let fault = match state.lock().by_site(site) {
        Some(tenant) if tenant.denied => return bearer::not_granted(product),
        Some(tenant) => faults::take(&mut tenant.faults, endpoint),
        None => None,
    };
    match fault {
        Some(FaultKind::Status(status)) => return faults::status_response(status),
        Some(FaultKind::RetryAfter { status, seconds }) => {
            return faults::retry_after_response(status, seconds, product)
        }
        Some(FaultKind::DropConnection) => return dropped_connection(),
        Some(FaultKind::Latency(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    if incoming.body.len() > MAX_BODY_BYTES {
        return reply::error(413, "The request body is too large.");
    }
    let Some(route) = route else {
        return reply::error(404, "No such endpoint in the simulator.");
    };
    let mut state = state.lock();
    let Some(tenant) = state.by_site(site) else {
        return reply::error(404, "No site is registered at this address.");
    };
    let (query, body) = (incoming.query.as_str(), incoming.body.as_ref());
    match route {
        Route::Jira(route) => route.handle(tenant, query, body),
        Route::Confluence(route) => route.handle(tenant, query, body),
        Route::Permissions(route) => route.handle(tenant, query, body),
    }
}

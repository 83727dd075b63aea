//! One request's way through the simulator: resolve the tenant from the path, verify the JWT,
//! apply a queued fault, handle, record.
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

use super::faults::{self, Endpoint, FaultKind};
use super::records::RecordedRequest;
use super::state::Shared;
use super::{auth, confluence, jira, permissions, reply};
use crate::server::{dropped_connection, DropConnection};

/// Both products refuse bodies this large long before the worker would send one.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request as the simulator sees it.
struct Incoming {
    method: String,
    /// The raw path as received, e.g. `/t/{site}/rest/api/2/issue/KAN-1/comment`.
    path: String,
    /// The raw query, without `?` (empty when there is none).
    query: String,
    authorization: Option<String>,
    body: Bytes,
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
    let site_and_rest = incoming.path.strip_prefix("/t/").map(|rest| {
        rest.split_once('/')
            .map_or((rest, ""), |(site, rest)| (site, rest))
    });
    let Some((site, relative)) = site_and_rest else {
        return unknown_site(&state);
    };
    let tenant = state
        .lock()
        .by_site(site)
        .map(|t| (t.credentials(), t.product));
    let Some((credentials, product)) = tenant else {
        return unknown_site(&state);
    };
    let target = match incoming.query.as_str() {
        "" => incoming.path.clone(),
        query => format!("{}?{query}", incoming.path),
    };
    let authorization = incoming.authorization.as_deref();
    let verdict = auth::verify(&credentials, &incoming.method, &target, authorization);
    let route = Route::parse(product, &incoming.method, relative);
    let response = match &verdict {
        Err(error) => auth::unauthorized(error),
        Ok(()) => respond(&state, site, product, route, &incoming).await,
    };
    let status = match response.extensions().get::<DropConnection>() {
        Some(_) => 0,
        None => response.status().as_u16(),
    };
    let jwt = verdict.map_err(|error| error.code().to_owned());
    tracing::debug!(client_key = %credentials.client_key, method = %incoming.method,
        path = %incoming.path, status, jwt = ?jwt, "simulated product request");
    let mut state = state.lock();
    if jwt.is_err() {
        state.rejected += 1;
    }
    if let Some(tenant) = state.by_site(site) {
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

/// Answers a verified request: the first matching fault, else the endpoint itself.
async fn respond(
    state: &Shared,
    site: &str,
    product: ProductType,
    route: Option<Route>,
    incoming: &Incoming,
) -> Response {
    let endpoint = route.as_ref().map(Route::endpoint);
    let fault = state
        .lock()
        .by_site(site)
        .and_then(|tenant| faults::take(&mut tenant.faults, endpoint));
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

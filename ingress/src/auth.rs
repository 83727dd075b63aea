//! The parts of authenticating a request: the raw request target (for the qsh), the token
//! (`Authorization: JWT …` or a `jwt` query parameter) and the verification itself. Routes
//! get a verified [`crate::caller::Caller`]; the lifecycle callbacks use these directly.
use common::connect::{CanonicalRequest, JwtError, QshRule, Verified};
use common::tenant::Tenant;
use warp::http::{HeaderMap, Method};
use warp::path::FullPath;
use warp::Filter;

use crate::errors::ApiError;
use crate::state::AppState;

/// The request as sent: method and target (`/path?query`), which the qsh is computed over.
#[derive(Debug, Clone)]
pub struct RequestTarget {
    /// The HTTP method.
    pub method: Method,
    /// Path and raw query exactly as received.
    pub target: String,
}

impl RequestTarget {
    /// The canonical request for the qsh. Routes are served at the root, so the base path
    /// is empty (a proxy in front strips the app baseUrl's path, if it has one).
    pub fn canonical(&self) -> CanonicalRequest {
        CanonicalRequest::new(self.method.as_str(), &self.target, "")
    }

    /// The raw query string (empty when there is none).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }
}

/// Extracts the [`RequestTarget`]; never rejects.
pub fn request_target(
) -> impl Filter<Extract = (RequestTarget,), Error = std::convert::Infallible> + Clone {
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method().and(warp::path::full()).and(raw_query).map(
        |method: Method, path: FullPath, query: String| {
            let target = if query.is_empty() {
                path.as_str().to_owned()
            } else {
                format!("{}?{query}", path.as_str())
            };
            RequestTarget { method, target }
        },
    )
}

/// The `Authorization` header's value, if it is text.
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(warp::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

/// The token of a request: `Authorization: JWT <token>`, else the `jwt` query parameter.
pub fn token_of(authorization: Option<&str>, request: &RequestTarget) -> Option<String> {
    let header = authorization
        .and_then(|value| value.strip_prefix("JWT "))
        .map(|token| token.trim().to_owned());
    header.or_else(|| form_urlencoded_jwt(request.query()))
}

fn form_urlencoded_jwt(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "jwt")
        .map(|(_, value)| value.into_owned())
}

/// Verifies a product-issued HS256 token bound to `request`; counts and logs refusals by reason.
pub async fn authenticate(
    state: &AppState,
    token: Option<&str>,
    request: &RequestTarget,
    rule: QshRule,
) -> Result<Verified<Tenant>, ApiError> {
    let result = match token {
        None => Err(JwtError::Missing),
        Some(token) => {
            state
                .verifier
                .verify(token, &request.canonical(), rule, &state.stores.tenants)
                .await
        }
    };
    result.map_err(|error| {
        state.metrics.jwt_rejected(error.code());
        tracing::warn!(reason = error.code(), path = %request.target.split('?').next().unwrap_or_default(), "token refused");
        ApiError::from(error)
    })
}

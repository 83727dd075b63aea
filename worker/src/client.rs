//! Signed calls to a tenant's product: every request carries an app-issued Connect JWT for
//! exactly that request, goes only to the tenant's own `baseUrl`, and has connect and total
//! timeouts. Failures are classified so the caller knows whether to retry.
use std::time::Duration;

use common::tenant::{Protocol, Tenant};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio_retry::strategy::{jitter, ExponentialBackoff};
use tokio_retry::RetryIf;

use crate::metrics::Metrics;

/// Characters escaped in a path segment built from payload data (issue keys, page ids).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\');

/// The default pause when a 429 carries no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Quick retries of transient failures inside one attempt, before the delay queues.
const QUICK_RETRIES: usize = 2;

/// Why a call failed, by what the caller should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// 429 or 503 with `Retry-After`: pause this tenant that long.
    Throttled {
        /// How long to wait.
        retry_after: Duration,
        /// The status answered.
        status: u16,
    },
    /// Worth retrying later: 408, 5xx, timeouts, dropped connections.
    Transient(String),
    /// 401: the product refused our token. Permanent, unless the tenant's secret changed
    /// since it was cached (a re-install handled by another process).
    Unauthorized(String),
    /// A Forge tenant has no usable app system token (none yet, or expired): nothing was
    /// sent; wait for the installation to deliver a fresher one.
    NoToken,
    /// 403: the app lacks permission. Permanent, unless a Forge installation is so new that
    /// its permissions may not be granted yet.
    Forbidden(String),
    /// Will not succeed by retrying: 400, 404, ...
    Permanent(String),
}

impl CallError {
    /// A short reason for the ledger, metrics and dead letters.
    pub fn reason(&self) -> String {
        match self {
            Self::Throttled {
                status,
                retry_after,
            } => format!("{status}: throttled for {} s", retry_after.as_secs()),
            Self::Transient(reason)
            | Self::Unauthorized(reason)
            | Self::Forbidden(reason)
            | Self::Permanent(reason) => reason.clone(),
            Self::NoToken => "waiting for a fresh app system token".into(),
        }
    }
}

/// Encodes one path segment taken from payload data.
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Makes signed requests to tenants' products.
#[derive(Clone)]
pub struct ProductClient {
    http: reqwest::Client,
    metrics: Metrics,
}

impl ProductClient {
    /// A client with the given timeouts, signing as the app key each site installed.
    pub fn new(
        connect_timeout: Duration,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            // A redirect would leave the tenant's baseUrl and drop the qsh binding.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self { http, metrics })
    }

    /// Sends `method path` (relative to the tenant's baseUrl, with its query) with an optional
    /// JSON body, retrying transient failures briefly; returns the JSON answer (or Null).
    pub async fn send(
        &self,
        tenant: &Tenant,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let strategy = ExponentialBackoff::from_millis(2)
            .factor(50)
            .max_delay(Duration::from_secs(1))
            .map(jitter)
            .take(QUICK_RETRIES);
        RetryIf::start(
            strategy,
            || self.send_once(tenant, method.clone(), path, body),
            |error: &CallError| matches!(error, CallError::Transient(_)),
        )
        .await
    }

    async fn send_once(
        &self,
        tenant: &Tenant,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let (url, authorization, protocol) = authorize(tenant, method.as_str(), path)?;
        let mut builder = self
            .http
            .request(method, &url)
            .header(AUTHORIZATION, authorization);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let product = tenant.product_type.as_str();
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => {
                self.metrics.outbound(product, protocol, 0);
                let kind = if error.is_timeout() {
                    "timed out"
                } else {
                    "connection failed"
                };
                return Err(CallError::Transient(format!(
                    "{kind} calling {}",
                    strip_query(path)
                )));
            }
        };
        let status = response.status();
        self.metrics.outbound(product, protocol, status.as_u16());
        if status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        Err(classify(status, response.headers(), strip_query(path)))
    }
}

/// The URL and `Authorization` of a call to `path` (relative to the product's REST root:
/// Confluence paths start after `/wiki`), and the protocol it goes by. A tenant is called the
/// way [`Tenant::calls_with`] says (a Connect JWT for exactly this request to the site's
/// baseUrl, or the app system token to the installation's apiBaseUrl); when that way cannot be
/// used (no sharedSecret yet, no usable token), the other one is. Read per call, so a switch
/// of `calls_with` takes effect with the next tenant read, without a restart.
fn authorize(
    tenant: &Tenant,
    method: &str,
    path: &str,
) -> Result<(String, String, &'static str), CallError> {
    let order = match tenant.calls_with() {
        Protocol::Connect => [Protocol::Connect, Protocol::Forge],
        Protocol::Forge => [Protocol::Forge, Protocol::Connect],
    };
    for protocol in order {
        let call = match protocol {
            Protocol::Connect => connect_call(tenant, method, path)?,
            Protocol::Forge => forge_call(tenant, path),
        };
        if let Some((url, authorization)) = call {
            return Ok((url, authorization, protocol.as_str()));
        }
    }
    match tenant.forge {
        // A token comes with every event, lifecycle call and hourly refresh.
        Some(_) => Err(CallError::NoToken),
        None => Err(CallError::Permanent(
            "the tenant has no way to be called".into(),
        )),
    }
}

/// A Connect call, if the tenant has a sharedSecret.
fn connect_call(
    tenant: &Tenant,
    method: &str,
    path: &str,
) -> Result<Option<(String, String)>, CallError> {
    if !tenant.has_connect() {
        return Ok(None);
    }
    let now = chrono::Utc::now().timestamp();
    let call = tenant
        .signed_call(method, path, now)
        .map_err(|e| CallError::Permanent(format!("cannot sign: {e}")))?;
    Ok(Some((call.url, call.authorization)))
}

/// A Forge call, if the tenant has an installation with a usable system token.
fn forge_call(tenant: &Tenant, path: &str) -> Option<(String, String)> {
    let forge = tenant.forge.as_ref()?;
    let token = forge
        .token
        .as_ref()
        .filter(|token| token.usable_at(chrono::Utc::now()))?;
    let root = match tenant.product_type {
        common::tenant::ProductType::Jira => "",
        common::tenant::ProductType::Confluence => "/wiki",
    };
    let url = format!("{}{root}{path}", forge.api_base_url.trim_end_matches('/'));
    Some((url, format!("Bearer {}", token.expose())))
}

fn strip_query(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// What a non-2xx answer means for the caller.
pub fn classify(status: StatusCode, headers: &HeaderMap, path: &str) -> CallError {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    match status.as_u16() {
        429 => CallError::Throttled {
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            status: 429,
        },
        503 if retry_after.is_some() => CallError::Throttled {
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            status: 503,
        },
        408 | 500..=599 => CallError::Transient(format!("{status} from {path}")),
        403 => CallError::Forbidden(format!("403 from {path}: the app lacks permission")),
        401 => CallError::Unauthorized(format!(
            "401 from {path}: the product refused the app's token"
        )),
        404 => CallError::Permanent(format!("404 from {path}: not found")),
        _ => CallError::Permanent(format!("{status} from {path}")),
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let seconds = (date.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().expect("header"));
        headers
    }

    #[test]
    fn answers_are_classified_by_what_the_caller_should_do() {
        let none = HeaderMap::new();
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &with_retry_after("7"), "/x"),
            CallError::Throttled {
                retry_after: Duration::from_secs(7),
                status: 429
            }
        );
        assert!(matches!(
            classify(
                StatusCode::SERVICE_UNAVAILABLE,
                &with_retry_after("3"),
                "/x"
            ),
            CallError::Throttled { .. }
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &none, "/x"),
            CallError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, &none, "/x"),
            CallError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::REQUEST_TIMEOUT, &none, "/x"),
            CallError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, &none, "/x"),
            CallError::Unauthorized(_)
        ));
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, &none, "/x"),
            CallError::Forbidden(_)
        ));
        for status in [StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND] {
            assert!(
                matches!(classify(status, &none, "/x"), CallError::Permanent(_)),
                "{status}"
            );
        }
        assert!(classify(StatusCode::FORBIDDEN, &none, "/x")
            .reason()
            .contains("lacks permission"));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn path_segments_from_payloads_cannot_escape_their_segment() {
        assert_eq!(segment("../../admin?x"), "..%2F..%2Fadmin%3Fx");
        assert_eq!(segment("KAN-1"), "KAN-1");
    }
}

//! Faults injected per tenant: failures, rate limits, latency and dropped connections.
use std::collections::VecDeque;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::tenant::ProductType;
use serde_json::json;
use warp::http::header::{HeaderValue, RETRY_AFTER};
use warp::reply::Response;

use super::reply;

/// A fault queued for a tenant; the first queued fault matching a request applies to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Which requests it applies to.
    pub endpoint: Endpoint,
    /// What happens to them.
    pub kind: FaultKind,
    /// How many matching requests it applies to; `u32::MAX` means until cleared.
    pub times: u32,
}

impl Fault {
    /// A fault for the next matching request only.
    pub fn once(endpoint: Endpoint, kind: FaultKind) -> Self {
        Self::times(endpoint, kind, 1)
    }

    /// A fault for the next `times` matching requests.
    pub fn times(endpoint: Endpoint, kind: FaultKind, times: u32) -> Self {
        Self {
            endpoint,
            kind,
            times,
        }
    }

    /// A fault for every matching request until the tenant's faults are cleared.
    pub fn always(endpoint: Endpoint, kind: FaultKind) -> Self {
        Self::times(endpoint, kind, u32::MAX)
    }
}

/// The family of product endpoints a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Every request of the tenant, including ones to unknown routes.
    Any,
    /// Creating and listing comments (Jira and Confluence).
    Comment,
    /// Adding labels (Jira issue edit, Confluence content labels).
    Label,
    /// Entity properties (Jira issue properties, Confluence content properties).
    Property,
    /// Admin checks (Jira permissions check, Confluence group membership).
    Admin,
}

impl Endpoint {
    fn matches(self, route: Option<Endpoint>) -> bool {
        self == Endpoint::Any || Some(self) == route
    }
}

/// What an injected fault does to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer this status with a JSON error body, without handling the request.
    Status(u16),
    /// Answer this status with `Retry-After: seconds` (and the `X-RateLimit-*` headers for 429).
    RetryAfter {
        /// The status to answer (429, or 503 as some product nodes do).
        status: u16,
        /// The `Retry-After` value.
        seconds: u64,
    },
    /// Wait this long, then handle the request normally.
    Latency(Duration),
    /// Close the connection without answering.
    DropConnection,
}

/// Takes the first queued fault matching `route` (`None`: a route the simulator doesn't know),
/// consuming one of its uses.
pub(crate) fn take(queue: &mut VecDeque<Fault>, route: Option<Endpoint>) -> Option<FaultKind> {
    let index = queue
        .iter()
        .position(|fault| fault.times > 0 && fault.endpoint.matches(route))?;
    let fault = &mut queue[index];
    let kind = fault.kind.clone();
    if fault.times != u32::MAX {
        fault.times -= 1;
    }
    if fault.times == 0 {
        queue.remove(index);
    }
    Some(kind)
}

/// The answer to a request hit by a `Status` fault.
pub(crate) fn status_response(status: u16) -> Response {
    reply::error(status, &format!("simulated failure with status {status}"))
}

/// The answer to a request hit by a `RetryAfter` fault, with the rate-limit headers Jira and
/// Confluence send (docs/protocol.md §5).
pub(crate) fn retry_after_response(status: u16, seconds: u64, product: ProductType) -> Response {
    let mut response = reply::json(
        status,
        &json!({
            "errorMessages": [format!("simulated status {status}, retry after {seconds} s")],
            "errors": {},
        }),
    );
    let headers = response.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    if status == 429 {
        let reset = Utc::now() + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(0));
        let rate_limit = [
            ("x-ratelimit-limit", "100".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            (
                "x-ratelimit-reset",
                reset.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
            (
                "ratelimit-reason",
                format!("{}-burst-based", product.as_str()),
            ),
        ];
        for (name, value) in rate_limit {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_fault_is_consumed_and_removed_when_used_up() {
        let mut queue = VecDeque::from([
            Fault::once(Endpoint::Label, FaultKind::Status(500)),
            Fault::times(Endpoint::Comment, FaultKind::Status(502), 2),
        ]);
        assert_eq!(
            take(&mut queue, Some(Endpoint::Comment)),
            Some(FaultKind::Status(502))
        );
        assert_eq!(
            take(&mut queue, Some(Endpoint::Comment)),
            Some(FaultKind::Status(502))
        );
        assert_eq!(take(&mut queue, Some(Endpoint::Comment)), None);
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn an_any_fault_matches_unknown_routes_and_a_permanent_fault_never_runs_out() {
        let mut queue = VecDeque::from([Fault::always(Endpoint::Any, FaultKind::Status(503))]);
        for _ in 0..3 {
            assert_eq!(take(&mut queue, None), Some(FaultKind::Status(503)));
        }
        assert_eq!(queue[0].times, u32::MAX);
    }
}

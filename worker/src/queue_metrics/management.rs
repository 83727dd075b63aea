//! The one call made to the RabbitMQ management API: `GET /api/queues/{vhost}/{queue}`, for the
//! `head_message_timestamp` of a queue (the `timestamp` property the ingress sets on publish).
//!
//! Best effort and setting-free: the API is assumed at the AMQP host on port 15672 (15671 for
//! `amqps`) with the AMQP credentials. Classic queues report the field; RabbitMQ 3.13 quorum
//! queues (hookline's work queue) do not, so there the age is simply not exported.
use std::time::Duration;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;
use serde_json::Value;

/// Everything but RFC 3986 unreserved characters, so a vhost of `/` becomes `%2F`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const TIMEOUT: Duration = Duration::from_secs(3);

/// What the management API said about the head of a queue.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadAge {
    /// The head message is this old, seconds.
    Seconds(f64),
    /// The queue is empty (the field is present but blank).
    Empty,
    /// The queue does not report the field (quorum queues).
    NotReported,
    /// The API could not be asked (not enabled, unreachable, refused), with why.
    Unavailable(String),
}

/// A RabbitMQ management API endpoint for one vhost.
#[derive(Clone)]
pub struct ManagementApi {
    base: Url,
    user: String,
    password: String,
    vhost: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for ManagementApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementApi")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .field("vhost", &self.vhost)
            .finish_non_exhaustive()
    }
}

impl ManagementApi {
    /// The API at `base` (`http://host:15672`), as `user`, for `vhost`.
    pub fn new(base: &str, user: &str, password: &str, vhost: &str) -> Option<Self> {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build().ok()?;
        Some(Self {
            base: Url::parse(base).ok()?,
            user: user.to_owned(),
            password: password.to_owned(),
            vhost: vhost.to_owned(),
            client,
        })
    }

    /// The API of the broker behind an `amqp://user:pass@host:port/vhost` URL.
    pub fn for_amqp_url(amqp_url: &str) -> Option<Self> {
        let url = Url::parse(amqp_url).ok()?;
        let (scheme, port) = match url.scheme() {
            "amqps" => ("https", 15671),
            _ => ("http", 15672),
        };
        let host = url.host_str().unwrap_or("localhost");
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = match url.username() {
            "" => "guest".to_owned(),
            user => decode(user),
        };
        let password = url.password().map_or_else(|| "guest".to_owned(), decode);
        let vhost = match decode(url.path().trim_start_matches('/')) {
            vhost if vhost.is_empty() => "/".to_owned(),
            vhost => vhost,
        };
        Self::new(
            &format!("{scheme}://{host}:{port}"),
            &user,
            &password,
            &vhost,
        )
    }

    /// The URL of `queue`'s page in the API.
    pub fn queue_url(&self, queue: &str) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        let vhost = utf8_percent_encode(&self.vhost, SEGMENT);
        let queue = utf8_percent_encode(queue, SEGMENT);
        format!("{base}/api/queues/{vhost}/{queue}")
    }

    /// The age of `queue`'s head message, now.
    pub async fn head_age(&self, queue: &str) -> HeadAge {
        let response = self
            .client
            .get(self.queue_url(queue))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        let body = match response {
            Ok(response) => response.json::<Value>().await,
            Err(error) => return HeadAge::Unavailable(error.without_url().to_string()),
        };
        match body {
            Ok(body) => head_age_of(&body, chrono::Utc::now().timestamp()),
            Err(error) => HeadAge::Unavailable(error.without_url().to_string()),
        }
    }
}

/// The head age in a queue's JSON, at `now` (Unix seconds).
fn head_age_of(queue: &Value, now: i64) -> HeadAge {
    match queue.get("head_message_timestamp") {
        None => HeadAge::NotReported,
        Some(Value::Number(ts)) => match ts.as_i64() {
            Some(ts) => HeadAge::Seconds(now.saturating_sub(ts).max(0) as f64),
            None => HeadAge::NotReported,
        },
        Some(_) => HeadAge::Empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_api_is_found_at_the_amqp_host_with_its_credentials_and_vhost() {
        let api = ManagementApi::for_amqp_url("amqp://hook%40line:p%3Ass@rabbit:5672/%2f")
            .expect("an API");
        assert_eq!(api.user, "hook@line");
        assert_eq!(api.password, "p:ss");
        assert_eq!(
            api.queue_url("hookline.work"),
            "http://rabbit:15672/api/queues/%2F/hookline.work"
        );
        let api = ManagementApi::for_amqp_url("amqps://broker.internal/prod").expect("an API");
        assert_eq!(
            (api.user.as_str(), api.password.as_str()),
            ("guest", "guest")
        );
        assert_eq!(
            api.queue_url("p.work"),
            "https://broker.internal:15671/api/queues/prod/p.work"
        );
    }

    #[test]
    fn the_head_age_is_read_from_the_timestamp_and_absent_for_quorum_queues() {
        let now = 1_700_000_100;
        let classic = json!({"name": "q", "head_message_timestamp": 1_700_000_000});
        assert_eq!(head_age_of(&classic, now), HeadAge::Seconds(100.0));
        let empty = json!({"name": "q", "head_message_timestamp": ""});
        assert_eq!(head_age_of(&empty, now), HeadAge::Empty);
        let quorum = json!({"name": "q", "type": "quorum", "leader": "rabbit@a"});
        assert_eq!(head_age_of(&quorum, now), HeadAge::NotReported);
        let future = json!({"head_message_timestamp": now + 5});
        assert_eq!(head_age_of(&future, now), HeadAge::Seconds(0.0));
    }
}

//! Webhook delivery as Jira and Confluence do it (docs/protocol.md §4): HS256-signed, one
//! `X-Atlassian-Webhook-Identifier` per delivery, and Jira's retries.
use std::time::Duration;

use anyhow::{bail, Context};
use common::connect::sign::product_token;
use common::connect::{CanonicalRequest, SharedSecret};
use common::tenant::ProductType;
use serde_json::Value;
use url::Url;

use super::key_server::TOKEN_TTL_SECS;
use super::{now, ConnectSim, SimTenant};

/// Attempts of one Jira delivery unless [`SendOptions::max_attempts`] says otherwise (real
/// Jira keeps retrying for about 30 minutes; tests need it fast).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The first pause between Jira attempts unless [`SendOptions::backoff`] says otherwise; it
/// doubles after each retry.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(100);

/// Options of one delivery; the defaults are what tests usually want.
#[derive(Clone, Debug, Default)]
pub struct SendOptions {
    /// The `X-Atlassian-Webhook-Identifier` (default: a fresh UUID), e.g. to send a
    /// duplicate delivery.
    pub webhook_id: Option<String>,
    /// How many attempts Jira makes at most (default [`DEFAULT_MAX_ATTEMPTS`]; at least 1).
    pub max_attempts: Option<u32>,
    /// The first pause between attempts (default [`DEFAULT_BACKOFF`], doubling).
    pub backoff: Option<Duration>,
}

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The `X-Atlassian-Webhook-Identifier` of every attempt.
    pub webhook_id: String,
    /// Each attempt's status, in order; `0` for a connection error or timeout.
    pub attempts: Vec<u16>,
    /// Whether the last attempt was answered 2xx.
    pub accepted: bool,
}

impl DeliveryReport {
    /// The status of the last attempt (`0`: connection error or timeout).
    pub fn final_status(&self) -> u16 {
        self.attempts.last().copied().unwrap_or_default()
    }
}

/// Whether Jira retries an answer: 408, 409, 425, 429, 5xx, or no answer at all (`0`).
pub fn jira_retries(status: u16) -> bool {
    matches!(status, 0 | 408 | 409 | 425 | 429 | 500..=599)
}

impl ConnectSim {
    /// Sends a webhook for `event` (e.g. `jira:issue_created`, `comment_created`,
    /// `page_created`) to the URL the descriptor registered for it: the `modules.webhooks`
    /// entry for `event` whose URL names the tenant's product (`/webhooks/{product}/...`),
    /// else the first entry for `event`. Signed HS256 with the tenant's secret and the qsh of
    /// that request, with `X-Atlassian-Webhook-Identifier`, `X-Atlassian-Webhook-Flow:
    /// Primary` and `Content-Type: application/json`.
    ///
    /// Jira (only) retries on 408, 409, 425, 429, 5xx, a connection error or a timeout: the
    /// same body and webhook id, re-signed, with `X-Atlassian-Webhook-Retry: n`, after a
    /// doubling backoff. Confluence never retries. An unanswered delivery is not an error:
    /// the report says so. Errors: no webhook registered for `event`, a payload that does not
    /// serialise, an unusable secret.
    pub async fn send_webhook(
        &self,
        tenant: &SimTenant,
        event: &str,
        payload: &Value,
        options: SendOptions,
    ) -> anyhow::Result<DeliveryReport> {
        let descriptor = self.descriptor(tenant.product).await?;
        let location = webhook_location(&descriptor, tenant.product, event)?;
        let (url, request) = self.target(location, "POST")?;
        let body = serde_json::to_vec(payload).context("serialising the webhook payload")?;
        let webhook_id = options
            .webhook_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let max_attempts = match tenant.product {
            ProductType::Jira => options.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1),
            ProductType::Confluence => 1,
        };
        let mut backoff = options.backoff.unwrap_or(DEFAULT_BACKOFF);
        let mut attempts = Vec::new();
        loop {
            let attempt = Attempt {
                url: &url,
                request: &request,
                body: &body,
                webhook_id: &webhook_id,
                retry: attempts.len(),
            };
            let status = self.deliver(tenant, attempt).await?;
            attempts.push(status);
            if !jira_retries(status) || attempts.len() >= max_attempts as usize {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
        let accepted = (200..300).contains(&attempts.last().copied().unwrap_or_default());
        Ok(DeliveryReport {
            webhook_id,
            attempts,
            accepted,
        })
    }

    /// One attempt; its status, `0` when there was no answer.
    async fn deliver(&self, tenant: &SimTenant, attempt: Attempt<'_>) -> anyhow::Result<u16> {
        let secret = SharedSecret::new(tenant.shared_secret.as_str());
        let token = product_token(
            &tenant.client_key,
            &secret,
            attempt.request,
            now(),
            TOKEN_TTL_SECS,
        )?;
        let mut call = self
            .inner
            .http
            .post(attempt.url.clone())
            .header("Authorization", format!("JWT {token}"))
            .header("Content-Type", "application/json")
            .header("User-Agent", "Atlassian Webhook HTTP Client")
            .header("X-Atlassian-Webhook-Identifier", attempt.webhook_id)
            .header("X-Atlassian-Webhook-Flow", "Primary")
            .body(attempt.body.to_vec());
        if attempt.retry > 0 {
            call = call.header("X-Atlassian-Webhook-Retry", attempt.retry.to_string());
        }
        let status = match call.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the answer so that the connection can be reused; its content is not
                // the product's business.
                let _ = response.bytes().await;
                status
            }
            Err(error) => {
                tracing::debug!(%error, url = %attempt.url, "webhook delivery got no answer");
                0
            }
        };
        Ok(status)
    }
}

/// One attempt of a delivery.
struct Attempt<'a> {
    url: &'a Url,
    request: &'a CanonicalRequest,
    body: &'a [u8],
    webhook_id: &'a str,
    /// `0` for the first attempt, then the retry count.
    retry: usize,
}

/// The URL the descriptor registered for `event`, preferring the one of `product`.
fn webhook_location<'d>(
    descriptor: &'d Value,
    product: ProductType,
    event: &str,
) -> anyhow::Result<&'d str> {
    let modules = descriptor["modules"]["webhooks"].as_array();
    let urls: Vec<&str> = modules
        .into_iter()
        .flatten()
        .filter(|module| module["event"] == event)
        .filter_map(|module| module["url"].as_str())
        .collect();
    let marker = format!("/webhooks/{}/", product.as_str());
    match urls
        .iter()
        .find(|url| url.contains(&marker))
        .or(urls.first())
    {
        Some(url) => Ok(url),
        None => bail!("the descriptor registers no webhook for {event}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn jira_retries_exactly_the_documented_answers() {
        for status in [0, 408, 409, 425, 429, 500, 502, 503, 504, 599] {
            assert!(jira_retries(status), "{status}");
        }
        for status in [200, 202, 204, 301, 400, 401, 403, 404, 410, 413, 600] {
            assert!(!jira_retries(status), "{status}");
        }
    }

    #[test]
    fn the_webhook_url_of_the_tenants_product_is_preferred() {
        let descriptor = json!({ "modules": { "webhooks": [
            { "event": "comment_created", "url": "/webhooks/jira/comment_created" },
            { "event": "comment_created", "url": "/webhooks/confluence/comment_created" },
            { "event": "page_created", "url": "/hooks/page" },
        ]}});
        let url = |product, event| webhook_location(&descriptor, product, event).ok();
        assert_eq!(
            url(ProductType::Confluence, "comment_created"),
            Some("/webhooks/confluence/comment_created")
        );
        assert_eq!(
            url(ProductType::Jira, "comment_created"),
            Some("/webhooks/jira/comment_created")
        );
        assert_eq!(
            url(ProductType::Confluence, "page_created"),
            Some("/hooks/page")
        );
        assert_eq!(url(ProductType::Jira, "jira:issue_deleted"), None);
    }
}

//! Calls from Forge to the remote (docs/forge.md §4): product and lifecycle events with
//! Forge's retries, the scheduled trigger, and `preUninstall`.
//!
//! An event is `POST {baseUrl}{route}` with a JSON body, 5 s timeout; 3xx is not followed. Any
//! non-2xx answer or timeout is retried up to 4 times, 60 s apart, each retry with a fresh FIT
//! and `retryContext{retryCount, retryReason, retryData: null}` added to the event.
//! `retryReason` is `INVALID_FORGE_INVOCATION_TOKEN` after a 401, `TIMEOUT_ERROR` after a
//! timeout, else `INVALID_REMOTE_INVOCATION_ERROR`. Whether the body is the event itself or
//! `{"payload": event}` is not documented: [`ForgeSendOptions::wrapped`] chooses.
use std::time::Duration;

use anyhow::{ensure, Context};
use serde_json::{json, Value};

use super::{random_hex, ForgeSim, ForgeSite};

/// Options of one delivery; the default is what Forge does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeSendOptions {
    /// `{"payload": event}` (with `retryContext` inside `payload`) if true, else the event
    /// itself (default true).
    pub wrapped: bool,
    /// How many times a failed attempt is retried (default 4).
    pub max_retries: u32,
    /// The pause before each retry (default 60 s; tests want milliseconds).
    pub retry_delay: Duration,
    /// How long an attempt waits for the answer (default 5 s).
    pub timeout: Duration,
    /// Whether `x-forge-oauth-system` is sent (default true: the endpoint has
    /// `auth.appSystemToken` enabled).
    pub with_system_token: bool,
}

impl Default for ForgeSendOptions {
    fn default() -> Self {
        Self {
            wrapped: true,
            max_retries: 4,
            retry_delay: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            with_system_token: true,
        }
    }
}

impl ForgeSendOptions {
    /// Forge's behaviour with 50 ms between retries, for tests.
    pub fn fast() -> Self {
        Self {
            retry_delay: Duration::from_millis(50),
            ..Self::default()
        }
    }
}

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeDelivery {
    /// Each attempt's status, in order; `0` for a timeout or no answer.
    pub attempts: Vec<u16>,
    /// Whether the last attempt was answered 2xx.
    pub accepted: bool,
}

impl ForgeDelivery {
    /// The status of the last attempt (`0`: timeout or no answer).
    pub fn final_status(&self) -> u16 {
        self.attempts.last().copied().unwrap_or_default()
    }
}

/// The outcome of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Answered(u16),
    TimedOut,
    NoAnswer,
}

impl Outcome {
    fn status(self) -> u16 {
        match self {
            Self::Answered(status) => status,
            Self::TimedOut | Self::NoAnswer => 0,
        }
    }

    fn accepted(self) -> bool {
        (200..300).contains(&self.status())
    }

    /// The `retryReason` of the retry after this attempt.
    fn retry_reason(self) -> &'static str {
        match self {
            Self::Answered(401) => "INVALID_FORGE_INVOCATION_TOKEN",
            Self::TimedOut => "TIMEOUT_ERROR",
            Self::Answered(_) | Self::NoAnswer => "INVALID_REMOTE_INVOCATION_ERROR",
        }
    }
}

/// One call to an endpoint of the app.
struct Call<'a> {
    path: &'a str,
    endpoint_key: &'a str,
    body: &'a Value,
    timeout: Duration,
    with_system_token: bool,
}

impl ForgeSim {
    /// Delivers the event `payload` (a JSON object, e.g. from [`super::payloads`]) of `site` to
    /// the events endpoint as Forge does, retrying as `options` say. An unanswered delivery is
    /// not an error: the [`ForgeDelivery`] says so. Errors: `payload` is not an object, or the
    /// app's URL and the route make no URL.
    pub async fn send_event(
        &self,
        site: &ForgeSite,
        payload: Value,
        options: ForgeSendOptions,
    ) -> anyhow::Result<ForgeDelivery> {
        ensure!(payload.is_object(), "a Forge event is a JSON object");
        let app = &self.inner.app;
        let mut attempts = Vec::new();
        let mut retry: Option<Outcome> = None;
        loop {
            let mut event = payload.clone();
            if let Some(previous) = retry {
                event["retryContext"] = json!({
                    "retryCount": attempts.len(),
                    "retryReason": previous.retry_reason(),
                    "retryData": null,
                });
            }
            let body = if options.wrapped {
                json!({ "payload": event })
            } else {
                event
            };
            let call = Call {
                path: &app.events_path,
                endpoint_key: &app.events_key,
                body: &body,
                timeout: options.timeout,
                with_system_token: options.with_system_token,
            };
            let outcome = self.call(site, call).await?;
            attempts.push(outcome.status());
            if outcome.accepted() || attempts.len() > options.max_retries as usize {
                break;
            }
            retry = Some(outcome);
            tokio::time::sleep(options.retry_delay).await;
        }
        let accepted = (200..300).contains(&attempts.last().copied().unwrap_or_default());
        Ok(ForgeDelivery { attempts, accepted })
    }

    /// The scheduled trigger (e.g. hourly): `POST` to the refresh endpoint, body `{}`, with a
    /// FIT for its key and the site's system token. One attempt, 25 s timeout.
    pub async fn refresh(&self, site: &ForgeSite) -> anyhow::Result<ForgeDelivery> {
        let app = &self.inner.app;
        let call = Call {
            path: &app.refresh_path,
            endpoint_key: &app.refresh_key,
            body: &json!({}),
            timeout: Duration::from_secs(25),
            with_system_token: true,
        };
        let outcome = self.call(site, call).await?;
        Ok(single(outcome))
    }

    /// The `preUninstall` module: `POST` to the uninstall endpoint with
    /// `{"context": {"cloudId", "moduleKey"}, "contextToken": "<opaque>"}`, a FIT for its key
    /// and the system token. One attempt (never retried), 55 s timeout. Changes nothing else:
    /// [`ForgeSim::uninstall`] also refuses the site's tokens afterwards.
    pub async fn pre_uninstall(&self, site: &ForgeSite) -> anyhow::Result<ForgeDelivery> {
        let app = &self.inner.app;
        let body = json!({
            "context": { "cloudId": site.cloud_id, "moduleKey": app.uninstall_key },
            "contextToken": random_hex(64),
        });
        let call = Call {
            path: &app.uninstall_path,
            endpoint_key: &app.uninstall_key,
            body: &body,
            timeout: Duration::from_secs(55),
            with_system_token: true,
        };
        let outcome = self.call(site, call).await?;
        Ok(single(outcome))
    }

    /// One request to the app with a fresh FIT, new b3 ids and (if asked) the system token.
    async fn call(&self, site: &ForgeSite, call: Call<'_>) -> anyhow::Result<Outcome> {
        let url = format!("{}{}", self.inner.app.base_url, call.path);
        let url = url::Url::parse(&url).with_context(|| format!("{url} is not a URL"))?;
        let fit = self.mint_fit(site, call.endpoint_key);
        let mut request = self
            .inner
            .http
            .post(url.clone())
            .timeout(call.timeout)
            .header("Authorization", format!("Bearer {fit}"))
            .header("Content-Type", "application/json")
            .header("x-b3-traceid", random_hex(16))
            .header("x-b3-spanid", random_hex(8))
            .body(serde_json::to_vec(call.body).context("serialising the body")?);
        if call.with_system_token {
            let token = self.delivered_system_token(site);
            request = request.header("x-forge-oauth-system", token);
        }
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Err(error) if error.is_timeout() => Outcome::TimedOut,
                    _ => Outcome::Answered(status),
                }
            }
            Err(error) if error.is_timeout() => Outcome::TimedOut,
            Err(error) => {
                tracing::debug!(%error, %url, "Forge call got no answer");
                Outcome::NoAnswer
            }
        };
        Ok(outcome)
    }
}

fn single(outcome: Outcome) -> ForgeDelivery {
    ForgeDelivery {
        attempts: vec![outcome.status()],
        accepted: outcome.accepted(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_retry_reason() {
        let reasons = [
            (Outcome::Answered(500), "INVALID_REMOTE_INVOCATION_ERROR"),
            (Outcome::Answered(302), "INVALID_REMOTE_INVOCATION_ERROR"),
            (Outcome::Answered(401), "INVALID_FORGE_INVOCATION_TOKEN"),
            (Outcome::NoAnswer, "INVALID_REMOTE_INVOCATION_ERROR"),
            (Outcome::TimedOut, "TIMEOUT_ERROR"),
        ];
        for (outcome, reason) in reasons {
            assert_eq!(outcome.retry_reason(), reason, "{outcome:?}");
            assert!(!outcome.accepted());
        }
        assert!(Outcome::Answered(202).accepted());
        assert_eq!(Outcome::TimedOut.status(), 0);
    }
}

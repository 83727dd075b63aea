//! The signing keys of Forge Invocation Tokens: Atlassian's JWKS, fetched once and cached.
//!
//! - A fetched key set is fresh for its `Cache-Control: max-age`, clamped to 5 min..24 h
//!   (an hour when it says nothing).
//! - An unknown `kid` (a rotation) refetches at once, but at most once per
//!   `forge.jwks_refetch_interval_secs`: forged kids cannot make hookline hammer the JWKS.
//! - A failed refresh while keys are cached changes nothing: the cached keys keep serving.
//! - No keys at all and the JWKS unreachable: 503, so that Forge retries; the fetch is tried
//!   again at most every 2 s until it succeeds.
//!
//! Isolated Cloud tokens name their label (checked against `^[a-z0-9_-]{1,50}$` before use);
//! their keys come from `forge.isolated_cloud_jwks_url` with the label in it, each URL with a
//! cache of its own.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::forge::FitHeader;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;
use tokio::time::Instant;

/// How long a key set stays fresh when the JWKS says nothing of it.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
const MIN_MAX_AGE: Duration = Duration::from_secs(300);
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long one JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How often, at most, a JWKS that could never be fetched is tried again.
const COLD_RETRY: Duration = Duration::from_secs(2);

/// Why no key could be given for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key set (fetched) has no such `kid`.
    Unknown,
    /// An Isolated Cloud token, and no Isolated Cloud JWKS is configured.
    NoIsolatedCloud,
    /// No key set could be fetched and none is cached.
    Unavailable(String),
}

/// The keys of every JWKS hookline trusts; cheap to clone.
#[derive(Clone)]
pub struct ForgeKeys {
    http: reqwest::Client,
    jwks_url: String,
    isolated_cloud: Option<String>,
    refetch_interval: Duration,
    sets: Arc<Mutex<HashMap<String, Arc<KeySet>>>>,
}

/// One JWKS URL's keys.
struct KeySet {
    url: String,
    cached: Mutex<Cached>,
    /// One fetch at a time; a caller that waited on it reads what it brought.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, DecodingKey>,
    fresh_until: Option<Instant>,
    fetched_at: Option<Instant>,
}

impl ForgeKeys {
    /// Keys from `jwks_url` (and Isolated Cloud's, if a template is given).
    pub fn new(
        jwks_url: &str,
        isolated_cloud: Option<&str>,
        refetch_interval: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            jwks_url: jwks_url.to_owned(),
            isolated_cloud: isolated_cloud.map(str::to_owned),
            refetch_interval,
            sets: Arc::default(),
        })
    }

    /// The key that verifies a token with `header`.
    pub async fn key(&self, header: &FitHeader) -> Result<DecodingKey, KeyError> {
        let url = match (&header.ic_label, &self.isolated_cloud) {
            (None, _) => self.jwks_url.clone(),
            (Some(label), Some(template)) => template.replace("{icLabel}", label),
            (Some(_), None) => return Err(KeyError::NoIsolatedCloud),
        };
        self.set(&url)
            .key(&self.http, &header.kid, self.refetch_interval)
            .await
    }

    fn set(&self, url: &str) -> Arc<KeySet> {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.entry(url.to_owned())
            .or_insert_with(|| {
                Arc::new(KeySet {
                    url: url.to_owned(),
                    cached: Mutex::default(),
                    fetching: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }
}

impl KeySet {
    fn cached(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn key(
        &self,
        http: &reqwest::Client,
        kid: &str,
        refetch_interval: Duration,
    ) -> Result<DecodingKey, KeyError> {
        let (known, fresh, recently, cold) = {
            let cached = self.cached();
            let now = Instant::now();
            let cold = cached.keys.is_empty();
            let interval = if cold {
                refetch_interval.min(COLD_RETRY)
            } else {
                refetch_interval
            };
            (
                cached.keys.get(kid).cloned(),
                cached.fresh_until.is_some_and(|until| until > now),
                cached
                    .fetched_at
                    .is_some_and(|at| now.duration_since(at) < interval),
                cold,
            )
        };
        if let Some(key) = known {
            if fresh || recently {
                return Ok(key);
            }
            // Stale: refresh, and keep serving the cached key if the JWKS is down.
            if let Err(reason) = self.refresh(http).await {
                tracing::warn!(%reason, "cannot refresh the Forge JWKS; the cached keys serve on");
            }
            return Ok(self.lookup(kid).unwrap_or(key));
        }
        if recently {
            // Fetched (or tried) lately: an unknown kid waits for the interval.
            return Err(if cold {
                KeyError::Unavailable("the JWKS could not be fetched lately".into())
            } else {
                KeyError::Unknown
            });
        }
        match self.refresh(http).await {
            Ok(()) => self.lookup(kid).ok_or(KeyError::Unknown),
            Err(reason) if self.cached().keys.is_empty() => Err(KeyError::Unavailable(reason)),
            Err(reason) => {
                tracing::warn!(%reason, "cannot refresh the Forge JWKS; the cached keys serve on");
                Err(KeyError::Unknown)
            }
        }
    }

    fn lookup(&self, kid: &str) -> Option<DecodingKey> {
        self.cached().keys.get(kid).cloned()
    }

    /// Fetches the key set once, whoever asked; callers that waited find it fetched.
    async fn refresh(&self, http: &reqwest::Client) -> Result<(), String> {
        let started = Instant::now();
        let _fetching = self.fetching.lock().await;
        if self.cached().fetched_at.is_some_and(|at| at >= started) {
            return Ok(());
        }
        let fetched = fetch(http, &self.url).await;
        let mut cached = self.cached();
        cached.fetched_at = Some(Instant::now());
        let (keys, max_age) = fetched?;
        cached.keys = keys;
        cached.fresh_until = Some(Instant::now() + max_age);
        tracing::info!(
            keys = cached.keys.len(),
            ?max_age,
            "Forge signing keys fetched"
        );
        Ok(())
    }
}

/// The RS256 keys of a JWKS by kid, and how long they stay fresh.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
) -> Result<(HashMap<String, DecodingKey>, Duration), String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|error| format!("fetching the JWKS failed: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the JWKS answered {status}"));
    }
    let max_age = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|value| value.to_str().ok())
        .and_then(max_age)
        .unwrap_or(DEFAULT_MAX_AGE)
        .clamp(MIN_MAX_AGE, MAX_MAX_AGE);
    let set: JwkSet = response
        .json()
        .await
        .map_err(|error| format!("the JWKS is not a JSON key set: {error}"))?;
    let keys: HashMap<String, DecodingKey> = set
        .keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
            )
            .then_some((kid, key))
        })
        .collect();
    if keys.is_empty() {
        return Err("the JWKS has no RSA signing key".into());
    }
    Ok((keys, max_age))
}

/// `max-age` of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        (name.eq_ignore_ascii_case("max-age"))
            .then(|| value.trim().parse().ok().map(Duration::from_secs))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=x"), None);
    }
}

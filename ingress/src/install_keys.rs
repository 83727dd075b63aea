//! Signed-install public keys, fetched by `kid` from the key server and cached.
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use thiserror::Error;

/// Keys rotate rarely; an hour bounds how long a revoked key could still be trusted.
const KEY_TTL: Duration = Duration::from_secs(3600);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A PEM public key is well under this; anything larger is not a key.
const MAX_KEY_BYTES: usize = 16 * 1024;

/// Why a key could not be had.
#[derive(Debug, Error)]
pub enum InstallKeyError {
    /// The key server does not know this `kid` (the token is forged or stale).
    #[error("the install key server does not know this key id")]
    Unknown,
    /// The key server could not be reached or failed; the install should be retried.
    #[error("the install key server is unavailable: {0}")]
    Unavailable(String),
}

/// Fetches and caches PEM public keys from `{base_url}/{kid}`.
#[derive(Clone)]
pub struct InstallKeys {
    client: reqwest::Client,
    base_url: String,
    cache: Cache<String, Arc<Vec<u8>>>,
}

impl InstallKeys {
    /// A key source for the key server at `base_url`.
    pub fn new(base_url: &str) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            cache: Cache::builder()
                .max_capacity(1_000)
                .time_to_live(KEY_TTL)
                .build(),
        })
    }

    /// The PEM key named `kid` (already validated as URL-safe by the caller).
    pub async fn get(&self, kid: &str) -> Result<Arc<Vec<u8>>, InstallKeyError> {
        if let Some(key) = self.cache.get(kid).await {
            return Ok(key);
        }
        let key = Arc::new(self.fetch(kid).await?);
        self.cache.insert(kid.to_owned(), key.clone()).await;
        Ok(key)
    }

    async fn fetch(&self, kid: &str) -> Result<Vec<u8>, InstallKeyError> {
        let url = format!("{}/{kid}", self.base_url);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| InstallKeyError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Err(InstallKeyError::Unknown);
        }
        if !status.is_success() {
            return Err(InstallKeyError::Unavailable(format!(
                "key server answered {status}"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| InstallKeyError::Unavailable(e.without_url().to_string()))?;
        if body.len() > MAX_KEY_BYTES {
            return Err(InstallKeyError::Unavailable(
                "the key server sent an oversized key".into(),
            ));
        }
        Ok(body.to_vec())
    }
}

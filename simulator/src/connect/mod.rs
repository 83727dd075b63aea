//! The app-facing side of the simulator: [`ConnectSim`] behaves toward the app under test as
//! Jira Cloud and Confluence Cloud do (docs/protocol.md §1, §2, §4). It reads the app's
//! descriptor, installs sites (signed-install RS256 or the legacy flow), enables, disables and
//! uninstalls them, and delivers signed webhooks with Jira's retry behaviour.
//!
//! The sites themselves live in a [`ProductSim`]: an install registers the site there with the
//! same `sharedSecret`, so the app's calls back to the site verify against what it was given.
//!
//! Where requests go: every lifecycle and webhook URL of the descriptor is taken relative to
//! the app's base URL (as Atlassian does), and the qsh is computed on that relative path. The
//! app's base URL is both where requests are sent and the `aud` of signed installs, unless the
//! app sits behind a proxy: then use [`ConnectSim::start_with_address`].
mod key_server;
mod lifecycle;
mod webhooks;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use common::connect::CanonicalRequest;
use common::tenant::ProductType;
use serde_json::Value;
use url::Url;

pub use key_server::{INSTALL_KEY_ID, INSTALL_PUBLIC_KEY_PEM};
pub use webhooks::{
    jira_retries, DeliveryReport, SendOptions, DEFAULT_BACKOFF, DEFAULT_MAX_ATTEMPTS,
};

use crate::ProductSim;
use key_server::KeyServer;

/// How long the simulator waits for the app's answer; a slower answer counts as a timeout
/// (status `0`), which Jira retries.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How `installed` and `uninstalled` are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallMode {
    /// Signed install: `Authorization: JWT <RS256>` with the key server's key (what Atlassian
    /// enforces today).
    Signed,
    /// Legacy: no JWT on a first install, an HS256 token signed with the previous secret on
    /// a re-install, HS256 with the tenant's secret on `uninstalled`.
    Legacy,
}

/// A site installed through [`ConnectSim`]. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SimTenant {
    /// The site's `clientKey`.
    pub client_key: String,
    /// The `sharedSecret` the app was given by the last successful install.
    pub shared_secret: String,
    /// Jira or Confluence.
    pub product: ProductType,
    /// The site's `baseUrl` in the [`ProductSim`] (ends with `/wiki` for Confluence).
    pub base_url: String,
}

impl fmt::Debug for SimTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTenant")
            .field("client_key", &self.client_key)
            .field("shared_secret", &"<redacted>")
            .field("product", &self.product)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// A simulated Jira/Confluence Cloud facing one app; cheap to clone (clones share the key
/// server, the descriptor and the record of installs). The key server stops with the last
/// clone.
#[derive(Clone)]
pub struct ConnectSim {
    inner: Arc<Inner>,
}

struct Inner {
    /// The app's baseUrl without a trailing `/`: the `aud` of signed installs.
    app_base_url: String,
    /// Where requests are sent, without a trailing `/`; descriptor paths are appended to it.
    address: String,
    /// The path of `address` (`""` at the root), left out of every qsh.
    address_path: String,
    product: ProductSim,
    key_server: KeyServer,
    http: reqwest::Client,
    /// The descriptor each product installed from, fetched on first use.
    descriptors: Mutex<HashMap<ProductType, Arc<Value>>>,
    /// The secret each client key was last installed with, for legacy re-installs.
    secrets: Mutex<HashMap<String, String>>,
    /// The Forge installation a client key's lifecycle calls name (a Connect app on Forge);
    /// others get one derived from the client key.
    installations: Mutex<HashMap<String, String>>,
}

impl ConnectSim {
    /// Starts the signed-install key server (`GET /{kid}` → the PEM of the simulator's RS256
    /// public key, kid [`INSTALL_KEY_ID`]; the key pair is the test-only one of
    /// `fixtures/keys/`) on `127.0.0.1:0`, and remembers the app's base URL (e.g.
    /// `http://127.0.0.1:8080`): requests go there and it is the `aud` of signed installs.
    /// `product` is the [`ProductSim`] whose sites' baseUrls are used for installs.
    ///
    /// # Panics
    /// If `app_base_url` is not an absolute http(s) URL, or no local port can be bound.
    pub async fn start(app_base_url: &str, product: ProductSim) -> ConnectSim {
        Self::start_with_address(app_base_url, app_base_url, product).await
    }

    /// Like [`ConnectSim::start`] for an app behind a reverse proxy: `app_base_url` is the
    /// app's public baseUrl (signed-install `aud`), `address` is where requests are sent
    /// instead (e.g. `http://127.0.0.1:{port}`), with the paths relative to the baseUrl.
    ///
    /// # Panics
    /// If either URL is not an absolute http(s) URL, or no local port can be bound.
    pub async fn start_with_address(
        app_base_url: &str,
        address: &str,
        product: ProductSim,
    ) -> ConnectSim {
        let app_base_url = app_base_url.trim_end_matches('/').to_owned();
        let parsed = |url: &str| {
            Url::parse(url)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .unwrap_or_else(|| panic!("{url} is not an absolute http(s) URL"))
        };
        parsed(&app_base_url);
        let address = address.trim_end_matches('/').to_owned();
        let address_path = parsed(&address).path().trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with rustls builds");
        let inner = Inner {
            app_base_url,
            address,
            address_path,
            product,
            key_server: KeyServer::start(),
            http,
            descriptors: Mutex::default(),
            secrets: Mutex::default(),
            installations: Mutex::default(),
        };
        ConnectSim {
            inner: Arc::new(inner),
        }
    }

    /// The key server's URL, for the app's `app.install_keys_url`.
    pub fn key_server_url(&self) -> String {
        self.inner.key_server.url()
    }

    /// How many times the app fetched a key from the key server (to check its key cache).
    pub fn key_fetches(&self) -> usize {
        self.inner.key_server.fetches()
    }

    /// The app's base URL as given (without a trailing `/`).
    pub fn app_base_url(&self) -> &str {
        &self.inner.app_base_url
    }

    /// The [`ProductSim`] the sites live in.
    pub fn product(&self) -> &ProductSim {
        &self.inner.product
    }

    /// Fetches the descriptor `product` installs from, as a site admin registers it:
    /// `GET {app}/{product}/atlassian-connect.json`, else (404) the app's only descriptor at
    /// `GET {app}/atlassian-connect.json`. Returns it parsed (an error if the answer is not 200
    /// with a JSON object carrying `key`, `baseUrl` and `lifecycle`); that product's later
    /// installs and webhooks use it.
    pub async fn fetch_descriptor(&self, product: ProductType) -> anyhow::Result<Value> {
        let scoped = format!("/{}/atlassian-connect.json", product.as_str());
        let descriptor = match self.get_descriptor(&scoped).await? {
            Some(descriptor) => descriptor,
            None => self
                .get_descriptor("/atlassian-connect.json")
                .await?
                .with_context(|| format!("the app serves no descriptor for {product}"))?,
        };
        let has_text = |field: &str| descriptor[field].as_str().is_some_and(|v| !v.is_empty());
        ensure!(has_text("key"), "the descriptor has no key");
        ensure!(has_text("baseUrl"), "the descriptor has no baseUrl");
        ensure!(
            descriptor["lifecycle"].is_object(),
            "the descriptor has no lifecycle"
        );
        lock(&self.inner.descriptors).insert(product, Arc::new(descriptor.clone()));
        Ok(descriptor)
    }

    /// The descriptor at `path`: `None` on 404, an error on any other failure.
    async fn get_descriptor(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let (url, _) = self.target(path, "GET")?;
        let response = self
            .inner
            .http
            .get(url.clone())
            .send()
            .await
            .with_context(|| format!("fetching the descriptor at {url}"))?;
        let status = response.status();
        let text = response.text().await.context("reading the descriptor")?;
        if status == 404 {
            return Ok(None);
        }
        ensure!(
            status == 200,
            "the descriptor at {url} answered {status}: {text}"
        );
        serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("the descriptor at {url} is not JSON"))
    }

    /// The descriptor `product` installed from, fetching it if it never was.
    async fn descriptor(&self, product: ProductType) -> anyhow::Result<Arc<Value>> {
        if let Some(descriptor) = lock(&self.inner.descriptors).get(&product).cloned() {
            return Ok(descriptor);
        }
        self.fetch_descriptor(product).await.map(Arc::new)
    }

    /// The URL to send `location` (a descriptor URL, relative to the app's baseUrl or
    /// absolute under it) to, and the canonical request of `method` on it for the qsh.
    fn target(&self, location: &str, method: &str) -> anyhow::Result<(Url, CanonicalRequest)> {
        let relative = if location.starts_with("http://") || location.starts_with("https://") {
            match location.strip_prefix(self.inner.app_base_url.as_str()) {
                Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest,
                _ => bail!("{location} is not under the app's baseUrl"),
            }
        } else {
            location
        };
        let separator = if relative.starts_with('/') { "" } else { "/" };
        let url = Url::parse(&format!("{}{separator}{relative}", self.inner.address))
            .with_context(|| format!("{location} does not make a URL"))?;
        // The target as it goes on the wire (the URL parser may have encoded characters),
        // with the address's own path left out: what the app sees relative to its baseUrl.
        let wire = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let canonical = CanonicalRequest::new(method, &wire, &self.inner.address_path);
        Ok((url, canonical))
    }

    /// The secret `client_key` was last installed with through this simulator.
    /// Makes the app a Connect app on Forge on `client_key`'s site: its lifecycle calls from
    /// now on carry `installation_id` (the installation ARI its Forge tokens name).
    pub fn set_installation_id(&self, client_key: &str, installation_id: &str) {
        lock(&self.inner.installations).insert(client_key.to_owned(), installation_id.to_owned());
    }

    fn installation_id(&self, client_key: &str) -> Option<String> {
        lock(&self.inner.installations).get(client_key).cloned()
    }

    fn previous_secret(&self, client_key: &str) -> Option<String> {
        lock(&self.inner.secrets).get(client_key).cloned()
    }

    fn remember(&self, tenant: &SimTenant) {
        lock(&self.inner.secrets).insert(tenant.client_key.clone(), tenant.shared_secret.clone());
    }
}

impl fmt::Debug for ConnectSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectSim")
            .field("app_base_url", &self.inner.app_base_url)
            .field("key_server", &self.inner.key_server.url())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not take later assertions down too.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Now, epoch seconds.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

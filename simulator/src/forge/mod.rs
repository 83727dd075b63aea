//! The Forge side of the simulator: [`ForgeSim`] behaves toward a Forge remote as Atlassian
//! Forge does (docs/forge.md), and its sites' product APIs are served by a [`ProductSim`] as
//! `api.atlassian.com` serves them.
//!
//! - [`keys`]: the JWKS of the RS256 keys that sign Forge Invocation Tokens (rotation, outage,
//!   `Cache-Control`).
//! - [`fit`]: Forge Invocation Tokens with the documented claim set, and variants for attack
//!   tests ([`FitOverrides`]).
//! - [`tokens`]: app system tokens (`x-forge-oauth-system`), which the product accepts as
//!   `Authorization: Bearer` for their site only, until they expire or are revoked.
//! - [`sites`]: installing sites (`avi:forge:installed:app`), reinstalls, upgrades,
//!   uninstalls.
//! - [`delivery`]: product events with Forge's retries (`retryContext`), scheduled triggers,
//!   `preUninstall`.
//! - [`payloads`]: Forge event payloads in the documented shapes.
//!
//! Every request to the app carries `Authorization: Bearer <FIT>` (a fresh one per attempt,
//! for the endpoint's key), `x-b3-traceid`, `x-b3-spanid` and, unless disabled,
//! `x-forge-oauth-system`.
pub mod delivery;
pub mod fit;
pub mod keys;
pub mod payloads;
pub mod sites;
pub mod tokens;

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use url::Url;

pub use delivery::{ForgeDelivery, ForgeSendOptions};
pub use fit::{sign_with_key, FitKid, FitOverrides, FIT_ISSUER, FIT_LIFETIME_SECS};
pub use keys::{foreign_encoding_key, DEFAULT_JWKS_MAX_AGE, KID_PREFIX};
pub use sites::ForgeSite;

use crate::ProductSim;
use keys::Jwks;
use sites::Sites;
use tokens::SystemTokens;

/// The prefix of app ARIs (`ari:cloud:ecosystem::app/<uuid>`).
pub const APP_ARI_PREFIX: &str = "ari:cloud:ecosystem::app/";
/// The prefix of installation ARIs (`ari:cloud:ecosystem::installation/<uuid>`).
pub const INSTALLATION_ARI_PREFIX: &str = "ari:cloud:ecosystem::installation/";

/// Where the app under test receives Forge's calls, as its `manifest.yml` declares them: the
/// remote's `baseUrl` and, per endpoint module, its `route.path` and its key (the FIT's
/// `app.module.key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeApp {
    /// The remote's `baseUrl`, e.g. `http://127.0.0.1:8080` (no trailing `/` needed).
    pub base_url: String,
    /// The route of the endpoint product and lifecycle events go to.
    pub events_path: String,
    /// The key of that endpoint.
    pub events_key: String,
    /// The route of the endpoint the scheduled trigger (token refresh) calls.
    pub refresh_path: String,
    /// The key of that endpoint.
    pub refresh_key: String,
    /// The route of the endpoint the `preUninstall` module calls.
    pub uninstall_path: String,
    /// The key of that endpoint.
    pub uninstall_key: String,
}

impl ForgeApp {
    /// hookline's routes and endpoint keys at `base_url`: `/forge/events`
    /// (`hookline-events`), `/forge/refresh` (`hookline-refresh`), `/forge/uninstall`
    /// (`hookline-uninstall`).
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            events_path: "/forge/events".into(),
            events_key: "hookline-events".into(),
            refresh_path: "/forge/refresh".into(),
            refresh_key: "hookline-refresh".into(),
            uninstall_path: "/forge/uninstall".into(),
            uninstall_key: "hookline-uninstall".into(),
        }
    }
}

/// A simulated Atlassian Forge facing one app (one app id); cheap to clone (clones share the
/// JWKS server, the keys, the sites and their tokens). The JWKS server stops with the last
/// clone.
#[derive(Clone)]
pub struct ForgeSim {
    inner: Arc<Inner>,
}

struct Inner {
    app: ForgeApp,
    /// The app ARI: every FIT's `aud` and `app.id`.
    app_id: String,
    /// The bare UUID of the app (the `installed` event's `app.id`).
    app_uuid: String,
    /// The bare UUID of the app's environment.
    environment_uuid: String,
    /// The accountId of the admin who installs and upgrades the app.
    admin_account_id: String,
    /// The app's major version (FIT `app.version`, `appVersion` `{major}.0.0`).
    version: AtomicU32,
    product: ProductSim,
    jwks: Jwks,
    http: reqwest::Client,
    tokens: SystemTokens,
    sites: Mutex<Sites>,
}

impl ForgeSim {
    /// Starts the JWKS server (`GET /.well-known/jwks.json` on `127.0.0.1:0`, with the first
    /// signing key; generating it may take seconds in a debug build, once per process) for the
    /// app `app_id` (its ARI, `ari:cloud:ecosystem::app/<uuid>`; a bare UUID gets the prefix),
    /// whose remote is `app`. Sites live in `product`.
    ///
    /// # Panics
    /// If `app.base_url` is not an absolute http(s) URL, or no local port can be bound.
    pub async fn start(app: ForgeApp, app_id: &str, product: ProductSim) -> ForgeSim {
        let base = Url::parse(&app.base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"));
        assert!(
            base.is_some(),
            "{} is not an absolute http(s) URL",
            app.base_url
        );
        let app = ForgeApp {
            base_url: app.base_url.trim_end_matches('/').to_owned(),
            ..app
        };
        let app_uuid = app_id.strip_prefix(APP_ARI_PREFIX).unwrap_or(app_id);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with rustls builds");
        let inner = Inner {
            app,
            app_id: format!("{APP_ARI_PREFIX}{app_uuid}"),
            app_uuid: app_uuid.to_owned(),
            environment_uuid: uuid::Uuid::new_v4().to_string(),
            admin_account_id: account_id(),
            version: AtomicU32::new(1),
            product,
            jwks: Jwks::start().await,
            http,
            tokens: SystemTokens::new(),
            sites: Mutex::default(),
        };
        ForgeSim {
            inner: Arc::new(inner),
        }
    }

    /// The app ARI (`ari:cloud:ecosystem::app/<uuid>`): the `aud` of every FIT.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The app's routes and endpoint keys.
    pub fn app(&self) -> &ForgeApp {
        &self.inner.app
    }

    /// The [`ProductSim`] the sites live in.
    pub fn product(&self) -> &ProductSim {
        &self.inner.product
    }

    /// The JWKS URL, for the app's `forge.jwks_url`.
    pub fn jwks_url(&self) -> String {
        self.inner.jwks.url()
    }

    /// How many times the JWKS was requested (answered or refused), to check the app's cache.
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks.fetches()
    }

    /// `false`: the JWKS answers 503 (a CDN outage) until set back to `true`.
    pub fn set_jwks_available(&self, available: bool) {
        self.inner.jwks.set_available(available);
    }

    /// The `Cache-Control: max-age` the JWKS is served with (default
    /// [`DEFAULT_JWKS_MAX_AGE`], whole seconds).
    pub fn set_jwks_max_age(&self, max_age: std::time::Duration) {
        self.inner.jwks.set_max_age(max_age);
    }

    /// Rotates the signing key: a new key under a new kid signs every FIT from now on, and the
    /// JWKS serves only it. Returns the new kid. (The first rotation in a process generates a
    /// key, which may take seconds in a debug build.)
    pub async fn rotate_keys(&self) -> String {
        self.inner.jwks.rotate().await
    }

    /// The kid of the key FITs are signed with now.
    pub fn current_kid(&self) -> String {
        self.inner.jwks.current().kid
    }

    /// The key FITs are signed with now, to sign variants in tests.
    pub fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        self.inner.jwks.current().encoding_key().clone()
    }

    /// The app's major version (1 until [`ForgeSim::upgrade`]).
    pub fn app_version(&self) -> u32 {
        self.inner.version.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for ForgeSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForgeSim")
            .field("app_id", &self.inner.app_id)
            .field("app_base_url", &self.inner.app.base_url)
            .field("jwks", &self.inner.jwks.url())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not take later assertions down too.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Now, epoch seconds.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `bytes` random bytes, hex-encoded.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut buffer);
    hex::encode(buffer)
}

/// An Atlassian-style accountId (`557058:<uuid>`).
pub(crate) fn account_id() -> String {
    format!("557058:{}", uuid::Uuid::new_v4())
}

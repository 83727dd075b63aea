//! The `[forge]` section: hookline as the remote of a Forge app. Off until `app_id` is set:
//! then the Forge routes exist and their tokens are checked against that app only.
use std::time::Duration;

use serde::Deserialize;

/// Atlassian's production JWKS of Forge Invocation Tokens.
pub const PRODUCTION_JWKS_URL: &str =
    "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";

/// The Forge remote.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ForgeSettings {
    /// The app's ARI (`ari:cloud:ecosystem::app/<uuid>`; a bare UUID is taken as that ARI):
    /// the only audience a Forge Invocation Token may have. Unset: no Forge route exists.
    pub app_id: Option<String>,
    /// Where the signing keys of Forge Invocation Tokens are (Atlassian's production JWKS).
    pub jwks_url: String,
    /// The JWKS of Isolated Cloud tokens, with `{icLabel}` where the token's label goes (given
    /// by Atlassian when the app is onboarded to Isolated Cloud); unset: such tokens are refused.
    pub isolated_cloud_jwks_url: Option<String>,
    /// Hosts an installation's `apiBaseUrl` may have (calls back go nowhere else).
    pub api_base_url_hosts: Vec<String>,
    /// How often, at most, an unknown `kid` makes the JWKS be fetched again, seconds.
    pub jwks_refetch_interval_secs: u64,
    /// How long after an installation first called its product calls answered 401/403 are
    /// retried (its permissions may not be granted yet), seconds.
    pub permission_grace_secs: u64,
    /// How long an event waits, without using up an attempt, when its installation has no
    /// usable system token (until the next call from Forge brings one), seconds.
    pub token_wait_secs: u64,
}

impl ForgeSettings {
    /// The app ARI, when the Forge remote is on.
    pub fn app_ari(&self) -> Option<String> {
        self.app_id.as_deref().and_then(crate::forge::ids::app_ari)
    }

    /// How often, at most, an unknown `kid` refetches the JWKS.
    pub fn jwks_refetch_interval(&self) -> Duration {
        Duration::from_secs(self.jwks_refetch_interval_secs)
    }

    /// How long an event waits for a usable system token.
    pub fn token_wait(&self) -> Duration {
        Duration::from_secs(self.token_wait_secs)
    }

    /// How long an installation's first 401/403 answers are retried.
    pub fn permission_grace(&self) -> Duration {
        Duration::from_secs(self.permission_grace_secs)
    }
}

impl Default for ForgeSettings {
    fn default() -> Self {
        Self {
            app_id: None,
            jwks_url: PRODUCTION_JWKS_URL.into(),
            isolated_cloud_jwks_url: None,
            api_base_url_hosts: vec!["api.atlassian.com".into(), "api.stg.atlassian.com".into()],
            jwks_refetch_interval_secs: 10,
            permission_grace_secs: 1800,
            token_wait_secs: 30,
        }
    }
}

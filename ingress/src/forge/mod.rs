//! hookline as the remote of a Forge app: the signing keys of Forge Invocation Tokens
//! ([`keys`]), the tokens already used ([`replay`]) and what the Forge routes share
//! ([`ForgeRemote`]). Off until `forge.app_id` is
//! set; then the routes of `routes/forge.rs` exist.
pub mod keys;
pub mod replay;

use anyhow::Context;
use common::base_url::BaseUrlPolicy;
use common::config::Settings;

pub use keys::{ForgeKeys, KeyError};
pub use replay::UsedTokens;

/// Everything the Forge routes need beside the shared state; cheap to clone.
#[derive(Clone)]
pub struct ForgeRemote {
    /// The app's ARI: the only accepted audience.
    pub app_id: String,
    /// The signing keys.
    pub keys: ForgeKeys,
    /// Which hosts an installation's `apiBaseUrl` may have.
    pub api_base_urls: BaseUrlPolicy,
    /// The tokens already used (each is good for one call).
    pub used: UsedTokens,
}

impl ForgeRemote {
    /// The remote of the settings' Forge app, if one is configured.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        let forge = &settings.forge;
        let Some(app_id) = forge.app_ari() else {
            return Ok(None);
        };
        let keys = ForgeKeys::new(
            &forge.jwks_url,
            forge.isolated_cloud_jwks_url.as_deref(),
            forge.jwks_refetch_interval(),
        )
        .context("building the Forge JWKS client")?;
        Ok(Some(Self {
            app_id,
            keys,
            api_base_urls: BaseUrlPolicy::new(&forge.api_base_url_hosts),
            used: UsedTokens::new(),
        }))
    }
}

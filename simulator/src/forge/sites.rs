//! Sites the app is installed on: installs (`avi:forge:installed:app`), reinstalls (a new
//! installation id on the same site), major upgrades (`avi:forge:upgraded:app`) and
//! uninstalls (`preUninstall`, then every token of the site is refused).
//!
//! A site is one product (Jira or Confluence) of one cloud site: installing `name` for both
//! products gives two sites with the same cloud id. Its effects are recorded in the
//! [`ProductSim`](crate::ProductSim) under [`ForgeSite::site_key`], stable across reinstalls.
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use anyhow::bail;
use common::tenant::ProductType;
use serde_json::Value;

use super::payloads;
use super::{lock, ForgeDelivery, ForgeSendOptions, ForgeSim, INSTALLATION_ARI_PREFIX};

/// One installation of the app on a site's product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeSite {
    /// The key its effects are recorded under in the [`ProductSim`](crate::ProductSim)
    /// (`forge:{product}:{name}`): pass it to `comments`, `inject`, `deny_until_granted`...
    pub site_key: String,
    /// Jira or Confluence.
    pub product: ProductType,
    /// The site's cloud id (stable across reinstalls).
    pub cloud_id: String,
    /// The installation ARI, `ari:cloud:ecosystem::installation/<uuid>` (new on reinstall).
    pub installation_id: String,
    /// `http://127.0.0.1:{port}/ex/{product}/{cloudId}`: the base of product calls.
    pub api_base_url: String,
}

impl ForgeSite {
    /// The installation's bare UUID (the `installed` event's `id`).
    pub fn installation_uuid(&self) -> &str {
        self.installation_id
            .strip_prefix(INSTALLATION_ARI_PREFIX)
            .unwrap_or(&self.installation_id)
    }
}

/// The simulator's record of sites.
#[derive(Default)]
pub(crate) struct Sites {
    /// Cloud id of each site name.
    clouds: HashMap<String, String>,
    /// The current installation of each site key, and whether it is installed.
    current: HashMap<String, (ForgeSite, bool)>,
    /// The options lifecycle events are delivered with.
    lifecycle_options: ForgeSendOptions,
}

impl ForgeSim {
    /// Installs the app on the `product` of the site `name`: registers the site in the
    /// [`ProductSim`](crate::ProductSim) at `/ex/{product}/{cloudId}` (a new cloud id, or
    /// the one `name` already has for the other product), a new installation id, a system
    /// token, then delivers `avi:forge:installed:app` to the events endpoint (with the
    /// lifecycle options, [`ForgeSim::set_lifecycle_options`]). A refused delivery does not
    /// undo the install (Forge installs regardless): the [`ForgeDelivery`] says how it went.
    /// Errors: the site is installed already (use [`ForgeSim::reinstall`]).
    pub async fn install(
        &self,
        name: &str,
        product: ProductType,
    ) -> anyhow::Result<(ForgeSite, ForgeDelivery)> {
        let site = self.install_without_event(name, product)?;
        let delivery = self.deliver_installed(&site).await?;
        Ok((site, delivery))
    }

    /// [`ForgeSim::install`] without delivering `avi:forge:installed:app` (which may arrive
    /// minutes late, after the first product events): deliver it later with
    /// [`ForgeSim::deliver_installed`].
    pub fn install_without_event(
        &self,
        name: &str,
        product: ProductType,
    ) -> anyhow::Result<ForgeSite> {
        let site_key = format!("forge:{}:{name}", product.as_str());
        let cloud_id = {
            let mut sites = lock(&self.inner.sites);
            if sites.current.get(&site_key).is_some_and(|(_, on)| *on) {
                bail!("the app is installed on {site_key} already; reinstall it instead");
            }
            let cloud = sites.clouds.entry(name.to_owned());
            cloud
                .or_insert_with(|| uuid::Uuid::new_v4().to_string())
                .clone()
        };
        let api_base_url = self
            .inner
            .product
            .add_forge_site(&site_key, product, &cloud_id);
        let site = ForgeSite {
            site_key,
            product,
            cloud_id,
            installation_id: new_installation_id(),
            api_base_url,
        };
        self.activate(&site);
        Ok(site)
    }

    /// Uninstalls and installs the app again on `site`: a new installation id, the same cloud
    /// id and records; every earlier token of the site is refused and a new system token is
    /// minted. Delivers `avi:forge:installed:app` like [`ForgeSim::install`].
    pub async fn reinstall(&self, site: &ForgeSite) -> anyhow::Result<(ForgeSite, ForgeDelivery)> {
        let site = self.reinstall_without_event(site);
        let delivery = self.deliver_installed(&site).await?;
        Ok((site, delivery))
    }

    /// [`ForgeSim::reinstall`] without delivering `avi:forge:installed:app`.
    pub fn reinstall_without_event(&self, site: &ForgeSite) -> ForgeSite {
        let site = ForgeSite {
            installation_id: new_installation_id(),
            ..site.clone()
        };
        self.revoke_system_tokens(&site);
        self.activate(&site);
        site
    }

    /// Delivers `avi:forge:installed:app` for `site`'s installation to the events endpoint
    /// (again, if it was delivered already), with the lifecycle options.
    pub async fn deliver_installed(&self, site: &ForgeSite) -> anyhow::Result<ForgeDelivery> {
        let event = payloads::forge_installed(
            site.installation_uuid(),
            &self.inner.app_uuid,
            &format!("{}.0.0", self.app_version()),
            &self.inner.environment_uuid,
            &self.inner.admin_account_id,
        );
        self.deliver_lifecycle(site, event).await
    }

    /// A major upgrade: the app's version goes up by one (in every FIT from now on) and
    /// `avi:forge:upgraded:app` is delivered for `site` (same installation id), with the
    /// lifecycle options.
    pub async fn upgrade(&self, site: &ForgeSite) -> anyhow::Result<ForgeDelivery> {
        let version = self.inner.version.fetch_add(1, Ordering::Relaxed) + 1;
        let event = payloads::forge_upgraded(
            site.installation_uuid(),
            &self.inner.app_uuid,
            &format!("{version}.0.0"),
            &self.inner.environment_uuid,
            &self.inner.admin_account_id,
        );
        self.deliver_lifecycle(site, event).await
    }

    /// Uninstalls the app from `site`: calls the `preUninstall` endpoint (once, whatever it
    /// answers), then the product refuses every token of the site. Returns how the call went.
    pub async fn uninstall(&self, site: &ForgeSite) -> anyhow::Result<ForgeDelivery> {
        let delivery = self.pre_uninstall(site).await;
        self.revoke_system_tokens(site);
        if let Some(entry) = lock(&self.inner.sites).current.get_mut(&site.site_key) {
            entry.1 = false;
        }
        delivery
    }

    /// The options `installed` and `upgraded` are delivered with (default
    /// [`ForgeSendOptions::default`]: 4 retries 60 s apart; tests want short delays).
    pub fn set_lifecycle_options(&self, options: ForgeSendOptions) {
        lock(&self.inner.sites).lifecycle_options = options;
    }

    /// The current installation of the site `site_key`, if the app was ever installed there.
    pub fn site(&self, site_key: &str) -> Option<ForgeSite> {
        let sites = lock(&self.inner.sites);
        sites.current.get(site_key).map(|(site, _)| site.clone())
    }

    /// Records `site` as the current, installed installation and mints its system token.
    fn activate(&self, site: &ForgeSite) {
        lock(&self.inner.sites)
            .current
            .insert(site.site_key.clone(), (site.clone(), true));
        self.rotate_system_token(site);
    }

    async fn deliver_lifecycle(
        &self,
        site: &ForgeSite,
        event: Value,
    ) -> anyhow::Result<ForgeDelivery> {
        let options = lock(&self.inner.sites).lifecycle_options.clone();
        self.send_event(site, event, options).await
    }
}

fn new_installation_id() -> String {
    format!("{INSTALLATION_ARI_PREFIX}{}", uuid::Uuid::new_v4())
}

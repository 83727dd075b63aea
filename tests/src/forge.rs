//! Forge on the [`E2e`] harness: the simulator's Forge installs the app on sites, delivers
//! their events with Forge's retries (50 ms apart here), and its sites are called back through
//! their apiBaseUrl on the same product simulator as Connect's.
use common::forge::InstallationId;
use common::tenant::{ClientKey, ProductType, Tenant};
use serde_json::Value;
use simulator::{ForgeDelivery, ForgeSendOptions, ForgeSite};

use crate::E2e;

impl E2e {
    /// Installs the app on the Forge site `name` of `product` (Forge delivers `installed`,
    /// which must be accepted) and returns the site and hookline's tenant for it.
    pub async fn forge_install(&self, name: &str, product: ProductType) -> (ForgeSite, ClientKey) {
        let (site, delivery) = self
            .forge()
            .install(name, product)
            .await
            .unwrap_or_else(|e| panic!("installing on the Forge site {name}: {e:#}"));
        assert_eq!(delivery.attempts, [200], "installed on {name} is accepted");
        let tenant = self.forge_tenant(&site).await;
        (site, tenant.client_key)
    }

    /// hookline's tenant of a Forge site's installation.
    ///
    /// # Panics
    /// If the installation is not registered.
    pub async fn forge_tenant(&self, site: &ForgeSite) -> Tenant {
        let installation = InstallationId::parse(&site.installation_id)
            .unwrap_or_else(|e| panic!("{} is an installation id: {e}", site.installation_id));
        self.pipeline()
            .dispatcher
            .tenants
            .find_forge(&installation, site.product)
            .await
            .unwrap_or_else(|e| panic!("reading the tenant of {}: {e}", site.site_key))
            .unwrap_or_else(|| panic!("{} is registered", site.site_key))
    }

    /// Delivers a Forge event as Forge does (retries 50 ms apart), with `options`.
    pub async fn forge_send(
        &self,
        site: &ForgeSite,
        payload: Value,
        options: ForgeSendOptions,
    ) -> ForgeDelivery {
        self.forge()
            .send_event(site, payload, options)
            .await
            .unwrap_or_else(|e| panic!("delivering a Forge event to {}: {e:#}", site.site_key))
    }

    /// Delivers a Forge event that the ingress must accept at the first attempt.
    pub async fn forge_deliver(&self, site: &ForgeSite, payload: Value) -> ForgeDelivery {
        let delivery = self
            .forge_send(site, payload, ForgeSendOptions::fast())
            .await;
        assert_eq!(
            delivery.attempts,
            [202],
            "the ingress accepts the event of {}",
            site.site_key
        );
        delivery
    }
}

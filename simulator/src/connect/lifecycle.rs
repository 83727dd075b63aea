//! `installed`, `enabled`, `disabled`, `uninstalled`, sent as Atlassian sends them
//! (docs/protocol.md §1).
use anyhow::{bail, Context};
use common::connect::sign::product_token;
use common::connect::{CanonicalRequest, SharedSecret};
use common::tenant::ProductType;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::key_server::TOKEN_TTL_SECS;
use super::{now, ConnectSim, InstallMode, SimTenant};

/// Length of generated sharedSecrets (Atlassian's are of this order).
const SECRET_LEN: usize = 48;

/// How a lifecycle request is authenticated.
enum Auth<'a> {
    /// No `Authorization` header (a legacy first install).
    None,
    /// RS256 from the key server's key (signed install).
    Install,
    /// HS256 with this sharedSecret.
    Secret(&'a str),
}

impl ConnectSim {
    /// Registers a site in the [`ProductSim`](crate::ProductSim) (random sharedSecret) and
    /// sends `installed` as Atlassian does. [`InstallMode::Signed`]: RS256 (`kid`,
    /// `iss` = clientKey, `aud` = [app baseUrl], `qsh` of `POST /installed`, `exp` = iat +
    /// 180). [`InstallMode::Legacy`]: no JWT on a first install; when this simulator installed
    /// `client_key` before, HS256 signed with the previous secret (as Jira does).
    ///
    /// The site's secret in the product simulator changes only once the app accepted the
    /// install (a refused re-install leaves the app on the old secret, and so does the site).
    /// Fails with the status and body when the app does not answer 2xx.
    pub async fn install(
        &self,
        client_key: &str,
        product: ProductType,
        mode: InstallMode,
    ) -> anyhow::Result<SimTenant> {
        let previous = self.previous_secret(client_key);
        self.install_with(client_key, product, previous, mode).await
    }

    /// Installs `tenant` again with a new sharedSecret (Legacy: signed with its current one).
    pub async fn reinstall(
        &self,
        tenant: &SimTenant,
        mode: InstallMode,
    ) -> anyhow::Result<SimTenant> {
        let previous = Some(tenant.shared_secret.clone());
        self.install_with(&tenant.client_key, tenant.product, previous, mode)
            .await
    }

    /// Sends `enabled`, HS256 with the tenant's secret and the qsh of `POST /enabled`.
    pub async fn enable(&self, tenant: &SimTenant) -> anyhow::Result<()> {
        let auth = Auth::Secret(&tenant.shared_secret);
        self.lifecycle("enabled", tenant, auth).await
    }

    /// Sends `disabled`, HS256 with the tenant's secret.
    pub async fn disable(&self, tenant: &SimTenant) -> anyhow::Result<()> {
        let auth = Auth::Secret(&tenant.shared_secret);
        self.lifecycle("disabled", tenant, auth).await
    }

    /// Sends `uninstalled`: RS256 like `installed` ([`InstallMode::Signed`]) or HS256 with the
    /// tenant's secret ([`InstallMode::Legacy`]).
    pub async fn uninstall(&self, tenant: &SimTenant, mode: InstallMode) -> anyhow::Result<()> {
        let auth = match mode {
            InstallMode::Signed => Auth::Install,
            InstallMode::Legacy => Auth::Secret(&tenant.shared_secret),
        };
        self.lifecycle("uninstalled", tenant, auth).await
    }

    async fn install_with(
        &self,
        client_key: &str,
        product: ProductType,
        previous: Option<String>,
        mode: InstallMode,
    ) -> anyhow::Result<SimTenant> {
        let app_key = self.app_key(product).await?;
        let secret = Alphanumeric.sample_string(&mut rand::thread_rng(), SECRET_LEN);
        let sites = self.product();
        let base_url = match sites.base_url(client_key) {
            Some(base_url) => base_url,
            None => sites.add_tenant(client_key, &secret, product, &app_key),
        };
        let tenant = SimTenant {
            client_key: client_key.to_owned(),
            shared_secret: secret,
            product,
            base_url,
        };
        let auth = match (mode, &previous) {
            (InstallMode::Signed, _) => Auth::Install,
            (InstallMode::Legacy, None) => Auth::None,
            (InstallMode::Legacy, Some(previous)) => Auth::Secret(previous),
        };
        self.lifecycle("installed", &tenant, auth).await?;
        // An upsert: the site keeps its records and takes the new secret (what
        // `ProductSim::set_secret` does, plus the product and app key of this install).
        let base_url = sites.add_tenant(client_key, &tenant.shared_secret, product, &app_key);
        self.remember(&tenant);
        Ok(SimTenant { base_url, ..tenant })
    }

    async fn app_key(&self, product: ProductType) -> anyhow::Result<String> {
        let descriptor = self.descriptor(product).await?;
        let key = descriptor["key"]
            .as_str()
            .context("the descriptor has no key")?;
        Ok(key.to_owned())
    }

    /// POSTs lifecycle `event` to the URL the descriptor registered for it.
    async fn lifecycle(
        &self,
        event: &str,
        tenant: &SimTenant,
        auth: Auth<'_>,
    ) -> anyhow::Result<()> {
        let descriptor = self.descriptor(tenant.product).await?;
        let Some(location) = descriptor["lifecycle"][event].as_str() else {
            bail!("the descriptor registers no `{event}` lifecycle URL");
        };
        let app_key = descriptor["key"].as_str().unwrap_or_default();
        let (url, request) = self.target(location, "POST")?;
        let token = self.sign(&auth, &tenant.client_key, &request)?;
        let mut call = self
            .inner
            .http
            .post(url.clone())
            .json(&self.with_installation(lifecycle_body(app_key, tenant, event), tenant));
        if let Some(token) = token {
            call = call.header("Authorization", format!("JWT {token}"));
        }
        let response = call
            .send()
            .await
            .with_context(|| format!("sending `{event}` of {} to {url}", tenant.client_key))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        bail!(
            "the app answered {} to `{event}` of {}: {body}",
            status.as_u16(),
            tenant.client_key
        )
    }

    /// `body` with the Forge installation id set for the tenant's site, if any.
    fn with_installation(&self, mut body: Value, tenant: &SimTenant) -> Value {
        if let Some(id) = self.installation_id(&tenant.client_key) {
            body["installationId"] = Value::String(id);
        }
        body
    }

    fn sign(
        &self,
        auth: &Auth<'_>,
        client_key: &str,
        request: &CanonicalRequest,
    ) -> anyhow::Result<Option<String>> {
        Ok(match auth {
            Auth::None => None,
            Auth::Install => Some(self.inner.key_server.install_token(
                client_key,
                &self.inner.app_base_url,
                request,
                now(),
            )?),
            Auth::Secret(secret) => Some(product_token(
                client_key,
                &SharedSecret::new(*secret),
                request,
                now(),
                TOKEN_TTL_SECS,
            )?),
        })
    }
}

/// The lifecycle body every event shares, with `eventType` = `event`. The ids that Atlassian
/// assigns once per installation are derived from the clientKey, so they are stable across
/// events and re-installs.
pub(crate) fn lifecycle_body(app_key: &str, tenant: &SimTenant, event: &str) -> Value {
    let digest = hex::encode(Sha256::digest(tenant.client_key.as_bytes()));
    let installation = format!(
        "{}-{}-4{}-8{}-{}",
        &digest[..8],
        &digest[8..12],
        &digest[13..16],
        &digest[17..20],
        &digest[20..32]
    );
    let entitlement: String = digest
        .bytes()
        .filter(u8::is_ascii_digit)
        .take(7)
        .map(char::from)
        .collect();
    let (product_name, server_version, plugins_version) = match tenant.product {
        ProductType::Jira => ("Atlassian JIRA", "100280", "1001.0.0-SNAPSHOT"),
        ProductType::Confluence => ("Confluence", "6452", "1000.0.0-b2d2b5b5e2e0"),
    };
    json!({
        "key": app_key,
        "clientKey": tenant.client_key,
        "sharedSecret": tenant.shared_secret,
        "baseUrl": tenant.base_url,
        "displayUrl": tenant.base_url,
        "productType": tenant.product.as_str(),
        "description": format!("{product_name} at {}", tenant.base_url),
        "eventType": event,
        "serverVersion": server_version,
        "pluginsVersion": plugins_version,
        "oauthClientId": &digest[32..64],
        "installationId": format!("ari:cloud:ecosystem::installation/{installation}"),
        "serviceEntitlementNumber": format!("SEN-{entitlement}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(product: ProductType) -> SimTenant {
        SimTenant {
            client_key: "ck-1".into(),
            shared_secret: "s".repeat(48),
            product,
            base_url: "http://127.0.0.1:9/t/ck1/wiki".into(),
        }
    }

    #[test]
    fn the_lifecycle_body_has_every_field_atlassian_sends() {
        let body = lifecycle_body("hookline", &tenant(ProductType::Confluence), "installed");
        for field in [
            "key",
            "clientKey",
            "sharedSecret",
            "baseUrl",
            "displayUrl",
            "productType",
            "description",
            "eventType",
            "serverVersion",
            "pluginsVersion",
            "oauthClientId",
            "installationId",
            "serviceEntitlementNumber",
        ] {
            assert!(
                body[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} in {body}"
            );
        }
        assert_eq!(body["productType"], "confluence");
        assert_eq!(body["eventType"], "installed");
    }

    #[test]
    fn installation_ids_are_stable_per_client_key_across_events() {
        let installed = lifecycle_body("k", &tenant(ProductType::Jira), "installed");
        let enabled = lifecycle_body("k", &tenant(ProductType::Jira), "enabled");
        for field in [
            "installationId",
            "oauthClientId",
            "serviceEntitlementNumber",
        ] {
            assert_eq!(installed[field], enabled[field]);
        }
    }
}

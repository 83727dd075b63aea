//! The simulator's memory: tenants by site, their records and fault queues.
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use common::connect::SharedSecret;
use common::tenant::ProductType;
use sha2::{Digest, Sha256};

use super::auth::Credentials;
use super::bearer::ForgeAccess;
use super::faults::Fault;
use super::records::{RecordedComment, RecordedLabel, RecordedProperty, RecordedRequest};

/// The state shared by the handle and the server. One std mutex, because every critical
/// section is a few map operations and none is held across an `.await`.
#[derive(Clone, Default)]
pub(crate) struct Shared(Arc<Mutex<State>>);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take every later assertion down with it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
pub(crate) struct State {
    tenants: HashMap<String, Tenant>,
    sites: HashMap<String, String>,
    /// The site of each Forge tenant, by product and cloud id (`/ex/{product}/{cloudId}`).
    forge_sites: HashMap<(ProductType, String), String>,
    pub rejected: usize,
    pub latency: Duration,
}

impl State {
    /// Registers or re-registers a tenant, keeping its records; returns its site.
    pub(crate) fn upsert(&mut self, credentials: TenantSpec<'_>) -> String {
        let site = site_for(credentials.client_key);
        let tenant = self
            .tenants
            .entry(site.clone())
            .or_insert_with(|| Tenant::new(&site, credentials.client_key, credentials.product));
        tenant.secret = SharedSecret::new(credentials.shared_secret);
        tenant.app_key = credentials.app_key.to_owned();
        tenant.product = credentials.product;
        self.sites
            .insert(credentials.client_key.to_owned(), site.clone());
        site
    }

    /// Registers or re-registers a Forge tenant reached at `/ex/{product}/{cloud_id}`,
    /// keeping its records and the tokens issued for it; returns its site.
    pub(crate) fn upsert_forge(
        &mut self,
        site_key: &str,
        product: ProductType,
        cloud_id: &str,
    ) -> String {
        let site = site_for(site_key);
        let tenant = self
            .tenants
            .entry(site.clone())
            .or_insert_with(|| Tenant::new(&site, site_key, product));
        tenant.product = product;
        if tenant
            .forge
            .as_ref()
            .is_none_or(|forge| forge.cloud_id != cloud_id)
        {
            tenant.forge = Some(ForgeAccess::new(cloud_id));
        }
        self.sites.insert(site_key.to_owned(), site.clone());
        self.forge_sites
            .insert((product, cloud_id.to_owned()), site.clone());
        site
    }

    /// The site of the Forge tenant of `product` at `cloud_id`.
    pub(crate) fn forge_site(&self, product: ProductType, cloud_id: &str) -> Option<String> {
        self.forge_sites
            .get(&(product, cloud_id.to_owned()))
            .cloned()
    }

    pub(crate) fn by_site(&mut self, site: &str) -> Option<&mut Tenant> {
        self.tenants.get_mut(site)
    }

    pub(crate) fn by_client_key(&mut self, client_key: &str) -> Option<&mut Tenant> {
        let site = self.sites.get(client_key)?;
        self.tenants.get_mut(site)
    }
}

/// What [`State::upsert`] needs to know of a tenant.
pub(crate) struct TenantSpec<'a> {
    pub client_key: &'a str,
    pub shared_secret: &'a str,
    pub product: ProductType,
    pub app_key: &'a str,
}

/// One simulated Jira or Confluence site.
pub(crate) struct Tenant {
    pub client_key: String,
    pub site: String,
    pub secret: SharedSecret,
    pub app_key: String,
    pub product: ProductType,
    pub comments: Vec<RecordedComment>,
    pub labels: Vec<RecordedLabel>,
    pub properties: Vec<StoredProperty>,
    pub requests: Vec<RecordedRequest>,
    pub faults: VecDeque<Fault>,
    /// The accountIds of the site admins (see `permissions.rs`).
    pub admins: HashSet<String>,
    /// Set for a site reached through Forge (`/ex/{product}/{cloudId}`, bearer tokens);
    /// such a site is not reachable at `/t/{site}`.
    pub forge: Option<ForgeAccess>,
    /// Every verified request answers 403 until the app's permissions are granted.
    pub denied: bool,
    last_id: u64,
}

/// A property with the id and version Confluence exposes.
pub(crate) struct StoredProperty {
    pub record: RecordedProperty,
    pub id: String,
    pub version: u64,
}

impl Tenant {
    fn new(site: &str, client_key: &str, product: ProductType) -> Self {
        Self {
            client_key: client_key.to_owned(),
            site: site.to_owned(),
            secret: SharedSecret::new(""),
            app_key: String::new(),
            product,
            comments: Vec::new(),
            labels: Vec::new(),
            properties: Vec::new(),
            requests: Vec::new(),
            faults: VecDeque::new(),
            admins: HashSet::new(),
            forge: None,
            denied: false,
            last_id: 10_000,
        }
    }

    /// A fresh id, unique within the tenant (numeric, as both products use).
    pub(crate) fn next_id(&mut self) -> String {
        self.last_id += 1;
        self.last_id.to_string()
    }

    /// The path of the tenant's baseUrl: `/t/{site}`, plus `/wiki` for Confluence; for a
    /// Forge site its API base, `/ex/{product}/{cloudId}` (Confluence paths add `/wiki`).
    pub(crate) fn base_path(&self) -> String {
        match &self.forge {
            Some(forge) => forge_base_path(self.product, &forge.cloud_id),
            None => base_path(&self.site, self.product),
        }
    }

    pub(crate) fn credentials(&self) -> Credentials {
        Credentials {
            client_key: self.client_key.clone(),
            secret: self.secret.clone(),
            app_key: self.app_key.clone(),
            base_path: self.base_path(),
        }
    }

    /// The stored property `key` of `target`, if any.
    pub(crate) fn property_mut(&mut self, target: &str, key: &str) -> Option<&mut StoredProperty> {
        self.properties
            .iter_mut()
            .find(|stored| stored.record.target == target && stored.record.key == key)
    }
}

pub(crate) fn base_path(site: &str, product: ProductType) -> String {
    match product {
        ProductType::Jira => format!("/t/{site}"),
        ProductType::Confluence => format!("/t/{site}/wiki"),
    }
}

/// The API base path of a Forge site, as `api.atlassian.com` has it.
pub(crate) fn forge_base_path(product: ProductType, cloud_id: &str) -> String {
    format!("/ex/{}/{cloud_id}", product.as_str())
}

/// A url-safe site name: a readable prefix of the client key plus a hash that keeps client
/// keys differing only in punctuation apart.
fn site_for(client_key: &str) -> String {
    let readable: String = client_key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let hash = hex::encode(Sha256::digest(client_key.as_bytes()));
    if readable.is_empty() {
        hash[..12].to_owned()
    } else {
        format!("{readable}-{}", &hash[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_url_safe_and_distinct_for_keys_differing_in_punctuation() {
        let (a, b) = (site_for("Client:Key/1"), site_for("client-key-1"));
        assert_ne!(a, b);
        assert!(a.starts_with("clientkey1-"));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert_eq!(site_for("::").len(), 12);
    }
}

//! The `[app]` section: the app's identity as its descriptors present it, per product.
use serde::Deserialize;

use crate::tenant::ProductType;

/// The app's identity, as its descriptor presents it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AppSettings {
    /// The app key (`key` in the descriptor, `iss` of app tokens).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Description shown to admins.
    pub description: String,
    /// The public URL Atlassian reaches the app at.
    pub base_url: String,
    /// Vendor name and URL.
    pub vendor_name: String,
    /// Vendor URL.
    pub vendor_url: String,
    /// Descriptor scopes.
    pub scopes: Vec<String>,
    /// Subscribed webhooks as `product:event` (`jira:jira:issue_created`, `confluence:page_created`).
    pub webhooks: Vec<String>,
    /// Whether installs use signed-install (RS256); `false` is the legacy mode.
    pub signed_install: bool,
    /// Where signed-install public keys are fetched from (`{url}/{kid}`).
    pub install_keys_url: String,
    /// Hosts a tenant's `baseUrl` may have (`*.atlassian.net` matches any subdomain).
    pub allowed_base_url_hosts: Vec<String>,
    /// Atlassian's `all.js`, the first script of every page shown inside Jira or Confluence.
    pub all_js_url: String,
    /// Who may frame the app's pages (the CSP `frame-ancestors` sources).
    pub frame_ancestors: Vec<String>,
    /// The Jira descriptor's own key and name, when they differ from `key` and `name`.
    pub jira: ProductIdentity,
    /// The Confluence descriptor's own key and name, when they differ from `key` and `name`.
    pub confluence: ProductIdentity,
}

/// A product descriptor's identity: a Connect descriptor is installed into one product, so
/// each product has its own (a Marketplace listing needs a key of its own per product).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProductIdentity {
    /// The app key in this product (default: `app.key`).
    pub key: Option<String>,
    /// The app name in this product (default: `app.name`).
    pub name: Option<String>,
}

impl AppSettings {
    /// The products this deployment serves: those `webhooks` subscribes for, Jira first.
    pub fn products(&self) -> Vec<ProductType> {
        [ProductType::Jira, ProductType::Confluence]
            .into_iter()
            .filter(|product| {
                self.webhooks.iter().any(|webhook| {
                    webhook.split_once(':').map(|(p, _)| p) == Some(product.as_str())
                })
            })
            .collect()
    }

    /// The events `webhooks` subscribes for in `product`.
    pub fn events(&self, product: ProductType) -> impl Iterator<Item = &str> {
        self.webhooks.iter().filter_map(move |webhook| {
            let (of, event) = webhook.split_once(':')?;
            (of == product.as_str()).then_some(event)
        })
    }

    fn identity(&self, product: ProductType) -> &ProductIdentity {
        match product {
            ProductType::Jira => &self.jira,
            ProductType::Confluence => &self.confluence,
        }
    }

    /// The app key of `product`'s descriptor.
    pub fn key_for(&self, product: ProductType) -> &str {
        self.identity(product).key.as_deref().unwrap_or(&self.key)
    }

    /// The app name of `product`'s descriptor.
    pub fn name_for(&self, product: ProductType) -> &str {
        self.identity(product).name.as_deref().unwrap_or(&self.name)
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        let webhooks = [
            "jira:jira:issue_created",
            "jira:jira:issue_updated",
            "jira:comment_created",
            "jira:comment_updated",
            "confluence:page_created",
            "confluence:page_updated",
            "confluence:blog_created",
            "confluence:comment_created",
        ];
        Self {
            key: "hookline".into(),
            name: "hookline".into(),
            description: "Rules that act on Jira and Confluence events.".into(),
            base_url: "http://localhost:8080".into(),
            vendor_name: "hookline".into(),
            vendor_url: "https://github.com/hookline/hookline".into(),
            scopes: vec!["READ".into(), "WRITE".into()],
            webhooks: webhooks.map(String::from).to_vec(),
            signed_install: true,
            install_keys_url: "https://connect-install-keys.atlassian.com".into(),
            allowed_base_url_hosts: vec![
                "*.atlassian.net".into(),
                "*.jira.com".into(),
                "*.jira-dev.com".into(),
            ],
            all_js_url: "https://connect-cdn.atl-paas.net/all.js".into(),
            frame_ancestors: vec![
                "https://*.atlassian.net".into(),
                "https://*.jira.com".into(),
                "https://*.jira-dev.com".into(),
            ],
            jira: ProductIdentity::default(),
            confluence: ProductIdentity::default(),
        }
    }
}

//! The pages (rules, activity) as Forge Custom UI modules (`forge.custom_ui`): one Forge
//! module for each page of the Connect descriptor (`ingress::descriptor::pages`), so a page is
//! never missing or shown twice, its title and tooltip the Connect module's. Each shows a
//! bundle Forge hosts ([`RESOURCES`]) and calls hookline through the `hookline-ui` resolver
//! endpoint.
use std::collections::BTreeMap;

use anyhow::{bail, Context};
use common::forge::UI;
use common::tenant::ProductType;
use ingress::descriptor::pages;
use serde::Serialize;
use serde_json::Value;

/// A static bundle Forge hosts: a directory, relative to the manifest, with an `index.html`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Resource {
    pub key: &'static str,
    pub path: &'static str,
}

/// The rules page's bundle (the Connect page `/pages/rules`).
const RULES: Resource = Resource {
    key: "hookline-rules",
    path: "forge-ui/rules",
};
/// The activity page's bundle (the Connect page `/pages/activity`).
const ACTIVITY: Resource = Resource {
    key: "hookline-activity",
    path: "forge-ui/activity",
};
/// Every bundle.
pub const RESOURCES: [Resource; 2] = [RULES, ACTIVITY];

/// A Custom UI page module (`jira:adminPage`, `confluence:contentBylineItem`, ...).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageModule {
    pub key: String,
    pub resource: &'static str,
    pub resolver: Resolver,
    pub title: String,
    /// Required by `jira:issuePanel`: a file of the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// The rules page is the app's configuration page (one per module type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_as_config: Option<bool>,
}

/// Where the page's `invokeRemote` calls go.
#[derive(Debug, Serialize)]
pub struct Resolver {
    pub endpoint: &'static str,
}

/// The Forge module type that stands for a Connect page module type of `product`.
fn forge_type(product: ProductType, connect_type: &str) -> Option<&'static str> {
    Some(match (product, connect_type) {
        (ProductType::Jira, "adminPages") => "jira:adminPage",
        (ProductType::Jira, "webPanels") => "jira:issuePanel",
        (ProductType::Confluence, "configurePage" | "adminPages") => "confluence:globalSettings",
        (ProductType::Confluence, "contentBylineItems") => "confluence:contentBylineItem",
        _ => return None,
    })
}

/// The bundle of a Connect page URL (`/pages/activity?issueKey=...` is [`ACTIVITY`]).
fn resource(url: &str) -> Option<Resource> {
    let page = url.strip_prefix("/pages/")?.split('?').next()?;
    RESOURCES
        .into_iter()
        .find(|resource| resource.path.rsplit('/').next() == Some(page))
}

/// The Forge module of one Connect page of `product`.
fn page_module(product: ProductType, page: &Value) -> anyhow::Result<PageModule> {
    let text = |pointer: &str| page.pointer(pointer).and_then(Value::as_str);
    let (Some(key), Some(url), Some(title)) = (text("/key"), text("/url"), text("/name/value"))
    else {
        bail!("a {product} Connect page has no key, url or name: {page}");
    };
    let resource = resource(url).with_context(|| {
        format!(
            "the {product} Connect page {key:?} shows {url}, which no Custom UI bundle stands for"
        )
    })?;
    Ok(PageModule {
        key: format!("{product}-{key}"),
        resource: resource.key,
        resolver: Resolver { endpoint: UI.key },
        title: title.to_owned(),
        icon: None,
        tooltip: text("/tooltip/value").map(str::to_owned),
        use_as_config: (resource.key == RULES.key).then_some(true),
    })
}

/// The Custom UI modules of `products`' pages, by Forge module type.
pub fn modules(
    products: &[ProductType],
) -> anyhow::Result<BTreeMap<&'static str, Vec<PageModule>>> {
    let mut modules: BTreeMap<&'static str, Vec<PageModule>> = BTreeMap::new();
    for &product in products {
        let Value::Object(connect) = pages(product) else {
            bail!("the {product} Connect pages are not an object of module types");
        };
        for (connect_type, pages) in &connect {
            let forge_type = forge_type(product, connect_type).with_context(|| {
                format!(
                    "the {product} Connect module type {connect_type} has no Forge Custom UI \
                     equivalent here: set forge.custom_ui = false to keep the Connect pages"
                )
            })?;
            let pages = match pages {
                Value::Array(list) => list.iter().collect(),
                single => vec![single],
            };
            for page in pages {
                let mut module = page_module(product, page)?;
                if forge_type == "jira:issuePanel" {
                    module.icon = Some(format!("resource:{};icon.svg", module.resource));
                }
                modules.entry(forge_type).or_default().push(module);
            }
        }
    }
    Ok(modules)
}

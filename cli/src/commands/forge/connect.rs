//! Connect on Forge (`--connect`): the Connect app the Forge app carries (`app.connect`) and
//! its descriptor's modules (`connectModules`), from the same functions as the descriptor
//! routes (`ingress::descriptor`), in the shape of Atlassian's `connect-to-forge` conversion:
//! `{product}:{module type}` lists, a singleton (`configurePage`) as a list of one, webhooks and
//! lifecycle with keys of their own. Module keys must be unique across `modules` and
//! `connectModules`, so a page key both products use is prefixed with its product.
use std::collections::BTreeSet;

use anyhow::bail;
use common::config::Settings;
use common::tenant::ProductType;
use ingress::descriptor::{lifecycle, pages, webhook_modules};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::delivery::Delivery;
use super::manifest::REMOTE;

/// `app.connect`: the Connect app's key, the remote its modules call (hookline, at the
/// descriptor's baseUrl) and Connect's JWT for them.
#[derive(Debug, Serialize)]
pub struct ConnectApp {
    pub key: String,
    pub remote: &'static str,
    pub authentication: &'static str,
}

/// Everything `--connect` adds to the manifest.
#[derive(Debug)]
pub struct Declared {
    pub app: ConnectApp,
    pub modules: Map<String, Value>,
    /// The descriptor's scopes as Forge names them (`read:connect-jira`): the modules keep
    /// calling with Connect JWTs, which these allow.
    pub scopes: Vec<String>,
    pub warnings: Vec<String>,
}

/// The Connect app for `products`: one key, so products with keys of their own need a
/// manifest each (`--product`).
pub fn declare(
    settings: &Settings,
    products: &[ProductType],
    delivery: &Delivery,
    custom_ui: bool,
) -> anyhow::Result<Declared> {
    let app = &settings.app;
    let keys: BTreeSet<&str> = products.iter().map(|&p| app.key_for(p)).collect();
    if keys.len() > 1 {
        bail!(
            "app.jira.key and app.confluence.key differ ({}): a Forge app carries one Connect \
             app, so generate one manifest per product with --product jira and --product \
             confluence (each Forge app with its own forge.app_id)",
            keys.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let mut modules = Map::new();
    let mut warnings = Vec::new();
    let mut taken = BTreeSet::new();
    for &product in products {
        for (kind, mut list) in product_modules(settings, product, delivery, custom_ui) {
            for module in &mut list {
                warnings.extend(unique_key(module, product, &mut taken));
            }
            modules.insert(format!("{product}:{kind}"), Value::Array(list));
        }
    }
    let scopes = products
        .iter()
        .flat_map(|product| app.scopes.iter().map(move |s| connect_scope(s, *product)))
        .collect();
    let key = keys.into_iter().next().unwrap_or(&app.key).to_owned();
    Ok(Declared {
        app: ConnectApp {
            key,
            remote: REMOTE,
            authentication: "jwt",
        },
        modules,
        scopes,
        warnings,
    })
}

/// `product`'s Connect modules by type: its lifecycle, the webhooks of the events that come
/// by Connect, and its pages unless they are Custom UI.
fn product_modules(
    settings: &Settings,
    product: ProductType,
    delivery: &Delivery,
    custom_ui: bool,
) -> Vec<(String, Vec<Value>)> {
    let mut lifecycle = lifecycle(product);
    lifecycle["key"] = json!(format!("{product}-lifecycle"));
    let mut kinds = vec![("lifecycle".to_owned(), vec![lifecycle])];
    let webhooks: Vec<Value> = webhook_modules(&settings.app, product)
        .into_iter()
        .filter(|webhook| delivery.by_connect(product, webhook["event"].as_str().unwrap_or("")))
        .map(|mut webhook| {
            let event = webhook["event"]
                .as_str()
                .unwrap_or("")
                .replace([':', '_'], "-");
            webhook["key"] = json!(format!("{product}-webhook-{event}"));
            webhook
        })
        .collect();
    if !webhooks.is_empty() {
        kinds.push(("webhooks".to_owned(), webhooks));
    }
    if !custom_ui {
        let Value::Object(pages) = pages(product) else {
            return kinds;
        };
        kinds.extend(pages.into_iter().map(|(kind, modules)| match modules {
            Value::Array(list) => (kind, list),
            single => (kind, vec![single]),
        }));
    }
    kinds
}

/// Gives `module` a key no earlier module has (its product's prefix if taken), and says so
/// when it changed: a Connect page's URL holds its key.
fn unique_key(
    module: &mut Value,
    product: ProductType,
    taken: &mut BTreeSet<String>,
) -> Option<String> {
    let key = module["key"].as_str()?.to_owned();
    if taken.insert(key.clone()) {
        return None;
    }
    let renamed = format!("{product}-{key}");
    module["key"] = json!(renamed);
    taken.insert(renamed.clone());
    Some(format!(
        "the {product} Connect module {key:?} is {renamed:?} in connectModules: module keys are \
         unique in a manifest, and the other product's module has that key; its page's URL \
         changes"
    ))
}

/// A descriptor scope (`READ`, `ACT_AS_USER`) as Forge names it for `product`'s Connect
/// modules (`read:connect-jira`, `act-as-user:connect-jira`).
fn connect_scope(scope: &str, product: ProductType) -> String {
    format!(
        "{}:connect-{product}",
        scope.to_ascii_lowercase().replace('_', "-")
    )
}

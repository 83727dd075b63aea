//! How the manifest is put together from the settings.
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};
use common::config::Settings;
use common::forge::events::{INSTALLED, UPGRADED};
use common::forge::{ENDPOINTS, EVENTS as EVENTS_ENDPOINT, REFRESH, UI, UNINSTALL};
use common::tenant::ProductType;
use serde_json::Map;

use super::connect;
use super::custom_ui::{self, PageModule};
use super::delivery::Delivery;
use super::shape::{
    App, Auth, Enabled, EndpointModule, Manifest, Modules, Permissions, PreUninstall, Remote,
    Route, Runtime, ScheduledTrigger, Storage, Trigger, TriggerFilter,
};
use crate::cli::ForgeManifestArgs;

/// The remote's key in the manifest; also the Connect app's remote (same base URL).
pub const REMOTE: &str = "hookline";

/// Every app needs `read:app-system-token` for the system token sent with each call.
const SYSTEM_TOKEN_SCOPE: &str = "read:app-system-token";

/// The system token, sent with every call (FORGE.md §3).
const SYSTEM_TOKEN: Auth = Auth {
    app_system_token: Enabled { enabled: true },
    app_user_token: None,
};

/// The Custom UI resolver also gets the user's token (`x-forge-oauth-user`): its admin check
/// asks the product about the user as the user (docs/forge.md §8). Forge sends user tokens only
/// to endpoints no trigger uses, which this one is.
const UI_TOKENS: Auth = Auth {
    app_system_token: Enabled { enabled: true },
    app_user_token: Some(Enabled { enabled: true }),
};

/// Needed for the user's token.
const USER_TOKEN_SCOPE: &str = "read:app-user-token";

/// A manifest and what the operator should hear about it.
#[derive(Debug)]
pub struct Built {
    pub manifest: Manifest,
    pub warnings: Vec<String>,
}

/// The scopes a product's events (reading) and hookline's actions on it (comments, content
/// properties) need.
fn product_scopes(product: ProductType) -> &'static [&'static str] {
    match product {
        ProductType::Jira => &["read:jira-work", "write:jira-work"],
        ProductType::Confluence => &[
            "read:confluence-content.summary",
            "read:confluence-props",
            "write:confluence-props",
            "write:confluence-content",
        ],
    }
}

/// The products the manifest is for: those `app.webhooks` names, or the one `--product` names.
fn products(settings: &Settings, only: Option<&str>) -> anyhow::Result<Vec<ProductType>> {
    let products = settings.app.products();
    let Some(only) = only else {
        return Ok(products);
    };
    match products
        .into_iter()
        .find(|product| product.as_str() == only)
    {
        Some(product) => Ok(vec![product]),
        None => bail!("--product {only}: app.webhooks subscribes to no {only} event"),
    }
}

/// The triggers of the events Forge delivers, one per product, and the app's lifecycle one.
fn triggers(delivery: &Delivery, products: &[ProductType]) -> Vec<Trigger> {
    let mut triggers: Vec<Trigger> = products
        .iter()
        .map(|&product| (product, delivery.trigger_events(product)))
        .filter(|(_, events)| !events.is_empty())
        .map(|(product, events)| Trigger {
            key: format!("{product}-events"),
            endpoint: EVENTS_ENDPOINT.key,
            events,
            filter: (product == ProductType::Jira).then_some(TriggerFilter { ignore_self: true }),
        })
        .collect();
    triggers.push(Trigger {
        key: "lifecycle".into(),
        endpoint: EVENTS_ENDPOINT.key,
        events: vec![INSTALLED, UPGRADED],
        filter: None,
    });
    triggers
}

/// The remote's endpoints; the Custom UI resolver's only when the pages are Forge modules.
fn endpoints(custom_ui: bool) -> Vec<EndpointModule> {
    ENDPOINTS
        .iter()
        .filter(|endpoint| custom_ui || **endpoint != UI)
        .map(|&endpoint| EndpointModule {
            key: endpoint.key,
            remote: REMOTE,
            route: Route {
                path: endpoint.path,
            },
            auth: if endpoint == UI {
                UI_TOKENS
            } else {
                SYSTEM_TOKEN
            },
        })
        .collect()
}

/// The remote: hookline at `app.base_url`, for Forge's calls and the Connect modules' alike.
fn remote(settings: &Settings) -> Remote {
    Remote {
        key: REMOTE,
        base_url: settings.app.base_url.trim_end_matches('/').to_owned(),
        operations: vec!["storage", "compute"],
        storage: Storage { in_scope_eud: true },
        auth: SYSTEM_TOKEN,
    }
}

/// The Forge modules: endpoints, triggers, the token refresh, preUninstall and the pages.
fn modules(trigger: Vec<Trigger>, pages: BTreeMap<&'static str, Vec<PageModule>>) -> Modules {
    Modules {
        endpoint: endpoints(!pages.is_empty()),
        trigger,
        scheduled_trigger: vec![ScheduledTrigger {
            key: "token-refresh",
            endpoint: REFRESH.key,
            interval: "hour",
        }],
        pre_uninstall: vec![PreUninstall {
            key: "pre-uninstall",
            endpoint: UNINSTALL.key,
        }],
        pages,
    }
}

/// The scopes of `products` (their events and hookline's actions, asked for in every mode so
/// that moving events later is not a major version) and the system token's.
fn scopes(products: &[ProductType]) -> BTreeSet<String> {
    let product = products.iter().flat_map(|&p| product_scopes(p).iter());
    std::iter::once(&SYSTEM_TOKEN_SCOPE)
        .chain(product)
        .map(|scope| (*scope).to_owned())
        .collect()
}

/// The manifest of the Forge app `forge.app_id` with hookline at `app.base_url` as its remote,
/// delivering the events `app.webhooks` subscribes for (docs/forge.md §1).
pub fn manifest(settings: &Settings, args: &ForgeManifestArgs) -> anyhow::Result<Built> {
    let app_id = settings.forge.app_ari().context(
        "forge.app_id is not set (HOOKLINE_FORGE__APP_ID, or app_id in the settings file's \
         [forge] section): the manifest's app.id is the Forge app's id, which `forge register` \
         gives",
    )?;
    let products = products(settings, args.product.as_deref())?;
    let delivery = Delivery::plan(settings, &products, args.connect)?;
    let trigger = triggers(&delivery, &products);
    if !args.connect && trigger.len() == 1 {
        bail!(
            "app.webhooks subscribes to no event that Forge sends (docs/forge.md §4 lists them), \
             so the app would have no trigger"
        );
    }
    let custom_ui = settings.forge.custom_ui.unwrap_or(!args.connect);
    let mut warnings = delivery.warnings();
    let mut scopes = scopes(&products);
    let mut connect_modules = Map::new();
    let mut connect = None;
    if args.connect {
        let declared = connect::declare(settings, &products, &delivery, custom_ui)?;
        scopes.extend(declared.scopes);
        warnings.extend(declared.warnings);
        connect_modules = declared.modules;
        connect = Some(declared.app);
    }
    if custom_ui {
        scopes.insert(USER_TOKEN_SCOPE.to_owned());
    }
    let (resources, pages) = match custom_ui {
        true => (
            custom_ui::RESOURCES.to_vec(),
            custom_ui::modules(&products)?,
        ),
        false => (Vec::new(), BTreeMap::new()),
    };
    let runtime = Runtime {
        name: args.runtime.clone(),
    };
    let manifest = Manifest {
        app: App {
            id: app_id,
            runtime,
            connect,
        },
        remotes: vec![remote(settings)],
        resources,
        modules: modules(trigger, pages),
        connect_modules,
        permissions: Permissions {
            scopes: scopes.into_iter().collect(),
        },
    };
    Ok(Built { manifest, warnings })
}

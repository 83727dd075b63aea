//! `hookline forge manifest`: the `manifest.yml` of the Forge app whose remote hookline is
//! (docs/forge.md): its endpoints, the triggers of the subscribed events, the hourly token
//! refresh, the preUninstall call and the scopes, from the settings. Checked against Atlassian's
//! `@forge/manifest` validator by `cli/tests/forge_manifest.rs`.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use common::config::{Settings, CONFIG_FILE_ENV};
use common::forge::events::{forge_event_types, EVENTS, INSTALLED, UPGRADED};
use common::forge::{Endpoint, ENDPOINTS, EVENTS as EVENTS_ENDPOINT, REFRESH, UNINSTALL};
use common::tenant::ProductType;
use serde::Serialize;

use crate::cli::ForgeManifestArgs;

/// The remote's key in the manifest.
pub const REMOTE: &str = "hookline";

/// Every app needs `read:app-system-token` for the system token sent with each call.
const SYSTEM_TOKEN_SCOPE: &str = "read:app-system-token";

/// The system token, sent with every call (FORGE.md §3).
const SYSTEM_TOKEN: Auth = Auth {
    app_system_token: Enabled { enabled: true },
};

/// A Forge app's manifest, as much of it as hookline declares. Later: `app.connect` and
/// `connectModules` for Connect on Forge.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub app: App,
    pub remotes: Vec<Remote>,
    pub modules: Modules,
    pub permissions: Permissions,
}

#[derive(Debug, Serialize)]
pub struct App {
    /// The app's ARI (`forge.app_id`).
    pub id: String,
    /// Required by Forge even when every module is on the remote.
    pub runtime: Runtime,
}

#[derive(Debug, Serialize)]
pub struct Runtime {
    pub name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Remote {
    pub key: &'static str,
    pub base_url: String,
    /// `compute` and `storage`: hookline processes end-user content and keeps it (queued
    /// events, the effect ledger, the dead-letter queue) in its own database and broker.
    pub operations: Vec<&'static str>,
    pub storage: Storage,
    pub auth: Auth,
}

/// What a remote with `storage` keeps: end-user data (Forge requires the declaration).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    #[serde(rename = "inScopeEUD")]
    pub in_scope_eud: bool,
}

/// Which tokens Forge sends: the app system token only (no user token).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    pub app_system_token: Enabled,
}

#[derive(Debug, Serialize)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Modules {
    pub endpoint: Vec<EndpointModule>,
    pub trigger: Vec<Trigger>,
    pub scheduled_trigger: Vec<ScheduledTrigger>,
    pub pre_uninstall: Vec<PreUninstall>,
}

#[derive(Debug, Serialize)]
pub struct EndpointModule {
    pub key: &'static str,
    pub remote: &'static str,
    pub route: Route,
    pub auth: Auth,
}

#[derive(Debug, Serialize)]
pub struct Route {
    pub path: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Trigger {
    pub key: String,
    pub endpoint: &'static str,
    pub events: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<TriggerFilter>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerFilter {
    /// Events hookline's own calls caused (its comments) must not trigger it again. Forge
    /// filters only Jira events so: `@forge/manifest` refuses it on any other trigger.
    pub ignore_self: bool,
}

#[derive(Debug, Serialize)]
pub struct ScheduledTrigger {
    pub key: &'static str,
    pub endpoint: &'static str,
    pub interval: &'static str,
}

#[derive(Debug, Serialize)]
pub struct PreUninstall {
    pub key: &'static str,
    pub endpoint: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Permissions {
    /// Sorted, without duplicates.
    pub scopes: Vec<&'static str>,
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

/// The Forge event types of the events `app.webhooks` subscribes for in `product`, in the
/// order of [`EVENTS`], each once.
fn product_events(settings: &Settings, product: ProductType) -> Vec<&'static str> {
    let subscribed = |forge: &&str| {
        settings
            .app
            .events(product)
            .any(|event| forge_event_types(product, event).contains(forge))
    };
    EVENTS
        .iter()
        .map(|(forge, _, _)| *forge)
        .filter(subscribed)
        .collect()
}

/// The entries of `app.webhooks` that no Forge event stands for (left out of the triggers).
pub fn unmapped_webhooks(settings: &Settings) -> Vec<&str> {
    settings
        .app
        .webhooks
        .iter()
        .filter(|webhook| {
            let Some((product, event)) = webhook.split_once(':') else {
                return true;
            };
            ProductType::parse(product).map_or(true, |p| forge_event_types(p, event).is_empty())
        })
        .map(String::as_str)
        .collect()
}

/// The manifest of the Forge app `forge.app_id` with hookline at `app.base_url` as its remote,
/// triggered by the events `app.webhooks` subscribes for.
pub fn manifest(settings: &Settings, runtime: &str) -> anyhow::Result<Manifest> {
    let app_id = settings.forge.app_ari().context(
        "forge.app_id is not set (HOOKLINE_FORGE__APP_ID, or app_id in the settings file's \
         [forge] section): the manifest's app.id is the Forge app's id, which `forge register` \
         gives",
    )?;
    let endpoint = ENDPOINTS
        .iter()
        .map(|&Endpoint { key, path }| EndpointModule {
            key,
            remote: REMOTE,
            route: Route { path },
            auth: SYSTEM_TOKEN,
        })
        .collect();
    let mut trigger = Vec::new();
    let mut scopes = BTreeSet::from([SYSTEM_TOKEN_SCOPE]);
    for product in [ProductType::Jira, ProductType::Confluence] {
        let events = product_events(settings, product);
        if events.is_empty() {
            continue;
        }
        scopes.extend(product_scopes(product));
        trigger.push(Trigger {
            key: format!("{product}-events"),
            endpoint: EVENTS_ENDPOINT.key,
            events,
            filter: (product == ProductType::Jira).then_some(TriggerFilter { ignore_self: true }),
        });
    }
    if trigger.is_empty() {
        bail!(
            "app.webhooks subscribes to no event that Forge sends (docs/forge.md §4 lists them), \
             so the app would have no trigger"
        );
    }
    trigger.push(Trigger {
        key: "lifecycle".into(),
        endpoint: EVENTS_ENDPOINT.key,
        events: vec![INSTALLED, UPGRADED],
        filter: None,
    });
    Ok(Manifest {
        app: App {
            id: app_id,
            runtime: Runtime {
                name: runtime.to_owned(),
            },
        },
        remotes: vec![Remote {
            key: REMOTE,
            base_url: settings.app.base_url.trim_end_matches('/').to_owned(),
            operations: vec!["storage", "compute"],
            storage: Storage { in_scope_eud: true },
            auth: SYSTEM_TOKEN,
        }],
        modules: Modules {
            endpoint,
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
        },
        permissions: Permissions {
            scopes: scopes.into_iter().collect(),
        },
    })
}

/// The comment the manifest starts with: where it came from and how it is deployed.
fn header(config: Option<&Path>) -> String {
    let file = config
        .map(|path| path.display().to_string())
        .or_else(|| std::env::var(CONFIG_FILE_ENV).ok());
    let source = match file {
        Some(file) => format!("the defaults, the settings file {file} and HOOKLINE_* variables"),
        None => "the defaults and HOOKLINE_* variables (no settings file)".to_owned(),
    };
    format!(
        "# Generated by `hookline forge manifest` from {source}:\n\
         # forge.app_id is app.id, app.base_url the remote's baseUrl, and app.webhooks the\n\
         # triggers' events and the scopes. Change those settings and generate it again.\n\
         #\n\
         # Deploy it with Atlassian's forge CLI (hookline does not run it): save it as\n\
         # manifest.yml in the Forge app's directory, then\n\
         #   forge deploy --environment production\n\
         #   forge install --environment production --site <site>.atlassian.net --product jira\n\
         # (and --product confluence on a Confluence site). New endpoints or scopes make a\n\
         # major version, which each site's admin must approve.\n"
    )
}

/// `hookline forge manifest`: prints the manifest on standard output.
pub fn run_manifest(config: Option<&Path>, args: &ForgeManifestArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let manifest = manifest(&settings, &args.runtime)?;
    for webhook in unmapped_webhooks(&settings) {
        eprintln!(
            "warning: app.webhooks entry {webhook:?} has no Forge event; no trigger sends it"
        );
    }
    if !manifest.remotes[0].base_url.starts_with("https://") {
        eprintln!(
            "warning: app.base_url is {}: Forge calls remotes over HTTPS at a public address; \
             set app.base_url to hookline's public URL before deploying",
            manifest.remotes[0].base_url
        );
    }
    let yaml = yaml_serde::to_string(&manifest).context("writing the manifest as YAML")?;
    print!("{}{yaml}", header(config));
    Ok(ExitCode::SUCCESS)
}

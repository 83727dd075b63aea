//! The manifest's shape, as much of it as hookline declares, serialized as Forge names it.
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::connect::ConnectApp;
use super::custom_ui::{PageModule, Resource};

/// A Forge app's manifest, as much of it as hookline declares.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub app: App,
    pub remotes: Vec<Remote>,
    /// The Custom UI bundles of the pages, when they are Forge modules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    pub modules: Modules,
    /// The Connect descriptor's modules under product-prefixed names (`--connect`).
    #[serde(rename = "connectModules", skip_serializing_if = "Map::is_empty")]
    pub connect_modules: Map<String, Value>,
    pub permissions: Permissions,
}

#[derive(Debug, Serialize)]
pub struct App {
    /// The app's ARI (`forge.app_id`).
    pub id: String,
    /// Required by Forge even when every module is on the remote.
    pub runtime: Runtime,
    /// The Connect app this Forge app carries (`--connect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<ConnectApp>,
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

/// Which tokens Forge sends: the app system token always; the user's own token only to the
/// Custom UI resolver, whose admin check asks the product about the user as the user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    pub app_system_token: Enabled,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_user_token: Option<Enabled>,
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
    /// The pages' Custom UI modules by module type (`jira:adminPage`, ...).
    #[serde(flatten)]
    pub pages: BTreeMap<&'static str, Vec<PageModule>>,
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
    pub scopes: Vec<String>,
}

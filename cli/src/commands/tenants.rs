//! `hookline tenants list|show|disable|enable|pause|resume|link|calls|purge`. Secrets are never
//! printed.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use common::forge::CloudId;
use common::ledger::LedgerStatus;
use common::tenant::{Protocol, Tenant, TenantState};

use super::admin::{client_key_arg, Admin};
use super::table::{self, or_dash};
use crate::cli::{CallsWith, TenantsCommand};

/// The window of `tenants show`'s recent activity.
const RECENT_HOURS: i64 = 24;

pub async fn run(config: Option<&Path>, command: TenantsCommand) -> anyhow::Result<ExitCode> {
    let admin = Admin::open(config).await?;
    match command {
        TenantsCommand::List => list(&admin).await,
        TenantsCommand::Show { client_key } => show(&admin, &client_key).await,
        TenantsCommand::Disable { client_key } => {
            set_state(&admin, &client_key, TenantState::Disabled).await
        }
        TenantsCommand::Enable { client_key } => {
            set_state(&admin, &client_key, TenantState::Enabled).await
        }
        TenantsCommand::Pause { client_key } => pause(&admin, &client_key).await,
        TenantsCommand::Resume { client_key } => resume(&admin, &client_key).await,
        TenantsCommand::Link {
            client_key,
            cloud_id,
        } => link(&admin, &client_key, &cloud_id).await,
        TenantsCommand::Calls { client_key, with } => calls(&admin, &client_key, with).await,
        TenantsCommand::Purge { client_key, yes } => purge(&admin, &client_key, yes).await,
    }
}

async fn list(admin: &Admin) -> anyhow::Result<ExitCode> {
    let tenants = admin.tenants()?.list().await.context("listing tenants")?;
    if tenants.is_empty() {
        println!("no tenants");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            vec![
                t.client_key.to_string(),
                t.product_type.to_string(),
                protocols(t).to_owned(),
                state(t),
                t.base_url.clone(),
                table::time(&t.installed_at),
            ]
        })
        .collect();
    table::print(
        &[
            "CLIENT KEY",
            "PRODUCT",
            "PROTOCOL",
            "STATE",
            "BASE URL",
            "INSTALLED AT",
        ],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

async fn show(admin: &Admin, client_key: &str) -> anyhow::Result<ExitCode> {
    let tenant = admin.tenant(&admin.tenants()?, client_key).await?;
    let rules = admin
        .rules()
        .list(&tenant.client_key)
        .await
        .context("listing the tenant's rules")?;
    let enabled = rules.iter().filter(|r| r.spec.enabled).count();
    let ledger = admin.ledger();
    let since = Utc::now() - chrono::Duration::hours(RECENT_HOURS);
    let recent = ledger
        .status_counts(&tenant.client_key, Some(since))
        .await
        .context("counting the tenant's ledger rows")?;
    let total = ledger
        .status_counts(&tenant.client_key, None)
        .await
        .context("counting the tenant's ledger rows")?;
    let held = admin
        .held()
        .count(&tenant.client_key)
        .await
        .context("counting the tenant's held events")?;
    let mut pairs = tenant_fields(&tenant);
    pairs.push(("paused", paused(&tenant, held)));
    pairs.push(("rules", format!("{} ({enabled} enabled)", rules.len())));
    pairs.push(("activity (24 h)", activity(&recent)));
    pairs.push(("activity (all)", activity(&total)));
    table::fields(&pairs);
    Ok(ExitCode::SUCCESS)
}

/// The lifecycle state, and `(paused)` when it is.
fn state(t: &Tenant) -> String {
    match t.is_paused() {
        true => format!("{} (paused)", t.state),
        false => t.state.to_string(),
    }
}

/// `since 2026-12-03 10:00:00 UTC, 12 event(s) held`, or `no` (with the held events still
/// being released, if any).
fn paused(t: &Tenant, held: u64) -> String {
    match (t.paused_at, held) {
        (Some(since), held) => format!("since {}, {held} event(s) held", table::time(&since)),
        (None, 0) => "no".to_owned(),
        (None, held) => format!("no ({held} held event(s) being released)"),
    }
}

/// How the tenant is known: `connect`, `forge` or `connect+forge` (a Connect app on Forge).
fn protocols(t: &Tenant) -> &'static str {
    match (t.has_connect(), t.forge.is_some()) {
        (true, true) => "connect+forge",
        (false, true) => "forge",
        _ => "connect",
    }
}

/// How the worker calls the tenant, and whether that was chosen or is the default.
fn calls_with(t: &Tenant) -> String {
    let how = t.calls_with().as_str();
    match t.calls_with {
        Some(_) => how.to_owned(),
        None => format!("{how} (auto)"),
    }
}

/// Every field of the tenant but its secrets (the Forge system token: only its expiry).
fn tenant_fields(t: &Tenant) -> Vec<(&'static str, String)> {
    let forge = t.forge.as_ref();
    vec![
        ("clientKey", t.client_key.to_string()),
        ("product", t.product_type.to_string()),
        ("protocol", protocols(t).to_owned()),
        ("callsWith", calls_with(t)),
        ("state", t.state.to_string()),
        ("baseUrl", t.base_url.clone()),
        ("displayUrl", or_dash(t.display_url.as_ref())),
        ("appKey", t.app_key.clone()),
        ("description", or_dash(t.description.as_ref())),
        ("installationId", or_dash(t.installation_id.as_ref())),
        ("oauthClientId", or_dash(t.oauth_client_id.as_ref())),
        (
            "serviceEntitlementNumber",
            or_dash(t.service_entitlement_number.as_ref()),
        ),
        ("serverVersion", or_dash(t.server_version.as_ref())),
        ("pluginsVersion", or_dash(t.plugins_version.as_ref())),
        ("installedAt", table::time(&t.installed_at)),
        ("enabledAt", or_dash(t.enabled_at.as_ref().map(table::time))),
        (
            "disabledAt",
            or_dash(t.disabled_at.as_ref().map(table::time)),
        ),
        (
            "uninstalledAt",
            or_dash(t.uninstalled_at.as_ref().map(table::time)),
        ),
        (
            "forge.installationId",
            or_dash(forge.map(|f| f.installation_id.to_string()).as_ref()),
        ),
        (
            "forge.cloudId",
            or_dash(forge.map(|f| f.cloud_id.to_string()).as_ref()),
        ),
        ("forge.apiBaseUrl", or_dash(forge.map(|f| &f.api_base_url))),
        (
            "forge.systemToken",
            or_dash(
                forge
                    .and_then(|f| f.token.as_ref())
                    .map(|token| format!("expires {}", table::time(&token.expires_at())))
                    .as_ref(),
            ),
        ),
        ("updatedAt", table::time(&t.updated_at)),
    ]
}

/// `done 3, pending 1, dead 0, no_match 2, skipped 0, stale 1`: every status, zeros included.
fn activity(counts: &[(LedgerStatus, u64)]) -> String {
    LedgerStatus::ALL
        .iter()
        .map(|status| {
            let n: u64 = counts
                .iter()
                .filter(|(s, _)| s == status)
                .map(|(_, n)| n)
                .sum();
            format!("{} {n}", status.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn set_state(
    admin: &Admin,
    client_key: &str,
    state: TenantState,
) -> anyhow::Result<ExitCode> {
    let key = client_key_arg(client_key)?;
    let tenant = admin
        .tenants()?
        .set_state(&key, state)
        .await
        .with_context(|| format!("setting tenant {client_key} {state}"))?
        .with_context(|| format!("no tenant with client key {client_key:?}"))?;
    println!("tenant {} is now {}", tenant.client_key, tenant.state);
    if state == TenantState::Disabled {
        println!(
            "its webhooks are refused and its queued events skipped (running processes notice \
             within {} s)",
            admin.settings.database.tenant_cache_ttl_secs
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn pause(admin: &Admin, client_key: &str) -> anyhow::Result<ExitCode> {
    let key = client_key_arg(client_key)?;
    let tenant = admin
        .tenants()?
        .pause(&key)
        .await
        .with_context(|| format!("pausing tenant {client_key}"))?
        .with_context(|| format!("no tenant with client key {client_key:?}"))?;
    let since = tenant
        .paused_at
        .as_ref()
        .map_or_else(String::new, |at| format!(" since {}", table::time(at)));
    println!("tenant {}{since} is paused", tenant.client_key);
    println!(
        "its webhooks are still accepted; running workers hold its events (stored, not acted \
         on) within about a second, until `hookline tenants resume {}`",
        tenant.client_key
    );
    if !tenant.is_active() {
        println!(
            "note: it is {} too: its webhooks are refused and its queued events skipped until \
             it is enabled",
            tenant.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn resume(admin: &Admin, client_key: &str) -> anyhow::Result<ExitCode> {
    let key = client_key_arg(client_key)?;
    let resumed = admin
        .tenants()?
        .resume(&key)
        .await
        .with_context(|| format!("resuming tenant {client_key}"))?
        .with_context(|| format!("no tenant with client key {client_key:?}"))?;
    println!(
        "tenant {} is resumed: running workers act on its events again within about a second",
        resumed.tenant.client_key
    );
    match resumed.held {
        0 => println!("it has no held events"),
        held => println!(
            "its {held} held event(s) go back into the queue in the order they were held \
             (`hookline tenants show {}` counts those left)",
            resumed.tenant.client_key
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn link(admin: &Admin, client_key: &str, cloud_id: &str) -> anyhow::Result<ExitCode> {
    let key = client_key_arg(client_key)?;
    // A site's cloud id is a UUID (its `_edge/tenant_info` says which).
    let cloud = uuid::Uuid::parse_str(cloud_id)
        .map_err(|e| anyhow::anyhow!("--cloud-id {cloud_id:?} is not a cloud id (a UUID): {e}"))
        .and_then(|_| Ok(CloudId::parse(cloud_id)?))?;
    let tenant = admin
        .tenants()?
        .link_site(&key, &cloud)
        .await
        .with_context(|| format!("linking tenant {client_key} to the site {cloud_id}"))?
        .with_context(|| format!("no tenant with client key {client_key:?}"))?;
    match &tenant.forge {
        Some(forge) => println!(
            "tenant {} is now also Forge installation {} (its tenant, rules and history merged in)",
            tenant.client_key, forge.installation_id
        ),
        None => println!(
            "tenant {} is linked to the site {cloud_id}: the first call of its Forge installation joins it",
            tenant.client_key
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn calls(admin: &Admin, client_key: &str, with: CallsWith) -> anyhow::Result<ExitCode> {
    let key = client_key_arg(client_key)?;
    let chosen = match with {
        CallsWith::Connect => Some(Protocol::Connect),
        CallsWith::Forge => Some(Protocol::Forge),
        CallsWith::Auto => None,
    };
    let tenant = admin
        .tenants()?
        .set_calls_with(&key, chosen)
        .await
        .with_context(|| format!("setting how tenant {client_key} is called"))?
        .with_context(|| format!("no tenant with client key {client_key:?}"))?;
    println!(
        "tenant {} is now called with {}",
        tenant.client_key,
        calls_with(&tenant)
    );
    let usable = match tenant.calls_with() {
        Protocol::Connect => tenant.has_connect(),
        Protocol::Forge => tenant.forge.is_some(),
    };
    if !usable {
        println!(
            "warning: the tenant has no {} identity yet; calls go the other way until it has",
            tenant.calls_with().as_str()
        );
    }
    println!(
        "running workers switch within {} s (database.tenant_cache_ttl_secs)",
        admin.settings.database.tenant_cache_ttl_secs
    );
    Ok(ExitCode::SUCCESS)
}

async fn purge(admin: &Admin, client_key: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let store = admin.tenants()?;
    let tenant = admin.tenant(&store, client_key).await?;
    let key = &tenant.client_key;
    if !yes {
        let rules = admin.rules().list(key).await?.len();
        let rows: u64 = admin
            .ledger()
            .status_counts(key, None)
            .await?
            .iter()
            .map(|(_, n)| n)
            .sum();
        let held = admin.held().count(key).await?;
        println!(
            "would delete tenant {key} ({}, {}), {rules} rule(s) and {rows} event ledger row(s)",
            tenant.product_type, tenant.base_url
        );
        if held > 0 {
            println!("and its {held} held event(s), never acted on (it is paused)");
        }
        bail!("refusing to purge tenant {key} without --yes");
    }
    let report = store
        .purge(key)
        .await
        .with_context(|| format!("purging tenant {key}"))?
        .with_context(|| format!("no tenant with client key {client_key:?}"))?;
    println!(
        "purged tenant {key}: deleted {} rule(s) and {} event ledger row(s)",
        report.rules, report.ledger_rows
    );
    if report.held_events > 0 {
        println!("and its {} held event(s)", report.held_events);
    }
    println!("its dead letters, if any, are kept: see `hookline dlq list --client-key {key}`");
    Ok(ExitCode::SUCCESS)
}

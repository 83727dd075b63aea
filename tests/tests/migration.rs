//! Connect on Forge, end to end (docs/migrating-to-forge.md): a live Connect app becomes a
//! Forge app without losing a rule, an event or an effect. In every step each product event
//! makes exactly one comment, counted at the simulated Jira across both ways of calling it
//! (Connect JWTs to the site's baseUrl, the app system token to the installation's
//! apiBaseUrl), and rules and activity stay on the one tenant.
use common::tenant::{ClientKey, ProductType, Protocol, TenantStore};
use simulator::both_ways::{self, BothWays};
use simulator::{ForgeSite, InstallMode, SimTenant};
use tests::{in_both_modes, rules, E2e, Mode};

in_both_modes!(
    a_connect_app_moves_to_forge_with_one_effect_per_event_in_every_step,
    forge_first_then_connect_keeps_one_tenant_and_one_effect,
    reinstalling_either_side_during_the_overlap_keeps_the_tenant,
    uninstalling_forge_during_the_overlap_leaves_connect_working,
    a_connect_tenant_from_before_forge_is_linked_by_its_cloud_id,
);

const CLIENT_KEY: &str = "acme-jira";
const DUPLICATES_SKIPPED: &str = "hookline_duplicate_effects_skipped_total{product=\"jira\"}";

fn triage_rule() -> serde_json::Value {
    rules::jira_comment("jira:issue_created", "Triaged {{ issue.key }}")
}

fn key(raw: &str) -> ClientKey {
    ClientKey::parse(raw).expect("a client key")
}

fn tenants(app: &E2e) -> &TenantStore {
    &app.pipeline().dispatcher.tenants
}

/// The ids of the site's rules, as the worker reads them now.
async fn rule_ids(app: &E2e, tenant: &ClientKey) -> Vec<i64> {
    let rules = &app.pipeline().dispatcher.rules;
    rules.invalidate(tenant).await;
    let rules = rules.list(tenant).await.expect("rules");
    rules.iter().map(|r| r.id).collect()
}

/// The Forge site of the app on "acme" (its installation exists; Forge has not called yet),
/// and the Connect install of the same site, whose `installed` carries that installation.
async fn connect_app_on_forge(app: &E2e) -> (SimTenant, ForgeSite) {
    let site = app
        .forge()
        .install_without_event("acme", ProductType::Jira)
        .expect("a Forge site");
    app.connect
        .set_installation_id(CLIENT_KEY, &site.installation_id);
    let connect = app.install(CLIENT_KEY, ProductType::Jira).await;
    (connect, site)
}

/// Comments at the simulated Jira, whichever way the worker called it.
fn comments(app: &E2e, connect: &SimTenant, site: &ForgeSite) -> (usize, usize) {
    (
        app.product.comments(&connect.client_key).len(),
        app.product.comments(&site.site_key).len(),
    )
}

/// Waits until `expected` comments were made in all (Connect + Forge), then that no more come.
async fn settled_total(app: &E2e, connect: &SimTenant, site: &ForgeSite, expected: usize) {
    let patience = tests::Patience::start();
    loop {
        let (c, f) = comments(app, connect, site);
        if c + f >= expected {
            break;
        }
        let seen = format!("{c} by Connect, {f} by Forge");
        patience
            .pause(&format!("{expected} comments in all"), seen)
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (c, f) = comments(app, connect, site);
    assert_eq!(
        c + f,
        expected,
        "exactly one comment per event: {c} by Connect, {f} by Forge ({:?}); Connect: {}; Forge: {}",
        app.mode,
        app.snapshot_of(&connect.client_key),
        app.snapshot_of(&site.site_key),
    );
}

/// Delivers both ways at once (the two copies race in the worker).
async fn deliver_both(app: &E2e, connect: &SimTenant, site: &ForgeSite, both: BothWays) {
    tokio::join!(
        app.deliver(connect, both.event, &both.connect),
        app.forge_deliver(site, both.forge),
    );
}

fn created(issue: &str, skew_ms: i64) -> BothWays {
    both_ways::jira_issue_created(issue, "From both sides", skew_ms)
}

async fn a_connect_app_moves_to_forge_with_one_effect_per_event_in_every_step(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    // 1. Connect install, with a rule.
    let (connect, site) = connect_app_on_forge(&app).await;
    let rule = app.add_rule(&connect, triage_rule()).await;
    // 2. Webhooks.
    app.deliver(&connect, "jira:issue_created", &created("KAN-1", 0).connect)
        .await;
    settled_total(&app, &connect, &site, 1).await;

    // 3. Forge install of the same site: the same tenant.
    let installed = app.forge().deliver_installed(&site).await.expect("sent");
    assert_eq!(installed.attempts, [200]);
    let tenant = app.forge_tenant(&site).await;
    assert_eq!(
        tenant.client_key,
        key(CLIENT_KEY),
        "one tenant for the site"
    );
    assert!(tenant.has_connect() && tenant.forge.is_some());
    assert_eq!(tenants(&app).list().await.expect("tenants").len(), 1);

    // 4. Both deliveries of each event, the Forge one's timestamp up to 30 minutes off.
    for (issue, skew) in [
        ("KAN-2", 0),
        ("KAN-3", 1_500),
        ("KAN-4", -800),
        ("KAN-5", 1_800_000),
    ] {
        deliver_both(&app, &connect, &site, created(issue, skew)).await;
    }
    settled_total(&app, &connect, &site, 5).await;
    // Each event's second copy found the first one's effect done.
    app.wait_for_metric(DUPLICATES_SKIPPED, 4.0).await;
    // Calls switch to Forge without a restart.
    tenants(&app)
        .set_calls_with(&key(CLIENT_KEY), Some(Protocol::Forge))
        .await
        .expect("stored");
    deliver_both(&app, &connect, &site, created("KAN-6", 20)).await;
    settled_total(&app, &connect, &site, 6).await;
    assert_eq!(
        app.product.comments(&site.site_key).len(),
        1,
        "the last one went through the apiBaseUrl"
    );

    // 5. Connect webhooks removed (the manifest moved them to Forge triggers): Forge only.
    app.forge_deliver(&site, created("KAN-7", 0).forge).await;
    settled_total(&app, &connect, &site, 7).await;

    // 6. Connect uninstalled: the tenant stays, with its rules and history, on Forge alone.
    app.connect
        .uninstall(&connect, InstallMode::Signed)
        .await
        .expect("uninstalled");
    let tenant = app.forge_tenant(&site).await;
    assert!(tenant.is_active() && !tenant.has_connect());
    app.forge_deliver(&site, created("KAN-8", 0).forge).await;
    settled_total(&app, &connect, &site, 8).await;
    assert_eq!(rule_ids(&app, &key(CLIENT_KEY)).await, [rule.id]);
    let done = app
        .ledger_of(&key(CLIENT_KEY))
        .await
        .into_iter()
        .filter(|row| row.rule_id == rule.id && row.status == common::ledger::LedgerStatus::Done)
        .count();
    assert_eq!(
        done, 8,
        "one done ledger row per event, all on the one tenant"
    );
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

async fn forge_first_then_connect_keeps_one_tenant_and_one_effect(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (site, forge_key) = app.forge_install("acme", ProductType::Jira).await;
    let rule = app
        .add_rule_for(&forge_key, ProductType::Jira, triage_rule())
        .await;
    app.forge_deliver(&site, created("KAN-1", 0).forge).await;
    assert_eq!(app.settled_comments_of(&site.site_key, 1).await.len(), 1);

    app.connect
        .set_installation_id(CLIENT_KEY, &site.installation_id);
    let connect = app.install(CLIENT_KEY, ProductType::Jira).await;
    let tenant = app.forge_tenant(&site).await;
    assert_eq!(
        tenant.client_key,
        key(CLIENT_KEY),
        "adopted by the Connect install"
    );
    assert_eq!(tenants(&app).list().await.expect("tenants").len(), 1);
    assert_eq!(rule_ids(&app, &tenant.client_key).await, [rule.id]);

    for (issue, skew) in [("KAN-2", 0), ("KAN-3", 2_000)] {
        deliver_both(&app, &connect, &site, created(issue, skew)).await;
    }
    settled_total(&app, &connect, &site, 3).await;
    let history = app.ledger_of(&tenant.client_key).await;
    assert_eq!(
        history.iter().filter(|row| row.rule_id == rule.id).count(),
        3,
        "the Forge-only history moved with the tenant: {history:?}"
    );
    app.stop().await;
}

async fn reinstalling_either_side_during_the_overlap_keeps_the_tenant(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (connect, site) = connect_app_on_forge(&app).await;
    app.add_rule(&connect, triage_rule()).await;
    app.forge().deliver_installed(&site).await.expect("sent");
    deliver_both(&app, &connect, &site, created("KAN-1", 0)).await;
    settled_total(&app, &connect, &site, 1).await;

    // Connect installs again (a new sharedSecret), then is enabled.
    let connect = app
        .connect
        .reinstall(&connect, InstallMode::Signed)
        .await
        .expect("reinstalled");
    app.enable(&connect).await;
    let tenant = app.forge_tenant(&site).await;
    assert_eq!(tenant.client_key, key(CLIENT_KEY));
    assert!(
        tenant.forge.is_some(),
        "the Forge link survives a Connect reinstall"
    );
    deliver_both(&app, &connect, &site, created("KAN-2", 0)).await;
    settled_total(&app, &connect, &site, 2).await;

    // Forge installs again: a new installation id on the same site.
    let (site, delivery) = app.forge().reinstall(&site).await.expect("reinstalled");
    assert_eq!(delivery.attempts, [200]);
    let tenant = app.forge_tenant(&site).await;
    assert_eq!(
        tenant.client_key,
        key(CLIENT_KEY),
        "not split by a new installation"
    );
    assert_eq!(tenants(&app).list().await.expect("tenants").len(), 1);
    deliver_both(&app, &connect, &site, created("KAN-3", 0)).await;
    settled_total(&app, &connect, &site, 3).await;
    app.stop().await;
}

async fn uninstalling_forge_during_the_overlap_leaves_connect_working(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (connect, site) = connect_app_on_forge(&app).await;
    app.add_rule(&connect, triage_rule()).await;
    app.forge().deliver_installed(&site).await.expect("sent");
    tenants(&app)
        .set_calls_with(&key(CLIENT_KEY), Some(Protocol::Forge))
        .await
        .expect("stored");
    deliver_both(&app, &connect, &site, created("KAN-1", 0)).await;
    settled_total(&app, &connect, &site, 1).await;

    let uninstall = app.forge().uninstall(&site).await.expect("called");
    assert_eq!(uninstall.attempts, [200]);
    let tenant = tenants(&app)
        .find_by_client_key(&key(CLIENT_KEY))
        .await
        .expect("read")
        .expect("kept");
    assert!(tenant.is_active() && tenant.has_connect() && tenant.forge.is_none());
    // Calls fall back to Connect, although they were set to Forge.
    app.deliver(&connect, "jira:issue_created", &created("KAN-2", 0).connect)
        .await;
    settled_total(&app, &connect, &site, 2).await;
    assert_eq!(app.product.comments(&connect.client_key).len(), 1);
    app.stop().await;
}

/// A site installed before the app was on Forge: its `installed` named another installation
/// (or none), so its Forge installation made a tenant of its own; the operator links the two
/// (`hookline tenants link --cloud-id`) and from then on the site is one tenant again.
async fn a_connect_tenant_from_before_forge_is_linked_by_its_cloud_id(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let connect = app.install(CLIENT_KEY, ProductType::Jira).await;
    let rule = app.add_rule(&connect, triage_rule()).await;
    let (site, forge_key) = app.forge_install("acme", ProductType::Jira).await;
    assert_ne!(forge_key, key(CLIENT_KEY), "not linkable by itself");
    // Its Forge events match no rule of the Forge-only tenant: no effect.
    app.forge_deliver(&site, created("KAN-1", 0).forge).await;
    let patience = tests::Patience::start();
    while app.ledger_of(&forge_key).await.is_empty() {
        patience
            .pause("KAN-1 recorded as matching no rule", "")
            .await;
    }

    let cloud = common::forge::CloudId::parse(&site.cloud_id).expect("a cloud id");
    tenants(&app)
        .link_site(&key(CLIENT_KEY), &cloud)
        .await
        .expect("linked")
        .expect("known");
    assert_eq!(app.forge_tenant(&site).await.client_key, key(CLIENT_KEY));
    assert_eq!(tenants(&app).list().await.expect("tenants").len(), 1);
    for (issue, skew) in [("KAN-2", 0), ("KAN-3", 900)] {
        deliver_both(&app, &connect, &site, created(issue, skew)).await;
    }
    settled_total(&app, &connect, &site, 2).await;
    assert_eq!(rule_ids(&app, &key(CLIENT_KEY)).await, [rule.id]);
    app.stop().await;
}

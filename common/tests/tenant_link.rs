//! One tenant per site across Connect and Forge (a Connect app on Forge), against real
//! databases: installs in either order, re-installs of either side, an older Connect tenant
//! merged, one side uninstalled, and how the tenant is called. Every scenario runs on
//! PostgreSQL and on SQLite.
#[allow(dead_code)]
mod support;

use std::time::Duration;

use chrono::Utc;
use common::forge::{CloudId, InstallationId, SystemToken, VerifiedFit};
use common::ledger::{LedgerKey, LedgerStatus, LedgerStore, Receipt};
use common::rules::{RuleSpec, RuleStore};
use common::tenant::{
    ClientKey, InstallPayload, ProductType, Protocol, Tenant, TenantState, TenantStore, Uninstalled,
};
use support::{keyring, Backend, TestDb};

on_both_backends!(
    connect_first_then_forge_is_one_tenant,
    forge_first_then_connect_is_adopted_with_its_rules_ledger_and_token,
    an_older_connect_tenant_absorbs_the_forge_tenant,
    a_connect_reinstall_without_installation_id_keeps_the_link,
    a_forge_reinstall_keeps_the_linked_tenant,
    another_sites_installation_is_never_adopted,
    uninstalling_one_side_keeps_the_other,
    uninstalling_both_sides_in_either_order_ends_uninstalled,
    calls_with_is_stored_and_read_back,
    an_operator_links_an_old_connect_tenant_by_its_cloud_id,
    linking_merges_the_tenant_a_forge_installation_created_first,
    linking_refuses_what_it_cannot_tie,
    a_paused_forge_tenant_stays_paused_with_its_held_events_once_merged,
);

const CLOUD: &str = "11111111-2222-3333-4444-555555555555";
const OTHER_CLOUD: &str = "99999999-2222-3333-4444-555555555555";
const INSTALLATION: &str = "ari:cloud:ecosystem::installation/aaaaaaaa-0000-0000-0000-000000000001";
const REINSTALLATION: &str =
    "ari:cloud:ecosystem::installation/aaaaaaaa-0000-0000-0000-000000000002";
const OTHER_INSTALLATION: &str =
    "ari:cloud:ecosystem::installation/bbbbbbbb-0000-0000-0000-000000000001";
const CLIENT_KEY: &str = "jira-site-a";

struct Site {
    /// Held so the database lives as long as the stores over it.
    _test: TestDb,
    tenants: TenantStore,
    rules: RuleStore,
    ledger: LedgerStore,
}

impl Site {
    async fn new(backend: Backend) -> Self {
        let test = TestDb::new(backend).await;
        let tenants = test.store(keyring(&[("k1", 1)]));
        let rules = RuleStore::new(test.db.clone(), Duration::from_secs(3600));
        let ledger = LedgerStore::new(test.db.clone());
        Self {
            _test: test,
            tenants,
            rules,
            ledger,
        }
    }

    /// The Connect `installed` of the Jira site, with `installation_id` when given.
    async fn connect_install(&self, installation_id: Option<&str>) -> Tenant {
        let mut body = serde_json::json!({
            "key": "hookline",
            "clientKey": CLIENT_KEY,
            "sharedSecret": "connect-secret",
            "baseUrl": "https://site-a.atlassian.net",
            "productType": "jira",
            "description": "Atlassian JIRA at https://site-a.atlassian.net",
            "eventType": "installed",
        });
        if let Some(id) = installation_id {
            body["installationId"] = id.into();
        }
        let payload: InstallPayload = serde_json::from_value(body).expect("an install payload");
        self.tenants.save_install(&payload).await.expect("saved")
    }

    /// A verified Forge call from `installation_id` on `cloud_id`'s Jira, with a token.
    async fn forge_call(&self, installation_id: &str, cloud_id: &str) -> Tenant {
        let fit = VerifiedFit {
            installation_id: InstallationId::parse(installation_id).expect("an installation"),
            cloud_id: CloudId::parse(cloud_id).expect("a cloud id"),
            product: ProductType::Jira,
            api_base_url: format!("https://api.atlassian.com/ex/jira/{cloud_id}"),
            jti: "jti-1".into(),
            expires_at: Utc::now().timestamp() + 60,
            principal: None,
            app_version: Some("1.0.0".into()),
            environment: Some("PRODUCTION".into()),
        };
        let token = SystemToken::received("not-a-jwt-system-token", Utc::now()).expect("a token");
        self.tenants
            .register_forge(&fit, "hookline", Some(&token))
            .await
            .expect("registered")
    }

    async fn add_rule(&self, client_key: &ClientKey, name: &str) {
        let spec: RuleSpec = serde_json::from_value(serde_json::json!({
            "name": name,
            "event": "jira:issue_created",
            "action": { "type": "jira_comment", "template": "seen {{ issue.key }}" },
        }))
        .expect("a rule");
        self.rules.add(client_key, &spec).await.expect("added");
    }

    async fn record_effect(&self, client_key: &ClientKey, delivery: &str) {
        let key = LedgerKey {
            client_key: client_key.clone(),
            delivery_id: delivery.into(),
            rule_id: 1,
        };
        let receipt = Receipt {
            event_id: "event-1",
            event: "jira:issue_created",
            product: ProductType::Jira,
            subject: Some("PROJ-1"),
        };
        self.ledger
            .begin(&key, receipt, Duration::from_secs(60))
            .await
            .expect("claimed");
        self.ledger
            .complete(&key, Some("10001"))
            .await
            .expect("done");
    }

    async fn rule_names(&self, client_key: &ClientKey) -> Vec<String> {
        self.rules.invalidate(client_key).await;
        let rules = self.rules.list(client_key).await.expect("rules");
        rules.iter().map(|r| r.spec.name.clone()).collect()
    }

    async fn done_effects(&self, client_key: &ClientKey) -> u64 {
        let counts = self
            .ledger
            .status_counts(client_key, None)
            .await
            .expect("counts");
        counts
            .iter()
            .filter(|(status, _)| *status == LedgerStatus::Done)
            .map(|(_, n)| n)
            .sum()
    }

    async fn tenant_count(&self) -> usize {
        self.tenants.list().await.expect("list").len()
    }

    async fn by_installation(&self, installation_id: &str) -> Option<Tenant> {
        let id = InstallationId::parse(installation_id).expect("an installation");
        self.tenants
            .find_forge(&id, ProductType::Jira)
            .await
            .expect("found")
    }
}

fn ck(raw: &str) -> ClientKey {
    ClientKey::parse(raw).expect("a client key")
}

fn forge_key() -> ClientKey {
    ck(&format!("forge:{CLOUD}:jira"))
}

async fn connect_first_then_forge_is_one_tenant(backend: Backend) {
    let site = Site::new(backend).await;
    let connect = site.connect_install(Some(INSTALLATION)).await;
    site.add_rule(&connect.client_key, "welcome").await;
    site.record_effect(&connect.client_key, "webhook-1").await;

    let forge = site.forge_call(INSTALLATION, CLOUD).await;
    assert_eq!(
        forge.client_key,
        ck(CLIENT_KEY),
        "the Forge call joins the tenant"
    );
    assert!(
        forge.has_connect() && forge.forge.is_some(),
        "known both ways"
    );
    assert_eq!(site.tenant_count().await, 1);
    assert_eq!(site.rule_names(&forge.client_key).await, ["welcome"]);
    assert_eq!(site.done_effects(&forge.client_key).await, 1);
    let found = site.by_installation(INSTALLATION).await.expect("found");
    assert_eq!(found.client_key, ck(CLIENT_KEY));
    assert_eq!(
        found.calls_with(),
        Protocol::Connect,
        "Connect stays the default"
    );
}

async fn forge_first_then_connect_is_adopted_with_its_rules_ledger_and_token(backend: Backend) {
    let site = Site::new(backend).await;
    let forge = site.forge_call(INSTALLATION, CLOUD).await;
    assert_eq!(forge.client_key, forge_key());
    site.add_rule(&forge.client_key, "from forge").await;
    site.record_effect(&forge.client_key, "forge-event-1").await;

    let tenant = site.connect_install(Some(INSTALLATION)).await;
    assert_eq!(
        tenant.client_key,
        ck(CLIENT_KEY),
        "the Connect key names the tenant"
    );
    assert_eq!(site.tenant_count().await, 1, "adopted, not split");
    assert_eq!(site.rule_names(&tenant.client_key).await, ["from forge"]);
    assert_eq!(site.done_effects(&tenant.client_key).await, 1);
    assert!(site.rule_names(&forge_key()).await.is_empty());
    assert_eq!(
        tenant.state,
        TenantState::Enabled,
        "an active tenant stays active"
    );
    let identity = tenant.forge.as_ref().expect("the Forge identity stays");
    assert_eq!(identity.installation_id.as_str(), INSTALLATION);
    let token = identity
        .token
        .as_ref()
        .expect("the token re-encrypted under the new key");
    assert_eq!(token.expose(), "not-a-jwt-system-token");
    let found = site.by_installation(INSTALLATION).await.expect("found");
    assert_eq!(
        found.client_key,
        ck(CLIENT_KEY),
        "Forge events find the adopted tenant"
    );
}

async fn an_older_connect_tenant_absorbs_the_forge_tenant(backend: Backend) {
    let site = Site::new(backend).await;
    // Installed before the app moved to Forge: no installationId, so nothing links it yet.
    let connect = site.connect_install(None).await;
    site.add_rule(&connect.client_key, "connect rule").await;
    let forge = site.forge_call(INSTALLATION, CLOUD).await;
    assert_eq!(
        forge.client_key,
        forge_key(),
        "not linkable yet: its own tenant"
    );
    site.add_rule(&forge.client_key, "forge rule").await;
    site.record_effect(&forge.client_key, "forge-event-1").await;
    assert_eq!(site.tenant_count().await, 2);

    // The Connect app on Forge installs again, now with the installation id.
    let tenant = site.connect_install(Some(INSTALLATION)).await;
    assert_eq!(
        site.tenant_count().await,
        1,
        "merged into the Connect tenant"
    );
    assert_eq!(
        site.rule_names(&tenant.client_key).await,
        ["connect rule", "forge rule"]
    );
    assert_eq!(site.done_effects(&tenant.client_key).await, 1);
    assert!(tenant.has_connect());
    assert!(tenant
        .forge
        .as_ref()
        .and_then(|f| f.token.as_ref())
        .is_some());
    let found = site.by_installation(INSTALLATION).await.expect("found");
    assert_eq!(found.client_key, ck(CLIENT_KEY));
}

async fn a_paused_forge_tenant_stays_paused_with_its_held_events_once_merged(backend: Backend) {
    let site = Site::new(backend).await;
    let held = common::held::HeldEvents::new(site._test.db.clone());
    site.connect_install(None).await;
    let forge = site.forge_call(INSTALLATION, CLOUD).await;
    site.tenants.pause(&forge.client_key).await.expect("paused");
    let event = common::envelope::EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        tenant: common::tenant::TenantId::Connect(forge.client_key.clone()),
        product: ProductType::Jira,
        event: "jira:issue_created".into(),
        webhook_id: Some("forge-event-1".into()),
        retry: 0,
        flow: None,
        received_at: Utc::now(),
        payload: serde_json::value::RawValue::from_string("{}".into()).expect("json"),
    };
    held.hold(&forge.client_key, &event).await.expect("held");

    let tenant = site.connect_install(Some(INSTALLATION)).await;
    assert_eq!(
        site.tenant_count().await,
        1,
        "merged into the Connect tenant"
    );
    assert!(
        tenant.is_paused(),
        "a pause of either side holds the merged tenant"
    );
    assert_eq!(held.count(&tenant.client_key).await.expect("counts"), 1);
    assert_eq!(held.count(&forge_key()).await.expect("counts"), 0);
}

async fn a_connect_reinstall_without_installation_id_keeps_the_link(backend: Backend) {
    let site = Site::new(backend).await;
    site.connect_install(Some(INSTALLATION)).await;
    site.forge_call(INSTALLATION, CLOUD).await;
    let again = site.connect_install(None).await;
    assert_eq!(again.installation_id.as_deref(), Some(INSTALLATION));
    assert!(again.forge.is_some(), "still known through Forge");
    assert_eq!(site.tenant_count().await, 1);
}

async fn a_forge_reinstall_keeps_the_linked_tenant(backend: Backend) {
    let site = Site::new(backend).await;
    let connect = site.connect_install(Some(INSTALLATION)).await;
    site.add_rule(&connect.client_key, "welcome").await;
    site.forge_call(INSTALLATION, CLOUD).await;
    // Uninstalled and installed again: Forge gives a new installation id.
    let reinstalled = site.forge_call(REINSTALLATION, CLOUD).await;
    assert_eq!(reinstalled.client_key, ck(CLIENT_KEY));
    assert_eq!(site.tenant_count().await, 1);
    assert_eq!(site.rule_names(&reinstalled.client_key).await, ["welcome"]);
    assert!(site.by_installation(REINSTALLATION).await.is_some());
}

async fn another_sites_installation_is_never_adopted(backend: Backend) {
    let site = Site::new(backend).await;
    let other = site.forge_call(OTHER_INSTALLATION, OTHER_CLOUD).await;
    site.add_rule(&other.client_key, "other site").await;
    let connect = site.connect_install(Some(INSTALLATION)).await;
    assert_eq!(site.tenant_count().await, 2, "two sites, two tenants");
    assert!(site.rule_names(&connect.client_key).await.is_empty());
    assert_eq!(site.rule_names(&other.client_key).await, ["other site"]);
    // Nor is a Connect tenant ever merged into another Connect tenant.
    let payload: InstallPayload = serde_json::from_value(serde_json::json!({
        "key": "hookline", "clientKey": "jira-site-b", "sharedSecret": "s",
        "baseUrl": "https://site-b.atlassian.net", "productType": "jira",
        "eventType": "installed", "installationId": INSTALLATION,
    }))
    .expect("a payload");
    site.tenants.save_install(&payload).await.expect("saved");
    assert_eq!(site.tenant_count().await, 3);
    assert_eq!(site.rule_names(&other.client_key).await, ["other site"]);
}

async fn uninstalling_one_side_keeps_the_other(backend: Backend) {
    let site = Site::new(backend).await;
    site.connect_install(Some(INSTALLATION)).await;
    site.forge_call(INSTALLATION, CLOUD).await;
    let key = ck(CLIENT_KEY);

    let outcome = site.tenants.uninstall_side(&key, Protocol::Forge).await;
    let Some(Uninstalled::Side(tenant)) = outcome.expect("stored") else {
        panic!("only the Forge side goes");
    };
    assert!(tenant.is_active() && tenant.has_connect() && tenant.forge.is_none());
    assert!(
        site.by_installation(INSTALLATION).await.is_none(),
        "Forge events refused"
    );

    // Forge comes back (the same installation), then Connect goes.
    site.forge_call(INSTALLATION, CLOUD).await;
    let outcome = site.tenants.uninstall_side(&key, Protocol::Connect).await;
    let Some(Uninstalled::Side(tenant)) = outcome.expect("stored") else {
        panic!("only the Connect side goes");
    };
    assert!(tenant.is_active() && !tenant.has_connect() && tenant.forge.is_some());
    assert_eq!(tenant.calls_with(), Protocol::Forge);
    assert_eq!(site.tenant_count().await, 1);
}

async fn uninstalling_both_sides_in_either_order_ends_uninstalled(backend: Backend) {
    for order in [
        [Protocol::Connect, Protocol::Forge],
        [Protocol::Forge, Protocol::Connect],
    ] {
        let site = Site::new(backend).await;
        site.connect_install(Some(INSTALLATION)).await;
        site.forge_call(INSTALLATION, CLOUD).await;
        let key = ck(CLIENT_KEY);
        site.tenants
            .uninstall_side(&key, order[0])
            .await
            .expect("stored");
        let last = site.tenants.uninstall_side(&key, order[1]).await;
        let Some(Uninstalled::Tenant(tenant)) = last.expect("stored") else {
            panic!("the second uninstall ends the tenant ({order:?})");
        };
        assert_eq!(tenant.state, TenantState::Uninstalled);
        assert_eq!(
            site.tenant_count().await,
            1,
            "kept, with its rules, for a reinstall"
        );
    }
}

async fn calls_with_is_stored_and_read_back(backend: Backend) {
    let site = Site::new(backend).await;
    site.connect_install(Some(INSTALLATION)).await;
    site.forge_call(INSTALLATION, CLOUD).await;
    let key = ck(CLIENT_KEY);
    let tenant = site
        .tenants
        .set_calls_with(&key, Some(Protocol::Forge))
        .await
        .expect("stored")
        .expect("known");
    assert_eq!(tenant.calls_with(), Protocol::Forge);
    let read = site.tenants.find_by_client_key(&key).await.expect("read");
    assert_eq!(read.expect("known").calls_with(), Protocol::Forge);
    let auto = site
        .tenants
        .set_calls_with(&key, None)
        .await
        .expect("stored");
    assert_eq!(auto.expect("known").calls_with(), Protocol::Connect);
    let unknown = site.tenants.set_calls_with(&ck("nobody"), None).await;
    assert!(unknown.expect("no error").is_none());
}

async fn an_operator_links_an_old_connect_tenant_by_its_cloud_id(backend: Backend) {
    let site = Site::new(backend).await;
    let connect = site.connect_install(None).await;
    site.add_rule(&connect.client_key, "welcome").await;
    let cloud = CloudId::parse(CLOUD).expect("a cloud id");
    let linked = site
        .tenants
        .link_site(&connect.client_key, &cloud)
        .await
        .expect("linked")
        .expect("known");
    assert!(linked.forge.is_none(), "no installation has called yet");

    let joined = site.forge_call(INSTALLATION, CLOUD).await;
    assert_eq!(
        joined.client_key,
        ck(CLIENT_KEY),
        "the first Forge call joins it"
    );
    assert_eq!(
        joined.state, connect.state,
        "its state is not changed by the link"
    );
    assert_eq!(site.tenant_count().await, 1);
    assert_eq!(site.rule_names(&joined.client_key).await, ["welcome"]);
}

async fn linking_merges_the_tenant_a_forge_installation_created_first(backend: Backend) {
    let site = Site::new(backend).await;
    let connect = site.connect_install(None).await;
    site.add_rule(&connect.client_key, "connect rule").await;
    let forge = site.forge_call(INSTALLATION, CLOUD).await;
    site.record_effect(&forge.client_key, "forge-event-1").await;
    assert_eq!(site.tenant_count().await, 2);

    let cloud = CloudId::parse(CLOUD).expect("a cloud id");
    let linked = site
        .tenants
        .link_site(&connect.client_key, &cloud)
        .await
        .expect("linked")
        .expect("known");
    assert_eq!(site.tenant_count().await, 1);
    assert!(linked.has_connect() && linked.forge.is_some());
    assert_eq!(site.done_effects(&linked.client_key).await, 1);
    let found = site.by_installation(INSTALLATION).await.expect("found");
    assert_eq!(found.client_key, ck(CLIENT_KEY));
}

async fn linking_refuses_what_it_cannot_tie(backend: Backend) {
    let site = Site::new(backend).await;
    let forge = site.forge_call(INSTALLATION, CLOUD).await;
    let cloud = CloudId::parse(CLOUD).expect("a cloud id");
    let error = site.tenants.link_site(&forge.client_key, &cloud).await;
    assert!(
        error.is_err_and(|e| e.to_string().contains("not a Connect tenant")),
        "a Forge-only tenant has nothing to link"
    );
    let connect = site.connect_install(Some(INSTALLATION)).await;
    let other = CloudId::parse(OTHER_CLOUD).expect("a cloud id");
    let error = site.tenants.link_site(&connect.client_key, &other).await;
    assert!(
        error.is_err_and(|e| e.to_string().contains("tied to the site")),
        "a tenant tied to one site is not moved to another"
    );
    let unknown = site.tenants.link_site(&ck("nobody"), &cloud).await;
    assert!(unknown.expect("no error").is_none());
}

//! The tenant store against real databases: every scenario runs on PostgreSQL and on SQLite.
mod support;

use common::connect::verify::TenantLookup;
use common::connect::SharedSecret;
use common::entities::tenants;
use common::tenant::{ClientKey, ProductType, StoreError, TenantState};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use support::{install_payload, keyring, Backend, TestDb};

on_both_backends!(
    save_install_then_find,
    reinstall_updates_the_secret_and_invalidates_the_cache,
    two_installs_of_one_client_key_leave_one_row,
    set_state_records_each_transition_and_its_timestamp,
    an_unknown_tenant_is_none_and_a_miss_is_not_cached,
    an_install_without_a_secret_is_refused,
    the_secret_column_never_holds_the_plaintext,
    a_ciphertext_copied_from_another_tenant_fails_to_decrypt,
    reencrypt_all_moves_every_row_to_the_new_active_key,
    list_returns_every_tenant_ordered_by_client_key,
    migrations_can_go_down_and_up_again,
);

fn ck(raw: &str) -> ClientKey {
    ClientKey::parse(raw).unwrap()
}

async fn row(test: &TestDb, client_key: &str) -> tenants::Model {
    tenants::Entity::find()
        .filter(tenants::Column::ClientKey.eq(client_key))
        .one(&test.db)
        .await
        .unwrap()
        .expect("row exists")
}

async fn save_install_then_find(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    let saved = store
        .save_install(&install_payload("site-a", "secret-a"))
        .await
        .unwrap();

    let found = store.find_by_client_key(&ck("site-a")).await.unwrap();
    let found = found.expect("installed tenant is found");
    assert_eq!(found, saved);
    assert_eq!(found.shared_secret, Some(SharedSecret::new("secret-a")));
    assert_eq!(found.app_key, "hookline");
    assert_eq!(found.base_url, "https://site-a.atlassian.net/wiki");
    assert_eq!(found.base_path(), "/wiki");
    assert_eq!(
        found.display_url.as_deref(),
        Some("https://site-a.example.com/wiki")
    );
    assert_eq!(found.product_type, ProductType::Confluence);
    assert_eq!(found.description.as_deref(), Some("Atlassian Confluence"));
    assert_eq!(found.oauth_client_id.as_deref(), Some("oauth-site-a"));
    assert_eq!(
        found.installation_id.as_deref(),
        Some("ari:cloud:ecosystem::installation/site-a")
    );
    assert_eq!(found.service_entitlement_number.as_deref(), Some("SEN-42"));
    assert_eq!(found.server_version.as_deref(), Some("6452"));
    assert_eq!(found.plugins_version.as_deref(), Some("1001.0.0.SNAPSHOT"));
    assert_eq!(found.state, TenantState::Installed);
    assert!(found.is_active());
    assert_eq!(found.enabled_at, None);
    assert_eq!(found.uninstalled_at, None);
    assert!(found.installed_at <= chrono::Utc::now());

    let via_lookup = store.find_tenant("site-a").await.unwrap();
    assert_eq!(via_lookup, Some(saved));
    assert_eq!(
        row(&test, "site-a").await.public_key.as_deref(),
        Some("MIIBIjANBgkq")
    );
}

async fn reinstall_updates_the_secret_and_invalidates_the_cache(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    store
        .save_install(&install_payload("site-a", "old-secret"))
        .await
        .unwrap();
    let cached = store.find_by_client_key(&ck("site-a")).await.unwrap();
    assert_eq!(
        cached
            .unwrap()
            .shared_secret
            .as_ref()
            .expect("a Connect secret")
            .expose(),
        "old-secret"
    );

    let mut payload = install_payload("site-a", "new-secret");
    payload.base_url = "https://renamed.atlassian.net/wiki".into();
    store.save_install(&payload).await.unwrap();

    let found = store.find_by_client_key(&ck("site-a")).await.unwrap();
    let found = found.unwrap();
    assert_eq!(found.shared_secret, Some(SharedSecret::new("new-secret")));
    assert_eq!(found.base_url, "https://renamed.atlassian.net/wiki");
}

async fn two_installs_of_one_client_key_leave_one_row(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    let first = store
        .save_install(&install_payload("site-a", "one"))
        .await
        .unwrap();
    let second = store
        .save_install(&install_payload("site-a", "two"))
        .await
        .unwrap();

    let rows = tenants::Entity::find()
        .filter(tenants::Column::ClientKey.eq("site-a"))
        .count(&test.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    assert!(second.installed_at >= first.installed_at);
    let original = row(&test, "site-a").await;
    assert!(original.created_at <= first.installed_at);
}

async fn set_state_records_each_transition_and_its_timestamp(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    let key = ck("site-a");
    store
        .save_install(&install_payload("site-a", "s"))
        .await
        .unwrap();
    store.find_by_client_key(&key).await.unwrap();

    let enabled = store.set_state(&key, TenantState::Enabled).await.unwrap();
    let enabled = enabled.expect("known tenant");
    assert_eq!(enabled.state, TenantState::Enabled);
    assert!(enabled.is_active());
    let enabled_at = enabled.enabled_at.expect("enabled_at set");

    let disabled = store.set_state(&key, TenantState::Disabled).await.unwrap();
    let disabled = disabled.unwrap();
    assert_eq!(disabled.state, TenantState::Disabled);
    assert!(!disabled.is_active());
    assert!(disabled.disabled_at.expect("disabled_at set") >= enabled_at);
    assert_eq!(disabled.enabled_at, Some(enabled_at));

    let gone = store
        .set_state(&key, TenantState::Uninstalled)
        .await
        .unwrap();
    let gone = gone.unwrap();
    assert_eq!(gone.state, TenantState::Uninstalled);
    assert!(gone.uninstalled_at.is_some());
    let cached = store.find_by_client_key(&key).await.unwrap().unwrap();
    assert_eq!(
        cached.state,
        TenantState::Uninstalled,
        "cache was invalidated"
    );

    let back = store
        .save_install(&install_payload("site-a", "s2"))
        .await
        .unwrap();
    assert_eq!(back.state, TenantState::Installed);
    assert_eq!(back.uninstalled_at, None);
    assert_eq!(back.enabled_at, Some(enabled_at));
    assert!(back.installed_at >= gone.uninstalled_at.unwrap());
}

async fn an_unknown_tenant_is_none_and_a_miss_is_not_cached(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    let key = ck("site-new");
    assert_eq!(store.find_by_client_key(&key).await.unwrap(), None);
    assert_eq!(store.find_tenant("site-new").await.unwrap(), None);
    assert_eq!(store.find_tenant("").await.unwrap(), None);
    let state = store.set_state(&key, TenantState::Enabled).await.unwrap();
    assert_eq!(state, None);

    store
        .save_install(&install_payload("site-new", "s"))
        .await
        .unwrap();
    assert!(store.find_by_client_key(&key).await.unwrap().is_some());
}

async fn an_install_without_a_secret_is_refused(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    let mut payload = install_payload("site-a", "s");
    payload.shared_secret = None;
    let err = store.save_install(&payload).await.unwrap_err();
    assert!(matches!(err, StoreError::MissingSecret), "{err}");
    assert_eq!(store.find_by_client_key(&ck("site-a")).await.unwrap(), None);
}

async fn the_secret_column_never_holds_the_plaintext(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    store
        .save_install(&install_payload("site-a", "plain-secret-value"))
        .await
        .unwrap();
    let stored = row(&test, "site-a").await.shared_secret;
    assert!(stored.starts_with("k1:"), "{stored}");
    assert!(!stored.contains("plain-secret-value"));
}

async fn a_ciphertext_copied_from_another_tenant_fails_to_decrypt(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    for (client_key, secret) in [("site-a", "secret-a"), ("site-b", "secret-b")] {
        let payload = install_payload(client_key, secret);
        store.save_install(&payload).await.unwrap();
    }
    let a_secret = row(&test, "site-a").await.shared_secret;
    let mut b: tenants::ActiveModel = row(&test, "site-b").await.into();
    b.shared_secret = Set(a_secret);
    b.update(&test.db).await.unwrap();
    store.invalidate(&ck("site-b")).await;

    let err = store.find_by_client_key(&ck("site-b")).await.unwrap_err();
    assert!(matches!(err, StoreError::Crypto(_)), "{err}");
    assert!(!err.to_string().contains("secret-a"));
    let a = store.find_by_client_key(&ck("site-a")).await.unwrap();
    assert_eq!(
        a.unwrap()
            .shared_secret
            .as_ref()
            .expect("a Connect secret")
            .expose(),
        "secret-a"
    );
}

async fn reencrypt_all_moves_every_row_to_the_new_active_key(backend: Backend) {
    let test = TestDb::new(backend).await;
    let old_store = test.store(keyring(&[("k1", 1)]));
    let sites = ["site-a", "site-b", "site-c"];
    for site in sites {
        let payload = install_payload(site, &format!("secret-{site}"));
        old_store.save_install(&payload).await.unwrap();
    }

    let rotated = test.store(keyring(&[("k2", 2), ("k1", 1)]));
    assert_eq!(rotated.reencrypt_all().await.unwrap(), sites.len());
    assert_eq!(rotated.reencrypt_all().await.unwrap(), 0);

    let only_new_key = test.store(keyring(&[("k2", 2)]));
    for site in sites {
        assert!(row(&test, site).await.shared_secret.starts_with("k2:"));
        let tenant = only_new_key.find_by_client_key(&ck(site)).await.unwrap();
        let secret = tenant.unwrap().shared_secret.expect("a Connect secret");
        assert_eq!(secret.expose(), format!("secret-{site}"));
    }
}

async fn list_returns_every_tenant_ordered_by_client_key(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    for site in ["site-c", "site-a", "site-b"] {
        store
            .save_install(&install_payload(site, "s"))
            .await
            .unwrap();
    }
    store
        .set_state(&ck("site-b"), TenantState::Uninstalled)
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.client_key.to_string())
        .collect();
    assert_eq!(listed, ["site-a", "site-b", "site-c"]);
}

async fn migrations_can_go_down_and_up_again(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    store
        .save_install(&install_payload("site-a", "s"))
        .await
        .unwrap();

    Migrator::down(&test.db, None).await.unwrap();
    assert!(tenants::Entity::find().all(&test.db).await.is_err());
    Migrator::up(&test.db, None).await.unwrap();

    store.invalidate(&ck("site-a")).await;
    assert_eq!(store.find_by_client_key(&ck("site-a")).await.unwrap(), None);
    store
        .save_install(&install_payload("site-a", "s"))
        .await
        .unwrap();
    assert_eq!(store.list().await.unwrap().len(), 1);
}

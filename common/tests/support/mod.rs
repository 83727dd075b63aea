//! Test databases on both backends, keyrings and install payloads for the store tests.
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::crypto::Keyring;
use common::tenant::{InstallPayload, TenantStore};
use common::testing::TestDatabase;
use sea_orm::DatabaseConnection;

/// Generates `postgres::<scenario>` and `sqlite::<scenario>` tests for each scenario function.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Backend::Postgres).await
            })*
        }
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Backend::Sqlite).await
            })*
        }
    };
}

/// Which database a scenario runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A migrated, empty database that is deleted when this value drops, even on panic.
pub struct TestDb {
    // Declared first so the pool is dropped before the database it points at.
    pub db: DatabaseConnection,
    _database: TestDatabase,
}

impl TestDb {
    /// A fresh database on `backend`, with every migration applied.
    pub async fn new(backend: Backend) -> Self {
        let database = match backend {
            Backend::Postgres => TestDatabase::postgres().await,
            Backend::Sqlite => TestDatabase::sqlite(),
        };
        let db = common::db::connect(&database.url)
            .await
            .expect("connect to the test database");
        common::db::migrate(&db).await.expect("migrations apply");
        Self {
            db,
            _database: database,
        }
    }

    /// A store over this database with `keyring` and a long cache TTL.
    pub fn store(&self, keyring: Keyring) -> TenantStore {
        TenantStore::new(
            self.db.clone(),
            Arc::new(keyring),
            Duration::from_secs(3600),
        )
    }
}

/// A keyring from `(key id, seed)` pairs; the first is active. Equal seeds give equal keys.
pub fn keyring(keys: &[(&str, u8)]) -> Keyring {
    let spec: Vec<String> = keys
        .iter()
        .map(|(kid, seed)| format!("{kid}={}", STANDARD.encode([*seed; 32])))
        .collect();
    Keyring::from_spec(&spec.join(",")).expect("valid key spec")
}

/// An `installed` body for a Confluence site.
pub fn install_payload(client_key: &str, secret: &str) -> InstallPayload {
    serde_json::from_value(serde_json::json!({
        "key": "hookline",
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": format!("https://{client_key}.atlassian.net/wiki"),
        "displayUrl": format!("https://{client_key}.example.com/wiki"),
        "productType": "confluence",
        "description": "Atlassian Confluence",
        "eventType": "installed",
        "oauthClientId": format!("oauth-{client_key}"),
        "installationId": format!("ari:cloud:ecosystem::installation/{client_key}"),
        "serviceEntitlementNumber": "SEN-42",
        "serverVersion": "6452",
        "pluginsVersion": "1001.0.0.SNAPSHOT",
        "publicKey": "MIIBIjANBgkq",
        "unknownField": true,
    }))
    .expect("install payload parses")
}

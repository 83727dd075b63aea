//! Pausing and resuming a tenant (docs/operations.md, "Pausing a tenant"). A paused tenant's
//! webhooks are still accepted and queued; the workers hold its events
//! ([`crate::held::HeldEvents`]) instead of acting on them, and release them into the queue
//! once it is resumed. Unlike `disabled`, nothing is refused or skipped.
//!
//! Workers do not read `paused_at` through the tenant cache: each reads every paused key with
//! one query ([`TenantStore::paused_client_keys`]) at most once a second, so a pause or a
//! resume takes effect in every worker within about a second.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{StoreError, TenantStore};
use crate::entities::tenants::{Column, Entity as Tenants};
use crate::held::HeldEvents;
use crate::tenant::{ClientKey, Tenant};

/// A tenant just resumed, and how many of its events wait to be released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The tenant, no longer paused.
    pub tenant: Tenant,
    /// Its held events, which the workers now release into the queue in order.
    pub held: u64,
}

impl TenantStore {
    /// Pauses the tenant `client_key`: from now on its events are held, not acted on.
    /// Idempotent: a paused tenant stays paused since it was first paused. `None` for an
    /// unknown client key.
    pub async fn pause(&self, client_key: &ClientKey) -> Result<Option<Tenant>, StoreError> {
        let now = Utc::now();
        Tenants::update_many()
            .col_expr(Column::PausedAt, Expr::value(Some(now)))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .filter(Column::PausedAt.is_null())
            .exec(&self.db)
            .await?;
        self.invalidate(client_key).await;
        self.load(client_key).await
    }

    /// Resumes the tenant `client_key`: its events are acted on again, and its held events
    /// are released into the queue by the workers. Idempotent. `None` for an unknown client
    /// key.
    pub async fn resume(&self, client_key: &ClientKey) -> Result<Option<Resumed>, StoreError> {
        Tenants::update_many()
            .col_expr(
                Column::PausedAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .filter(Column::PausedAt.is_not_null())
            .exec(&self.db)
            .await?;
        self.invalidate(client_key).await;
        let Some(tenant) = self.load(client_key).await? else {
            return Ok(None);
        };
        let held = HeldEvents::new(self.db.clone()).count(client_key).await?;
        Ok(Some(Resumed { tenant, held }))
    }

    /// Since when the tenant `client_key` is paused, read from the database (never the cache,
    /// which another process's pause does not reach): `None` when it is not paused, or unknown.
    pub async fn paused_since(
        &self,
        client_key: &ClientKey,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let paused_at: Option<Option<DateTime<Utc>>> = Tenants::find()
            .select_only()
            .column(Column::PausedAt)
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(paused_at.flatten())
    }

    /// The client key of every paused tenant, read from the database (never the cache): one
    /// query, whatever the number of tenants.
    pub async fn paused_client_keys(&self) -> Result<HashSet<ClientKey>, StoreError> {
        let keys: Vec<String> = Tenants::find()
            .select_only()
            .column(Column::ClientKey)
            .filter(Column::PausedAt.is_not_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        // A stored key is valid (it was checked on the way in); the odd one out names no
        // tenant an event could be dispatched to anyway.
        Ok(keys
            .iter()
            .filter_map(|key| ClientKey::parse(key).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::crypto::Keyring;
    use crate::envelope::EventEnvelope;
    use crate::held::HeldEvents;
    use crate::tenant::{ClientKey, InstallPayload, TenantStore};

    const KEY: &str = "k1=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    fn install(client_key: &str) -> InstallPayload {
        serde_json::from_value(serde_json::json!({
            "key": "hookline", "clientKey": client_key, "sharedSecret": "s3cret",
            "baseUrl": format!("https://{client_key}.atlassian.net"),
            "productType": "jira", "eventType": "installed"
        }))
        .unwrap()
    }

    fn event(client_key: &ClientKey) -> EventEnvelope {
        crate::envelope::test_event(client_key, None, "{}")
    }

    async fn store() -> (TenantStore, HeldEvents) {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let keyring = Arc::new(Keyring::from_spec(KEY).unwrap());
        let store = TenantStore::new(db.clone(), keyring, Duration::from_secs(60));
        (store, HeldEvents::new(db))
    }

    #[tokio::test]
    async fn pause_and_resume_are_idempotent_and_resume_counts_the_held_events() {
        let (store, held) = store().await;
        let a = ClientKey::parse("site-a").unwrap();
        let b = ClientKey::parse("site-b").unwrap();
        store.save_install(&install("site-a")).await.unwrap();
        store.save_install(&install("site-b")).await.unwrap();
        // Cached before the pause: the pause must show through the cache.
        assert!(!store
            .find_by_client_key(&a)
            .await
            .unwrap()
            .unwrap()
            .is_paused());

        let paused = store.pause(&a).await.unwrap().expect("a known tenant");
        let since = paused.paused_at.expect("paused");
        assert_eq!(store.paused_since(&a).await.unwrap(), Some(since));
        assert_eq!(store.paused_since(&b).await.unwrap(), None);
        assert!(store
            .find_by_client_key(&a)
            .await
            .unwrap()
            .unwrap()
            .is_paused());
        tokio::time::sleep(Duration::from_millis(5)).await;
        let again = store.pause(&a).await.unwrap().expect("a known tenant");
        assert_eq!(again.paused_at, Some(since), "paused since the first pause");
        assert_eq!(
            store.paused_client_keys().await.unwrap(),
            [a.clone()].into_iter().collect()
        );

        held.hold(&a, &event(&a)).await.unwrap();
        held.hold(&a, &event(&a)).await.unwrap();
        held.hold(&b, &event(&b)).await.unwrap();
        assert_eq!(held.releasable().await.unwrap(), vec![b.clone()]);

        let resumed = store.resume(&a).await.unwrap().expect("a known tenant");
        assert!(!resumed.tenant.is_paused());
        assert_eq!(resumed.held, 2);
        assert!(!store
            .find_by_client_key(&a)
            .await
            .unwrap()
            .unwrap()
            .is_paused());
        assert!(store.paused_client_keys().await.unwrap().is_empty());
        assert_eq!(held.releasable().await.unwrap(), vec![a.clone(), b]);
        let again = store.resume(&a).await.unwrap().expect("a known tenant");
        assert_eq!(again.held, 2, "resuming twice changes nothing");

        let nobody = ClientKey::parse("nobody").unwrap();
        assert_eq!(store.pause(&nobody).await.unwrap(), None);
        assert_eq!(store.resume(&nobody).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_reinstall_keeps_the_pause() {
        let (store, _) = store().await;
        let a = ClientKey::parse("site-a").unwrap();
        store.save_install(&install("site-a")).await.unwrap();
        store.pause(&a).await.unwrap();
        let reinstalled = store.save_install(&install("site-a")).await.unwrap();
        assert!(reinstalled.is_paused());
    }
}

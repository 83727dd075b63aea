//! Deleting a tenant for good, with everything hookline keeps about it.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::{StoreError, TenantStore};
use crate::entities::{event_ledger, held_events, rules, subject_order, tenants};
use crate::tenant::ClientKey;

/// What [`TenantStore::purge`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    /// The tenant's rules.
    pub rules: u64,
    /// The tenant's event ledger rows.
    pub ledger_rows: u64,
    /// The tenant's held events (it was paused).
    pub held_events: u64,
}

impl TenantStore {
    /// Deletes the tenant, its rules, its ledger rows, its held events and its order guards
    /// (the last event applied per subject) in one transaction;
    /// `None` (and nothing deleted) for an unknown client key.
    ///
    /// Processes that cached the tenant's rules keep them until their cache entry expires.
    pub async fn purge(&self, client_key: &ClientKey) -> Result<Option<PurgeReport>, StoreError> {
        let key = client_key.as_str();
        let txn = self.db.begin().await?;
        let tenant = tenants::Entity::delete_many()
            .filter(tenants::Column::ClientKey.eq(key))
            .exec(&txn)
            .await?;
        if tenant.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let rules = rules::Entity::delete_many()
            .filter(rules::Column::ClientKey.eq(key))
            .exec(&txn)
            .await?;
        let ledger = event_ledger::Entity::delete_many()
            .filter(event_ledger::Column::ClientKey.eq(key))
            .exec(&txn)
            .await?;
        let held = held_events::Entity::delete_many()
            .filter(held_events::Column::ClientKey.eq(key))
            .exec(&txn)
            .await?;
        subject_order::Entity::delete_many()
            .filter(subject_order::Column::ClientKey.eq(key))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.cache.invalidate(client_key).await;
        Ok(Some(PurgeReport {
            rules: rules.rows_affected,
            ledger_rows: ledger.rows_affected,
            held_events: held.rows_affected,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sea_orm::{EntityTrait, PaginatorTrait};

    use crate::crypto::Keyring;
    use crate::ledger::{LedgerKey, LedgerStore, Receipt};
    use crate::rules::{RuleSpec, RuleStore};
    use crate::tenant::{ClientKey, InstallPayload, ProductType, TenantStore};

    const KEY: &str = "k1=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    fn install(client_key: &str) -> InstallPayload {
        serde_json::from_value(serde_json::json!({
            "key": "hookline", "clientKey": client_key, "sharedSecret": "s3cret",
            "baseUrl": format!("https://{client_key}.atlassian.net"),
            "productType": "jira", "eventType": "installed"
        }))
        .unwrap()
    }

    async fn seed(db: &sea_orm::DatabaseConnection, store: &TenantStore, client_key: &str) {
        let ck = ClientKey::parse(client_key).unwrap();
        store.save_install(&install(client_key)).await.unwrap();
        let spec: RuleSpec = serde_json::from_value(serde_json::json!({
            "name": "r", "event": "jira:issue_created",
            "action": {"type": "jira_label", "label": "x"}}))
        .unwrap();
        let rules = RuleStore::new(db.clone(), Duration::from_secs(1));
        rules.add(&ck, &spec).await.unwrap();
        rules.add(&ck, &spec).await.unwrap();
        let ledger = LedgerStore::new(db.clone());
        for delivery in ["d1", "d2", "d3"] {
            let key = LedgerKey {
                client_key: ck.clone(),
                delivery_id: delivery.into(),
                rule_id: 1,
            };
            let receipt = Receipt {
                event_id: "e",
                event: "jira:issue_created",
                product: ProductType::Jira,
                subject: None,
            };
            ledger.record_no_match(&key, receipt).await.unwrap();
        }
    }

    #[tokio::test]
    async fn purge_deletes_the_tenant_its_rules_and_ledger_rows_and_nothing_else() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let keyring = Arc::new(Keyring::from_spec(KEY).unwrap());
        let store = TenantStore::new(db.clone(), keyring, Duration::from_secs(60));
        seed(&db, &store, "gone").await;
        seed(&db, &store, "kept").await;
        let gone = ClientKey::parse("gone").unwrap();
        assert!(store.find_by_client_key(&gone).await.unwrap().is_some());
        let held = crate::held::HeldEvents::new(db.clone());
        let event = crate::envelope::test_event(&gone, None, "{}");
        held.hold(&gone, &event).await.unwrap();

        let report = store.purge(&gone).await.unwrap().expect("a known tenant");
        assert_eq!((report.rules, report.ledger_rows), (2, 3));
        assert_eq!(report.held_events, 1);
        assert_eq!(held.count(&gone).await.unwrap(), 0);
        assert!(store.find_by_client_key(&gone).await.unwrap().is_none());
        assert_eq!(
            crate::entities::tenants::Entity::find()
                .count(&db)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            crate::entities::rules::Entity::find()
                .count(&db)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            crate::entities::event_ledger::Entity::find()
                .count(&db)
                .await
                .unwrap(),
            3
        );
        assert_eq!(store.purge(&gone).await.unwrap(), None);
    }
}

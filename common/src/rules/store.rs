//! The rule store: every query takes the tenant first; reads are cached per tenant and the
//! cache entry is dropped on every change (other processes see changes within the TTL).
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use moka::future::Cache;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::{Rule, RuleSpec};
use crate::entities::rules::{self, Column, Entity as Rules};
use crate::tenant::ClientKey;

/// Why rules could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RuleStoreError {
    /// The database failed.
    #[error("rule database error: {0}")]
    Database(#[from] DbErr),
    /// A stored row does not parse (written by a newer version, or edited by hand).
    #[error("rule {id} is unreadable: {reason}")]
    InvalidRow {
        /// The row id.
        id: i64,
        /// What is wrong.
        reason: String,
    },
}

/// Loads and saves rules, partitioned by clientKey.
#[derive(Clone)]
pub struct RuleStore {
    db: DatabaseConnection,
    cache: Cache<String, Arc<Vec<Rule>>>,
}

impl RuleStore {
    /// A store whose per-tenant cache entries live for `cache_ttl`.
    pub fn new(db: DatabaseConnection, cache_ttl: Duration) -> Self {
        Self {
            db,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(cache_ttl)
                .build(),
        }
    }

    /// Every rule of the tenant (enabled or not), ordered by id, from the cache if present.
    pub async fn list(&self, client_key: &ClientKey) -> Result<Arc<Vec<Rule>>, RuleStoreError> {
        if let Some(rules) = self.cache.get(client_key.as_str()).await {
            return Ok(rules);
        }
        let rows = Rules::find()
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?;
        let rules = Arc::new(
            rows.into_iter()
                .map(to_rule)
                .collect::<Result<Vec<_>, _>>()?,
        );
        self.cache
            .insert(client_key.as_str().to_owned(), rules.clone())
            .await;
        Ok(rules)
    }

    /// The tenant's enabled rules for `event`.
    pub async fn for_event(
        &self,
        client_key: &ClientKey,
        event: &str,
    ) -> Result<Vec<Rule>, RuleStoreError> {
        let rules = self.list(client_key).await?;
        Ok(rules
            .iter()
            .filter(|r| r.spec.enabled && r.spec.event == event)
            .cloned()
            .collect())
    }

    /// Adds a rule (already validated by the caller) and returns it.
    pub async fn add(
        &self,
        client_key: &ClientKey,
        spec: &RuleSpec,
    ) -> Result<Rule, RuleStoreError> {
        let now = Utc::now();
        let row = rules::ActiveModel {
            id: NotSet,
            client_key: Set(client_key.as_str().to_owned()),
            name: Set(spec.name.clone()),
            event: Set(spec.event.clone()),
            conditions: Set(serde_json::to_string(&spec.conditions).unwrap_or_else(|_| "[]".into())),
            action: Set(serde_json::to_string(&spec.action).unwrap_or_default()),
            enabled: Set(spec.enabled),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let id = Rules::insert(row).exec(&self.db).await?.last_insert_id;
        self.invalidate(client_key).await;
        Ok(Rule {
            id,
            client_key: client_key.clone(),
            spec: spec.clone(),
            created_at: now,
            updated_at: now,
        })
    }

    /// Enables or disables a rule of the tenant; false if it has no such rule.
    pub async fn set_enabled(
        &self,
        client_key: &ClientKey,
        id: i64,
        enabled: bool,
    ) -> Result<bool, RuleStoreError> {
        let result = Rules::update_many()
            .col_expr(Column::Enabled, enabled.into())
            .col_expr(Column::UpdatedAt, Utc::now().into())
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        self.invalidate(client_key).await;
        Ok(result.rows_affected > 0)
    }

    /// Removes a rule of the tenant; false if it has no such rule.
    pub async fn remove(&self, client_key: &ClientKey, id: i64) -> Result<bool, RuleStoreError> {
        let result = Rules::delete_many()
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        self.invalidate(client_key).await;
        Ok(result.rows_affected > 0)
    }

    /// Drops the tenant's cached rules.
    pub async fn invalidate(&self, client_key: &ClientKey) {
        self.cache.invalidate(client_key.as_str()).await;
    }
}

fn to_rule(row: rules::Model) -> Result<Rule, RuleStoreError> {
    let invalid = |reason: String| RuleStoreError::InvalidRow { id: row.id, reason };
    let client_key = ClientKey::parse(&row.client_key).map_err(|e| invalid(e.to_string()))?;
    let conditions =
        serde_json::from_str(&row.conditions).map_err(|e| invalid(format!("conditions: {e}")))?;
    let action = serde_json::from_str(&row.action).map_err(|e| invalid(format!("action: {e}")))?;
    Ok(Rule {
        id: row.id,
        client_key,
        spec: RuleSpec {
            name: row.name,
            event: row.event,
            conditions,
            action,
            enabled: row.enabled,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

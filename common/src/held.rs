//! Events held for paused tenants (docs/operations.md, "Pausing a tenant").
//!
//! While a tenant is paused its webhooks are still accepted and queued; a worker that takes
//! one of its events stores it here (durable once [`HeldEvents::hold`] returns) and only then
//! acknowledges it. Once the tenant is resumed, a releaser moves its events back into the
//! queue in the order they were held: it claims a batch ([`HeldEvents::take_batch`]),
//! publishes each event, and deletes only those whose publish was confirmed
//! ([`HeldEvents::released`]). A releaser that dies between a confirm and the delete leaves the
//! rows to be published again once its claim expires: a duplicate message, which the ledger
//! keeps from repeating an effect.
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::held_events::{self, Column, Entity as Held};
use crate::entities::tenants;
use crate::envelope::{EventEnvelope, QueueMessage};
use crate::tenant::ClientKey;

/// The held events of every tenant; cheap to clone (a connection pool).
#[derive(Clone)]
pub struct HeldEvents {
    db: DatabaseConnection,
}

/// One held event of a claimed batch.
#[derive(Debug)]
pub struct HeldEvent {
    /// Its row (the order it was held in).
    pub id: i64,
    /// The event, or why its stored message cannot be read.
    pub event: Result<EventEnvelope, String>,
}

/// A batch of one tenant's held events, claimed by one releaser until its lease ends.
#[derive(Debug)]
pub struct Claim {
    token: String,
    /// The tenant.
    pub client_key: ClientKey,
    /// Its oldest unclaimed held events, in the order they were held.
    pub events: Vec<HeldEvent>,
}

impl HeldEvents {
    /// The held events in `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Stores `event` of the tenant `client_key` (the tenant record's key, whichever identity
    /// named it in the event); durable once this returns.
    pub async fn hold(&self, client_key: &ClientKey, event: &EventEnvelope) -> Result<(), DbErr> {
        let unencodable = |error: &dyn std::fmt::Display| {
            DbErr::Custom(format!("the event could not be encoded: {error}"))
        };
        let message = QueueMessage::encode_event(event).map_err(|e| unencodable(&e))?;
        let message = String::from_utf8(message).map_err(|e| unencodable(&e))?;
        let row = held_events::ActiveModel {
            id: NotSet,
            client_key: Set(client_key.as_str().to_owned()),
            event_id: Set(event.event_id.to_string()),
            message: Set(message),
            held_at: Set(Utc::now()),
            claimed_by: Set(None),
            claimed_until: Set(None),
        };
        Held::insert(row).exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// How many events of `client_key` are held.
    pub async fn count(&self, client_key: &ClientKey) -> Result<u64, DbErr> {
        Held::find()
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .count(&self.db)
            .await
    }

    /// How many events are held, all tenants together.
    pub async fn total(&self) -> Result<u64, DbErr> {
        Held::find().count(&self.db).await
    }

    /// The tenants with held events that are not paused (any more): their events are to be
    /// released. Cheap when nothing is held (one look at the table), and otherwise one index
    /// probe per tenant, however many events are held. (A tenant's held events go with it:
    /// `purge` deletes them, an adopted Forge tenant's move to its new key.)
    pub async fn releasable(&self) -> Result<Vec<ClientKey>, DbErr> {
        let any: Option<i64> = Held::find()
            .select_only()
            .column(Column::Id)
            .limit(1)
            .into_tuple()
            .one(&self.db)
            .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let held_for_tenant = Query::select()
            .expr(Expr::val(1))
            .from(Held)
            .and_where(
                Expr::col((Held, Column::ClientKey))
                    .equals((tenants::Entity, tenants::Column::ClientKey)),
            )
            .to_owned();
        let keys: Vec<String> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::ClientKey)
            .filter(tenants::Column::PausedAt.is_null())
            .filter(Expr::exists(held_for_tenant))
            .order_by_asc(tenants::Column::ClientKey)
            .into_tuple()
            .all(&self.db)
            .await?;
        // Every key was a tenant's when it was held.
        Ok(keys
            .iter()
            .filter_map(|key| ClientKey::parse(key).ok())
            .collect())
    }

    /// Claims up to `limit` of `client_key`'s oldest held events for `lease`; none while
    /// another releaser's claim on the tenant's events holds (so one releaser at a time moves
    /// a tenant's events, in order). Each row is claimed by one releaser only: the claim is
    /// one conditional update.
    pub async fn take_batch(
        &self,
        client_key: &ClientKey,
        limit: u64,
        lease: Duration,
    ) -> Result<Claim, DbErr> {
        let now = Utc::now();
        let until = now
            + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::minutes(1));
        let token = uuid::Uuid::new_v4().simple().to_string();
        let key = client_key.as_str();
        let unclaimed = || {
            Condition::any()
                .add(Column::ClaimedUntil.is_null())
                .add(Column::ClaimedUntil.lt(now))
        };
        let oldest = Query::select()
            .column(Column::Id)
            .from(Held)
            .and_where(Column::ClientKey.eq(key))
            .cond_where(unclaimed())
            .order_by(Column::Id, Order::Asc)
            .limit(limit)
            .to_owned();
        let claimed_elsewhere = Query::select()
            .column(Column::Id)
            .from(Held)
            .and_where(Column::ClientKey.eq(key))
            .and_where(Column::ClaimedUntil.gte(now))
            .to_owned();
        Held::update_many()
            .col_expr(Column::ClaimedBy, Expr::value(Some(token.clone())))
            .col_expr(Column::ClaimedUntil, Expr::value(Some(until)))
            .filter(Column::ClientKey.eq(key))
            .filter(unclaimed())
            .filter(Column::Id.in_subquery(oldest))
            .filter(Expr::exists(claimed_elsewhere).not())
            .exec(&self.db)
            .await?;
        let rows = Held::find()
            .filter(Column::ClaimedBy.eq(token.as_str()))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?;
        let events = rows
            .into_iter()
            .map(|row| HeldEvent {
                id: row.id,
                event: match QueueMessage::from_bytes(row.message.as_bytes()) {
                    Ok(QueueMessage::EventV1(event)) => Ok(event),
                    Err(error) => Err(error.to_string()),
                },
            })
            .collect();
        Ok(Claim {
            token,
            client_key: client_key.clone(),
            events,
        })
    }

    /// Deletes the events `ids` of `claim`, once each is back in the queue (its publish
    /// confirmed). Returns how many were deleted: fewer when the claim expired and another
    /// releaser took them over.
    pub async fn released(&self, claim: &Claim, ids: &[i64]) -> Result<u64, DbErr> {
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = Held::delete_many()
            .filter(Column::ClaimedBy.eq(claim.token.as_str()))
            .filter(Column::Id.is_in(ids.iter().copied()))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }

    /// Lets go of what is left of `claim` (its publishing failed): the next pass takes it
    /// again. Returns how many events it let go of.
    pub async fn give_back(&self, claim: &Claim) -> Result<u64, DbErr> {
        let result = Held::update_many()
            .col_expr(Column::ClaimedBy, Expr::value(Option::<String>::None))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(Column::ClaimedBy.eq(claim.token.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantId;

    async fn held() -> HeldEvents {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        HeldEvents::new(db)
    }

    fn ck(raw: &str) -> ClientKey {
        ClientKey::parse(raw).unwrap()
    }

    fn event(issue: &str) -> EventEnvelope {
        let payload = format!(r#"{{"issue": {{"key": "{issue}"}}}}"#);
        crate::envelope::test_event(&ck("site-a"), Some(format!("wh-{issue}")), &payload)
    }

    fn issues(claim: &Claim) -> Vec<String> {
        claim
            .events
            .iter()
            .map(|held| {
                let event = held.event.as_ref().expect("readable");
                event.webhook_id.clone().unwrap_or_default()
            })
            .collect()
    }

    #[tokio::test]
    async fn held_events_come_back_in_order_byte_for_byte_and_only_once_released() {
        let held = held().await;
        let (a, b) = (ck("site-a"), ck("site-b"));
        for issue in ["KAN-1", "KAN-2", "KAN-3"] {
            held.hold(&a, &event(issue)).await.unwrap();
        }
        held.hold(&b, &event("OTHER-1")).await.unwrap();
        assert_eq!(held.count(&a).await.unwrap(), 3);
        assert_eq!(held.count(&b).await.unwrap(), 1);
        assert_eq!(held.total().await.unwrap(), 4);

        let claim = held
            .take_batch(&a, 2, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(issues(&claim), ["wh-KAN-1", "wh-KAN-2"]);
        let first = claim.events[0].event.as_ref().unwrap();
        assert_eq!(first.payload.get(), r#"{"issue": {"key": "KAN-1"}}"#);
        assert_eq!(first.tenant, TenantId::Connect(ck("site-a")));

        let ids: Vec<i64> = claim.events.iter().map(|e| e.id).collect();
        assert_eq!(held.released(&claim, &ids[..1]).await.unwrap(), 1);
        assert_eq!(held.give_back(&claim).await.unwrap(), 1);
        assert_eq!(held.count(&a).await.unwrap(), 2);
        let claim = held
            .take_batch(&a, 200, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(issues(&claim), ["wh-KAN-2", "wh-KAN-3"], "in order");
    }

    #[tokio::test]
    async fn a_live_claim_keeps_other_releasers_off_the_tenant_until_it_expires() {
        let held = held().await;
        let a = ck("site-a");
        for issue in ["KAN-1", "KAN-2", "KAN-3"] {
            held.hold(&a, &event(issue)).await.unwrap();
        }
        let first = held
            .take_batch(&a, 1, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(first.events.len(), 1);
        let second = held
            .take_batch(&a, 10, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(second.events.is_empty(), "one releaser at a time");
        assert_eq!(
            held.released(&second, &[first.events[0].id]).await.unwrap(),
            0,
            "a releaser deletes only what it claimed"
        );

        let died = held.take_batch(&ck("site-b"), 1, Duration::ZERO).await;
        assert!(died.unwrap().events.is_empty());
        held.give_back(&first).await.unwrap();
        let expired = held.take_batch(&a, 10, Duration::ZERO).await.unwrap();
        assert_eq!(expired.events.len(), 3);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let taken_over = held
            .take_batch(&a, 10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            issues(&taken_over),
            ["wh-KAN-1", "wh-KAN-2", "wh-KAN-3"],
            "an expired claim is taken over"
        );
    }
}

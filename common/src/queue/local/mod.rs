//! The embedded mode's queue: a table in the same database, so an event the ingress answered
//! 2xx for survives a restart. The semantics match the RabbitMQ path: at-least-once delivery
//! (a lease that expires redelivers), retries with delays, dead letters. One process consumes
//! it (the embedded mode runs a single worker loop). Accepted and settled events are written
//! by group commit ([`crate::batch`]): concurrent webhooks share one transaction and one fsync.
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use tokio::sync::Notify;

use super::lane::{Lane, LanePublisher};
use super::PublishError;
use crate::batch::{Batch, Combiner, CommitStats, WriteBatcher};
use crate::entities::local_queue::{self, Column, Entity as Queue};
use crate::envelope::{EventEnvelope, QueueMessage};

/// A message handed to the consumer.
#[derive(Debug, Clone)]
pub struct LocalDelivery {
    /// The row id (to settle it).
    pub id: i64,
    /// The message, or why it could not be read.
    pub message: Result<QueueMessage, String>,
    /// hookline's attempt (1 for the first delivery).
    pub attempt: u32,
    /// The lane it was claimed from.
    pub lane: Lane,
}

/// The table-backed queue; cheap to clone.
#[derive(Clone)]
pub struct LocalQueue {
    db: DatabaseConnection,
    writes: WriteBatcher,
    /// Accepted events: one multi-row insert per batch.
    inserts: Combiner<local_queue::ActiveModel>,
    /// Settled events: one delete per batch.
    deletes: Combiner<i64>,
    arrived: Arc<Notify>,
}

impl LocalQueue {
    /// A queue in `db` (migrated) with a group commit of its own (the default limits).
    pub fn new(db: DatabaseConnection) -> Self {
        let writes = WriteBatcher::new(db.clone(), Default::default());
        Self::with_batcher(db, writes)
    }

    /// A queue in `db` whose inserts and deletes share `writes`' batches (with the ledger's
    /// writes, in the embedded pipeline: [`crate::stores::Stores::writes`]).
    pub fn with_batcher(db: DatabaseConnection, writes: WriteBatcher) -> Self {
        Self {
            inserts: Combiner::new(writes.clone(), insert_rows),
            deletes: Combiner::new(writes.clone(), delete_ids),
            db,
            writes,
            arrived: Arc::new(Notify::new()),
        }
    }

    /// How much the group commit batched since it started (every user of the batcher).
    pub fn commit_stats(&self) -> CommitStats {
        self.writes.stats()
    }

    /// Appends an event to `lane`; durable (committed with whatever else was written at that
    /// moment) once this returns.
    pub async fn push(&self, event: &EventEnvelope, lane: Lane) -> Result<(), DbErr> {
        let now = Utc::now();
        let unencodable = |error: &dyn std::fmt::Display| {
            DbErr::Custom(format!("the event could not be encoded: {error}"))
        };
        let message = QueueMessage::encode_event(event).map_err(|e| unencodable(&e))?;
        let message = String::from_utf8(message).map_err(|e| unencodable(&e))?;
        let row = local_queue::ActiveModel {
            id: NotSet,
            routing_key: Set(event.routing_key()),
            lane: Set(lane.index()),
            message: Set(message),
            attempt: Set(1),
            available_at: Set(now),
            claimed_until: Set(None),
            dead: Set(false),
            dead_reason: Set(None),
            created_at: Set(now),
        };
        self.inserts.write(row).await?;
        self.arrived.notify_one();
        Ok(())
    }

    /// Leases up to `limit` ready messages of `lane` for `lease` (after which they are
    /// redelivered).
    pub async fn claim(
        &self,
        lane: Lane,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<LocalDelivery>, DbErr> {
        let now = Utc::now();
        let ready = Condition::all()
            .add(Column::Lane.eq(lane.index()))
            .add(Column::Dead.eq(false))
            .add(Column::AvailableAt.lte(now))
            .add(
                Condition::any()
                    .add(Column::ClaimedUntil.is_null())
                    .add(Column::ClaimedUntil.lt(now)),
            );
        let until = now
            + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
        // One statement: the oldest ready rows, leased only if still ready (a guard against a
        // second claimer).
        let oldest = Queue::find()
            .select_only()
            .column(Column::Id)
            .filter(ready.clone())
            .order_by_asc(Column::Id)
            .limit(limit)
            .into_query();
        let mut rows = Queue::update_many()
            .col_expr(Column::ClaimedUntil, Expr::value(Some(until)))
            .filter(Column::Id.in_subquery(oldest))
            .filter(ready)
            .exec_with_returning(&self.db)
            .await?;
        rows.sort_unstable_by_key(|row| row.id);
        let claimed = rows
            .into_iter()
            .map(|row| LocalDelivery {
                id: row.id,
                message: QueueMessage::from_bytes(row.message.as_bytes())
                    .map_err(|e| e.to_string()),
                attempt: u32::try_from(row.attempt).unwrap_or(1).max(1),
                lane,
            })
            .collect();
        Ok(claimed)
    }

    /// Takes back every lease: what a consumer that died (SIGKILL, OOM) still held becomes
    /// ready at once instead of after its lease. Only for a starting consumer that knows it is
    /// the only one (the embedded mode holds a lock on its data directory). Returns how many
    /// messages were released.
    pub async fn release_claims(&self) -> Result<u64, DbErr> {
        let released = Queue::update_many()
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(Column::Dead.eq(false))
            .filter(Column::ClaimedUntil.is_not_null())
            .exec(&self.db)
            .await?;
        if released.rows_affected > 0 {
            self.arrived.notify_one();
        }
        Ok(released.rows_affected)
    }

    /// Removes a processed message (committed with whatever else was written at that moment).
    pub async fn ack(&self, id: i64) -> Result<(), DbErr> {
        self.deletes.write(id).await
    }

    /// Makes a message available again after `delay`, as attempt `attempt`.
    pub async fn retry(&self, id: i64, attempt: u32, delay: Duration) -> Result<(), DbErr> {
        let at = Utc::now()
            + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::seconds(60));
        Queue::update_many()
            .col_expr(
                Column::Attempt,
                Expr::value(i32::try_from(attempt).unwrap_or(i32::MAX)),
            )
            .col_expr(Column::AvailableAt, Expr::value(at))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(drop)
    }

    /// Moves a message to `lane`, ready now, as the same attempt (a tenant out of budget
    /// leaves the main lane).
    pub async fn move_to(&self, id: i64, lane: Lane) -> Result<(), DbErr> {
        Queue::update_many()
            .col_expr(Column::Lane, Expr::value(lane.index()))
            .col_expr(Column::AvailableAt, Expr::value(Utc::now()))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        self.arrived.notify_one();
        Ok(())
    }

    /// Dead-letters a message with its reason (kept for inspection and replay).
    pub async fn dead_letter(&self, id: i64, reason: &str) -> Result<(), DbErr> {
        Queue::update_many()
            .col_expr(Column::Dead, Expr::value(true))
            .col_expr(Column::DeadReason, Expr::value(Some(reason.to_owned())))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(drop)
    }

    /// The dead letters, oldest first: (id, reason, message).
    pub async fn dead_letters(&self) -> Result<Vec<(i64, String, String)>, DbErr> {
        let rows = Queue::find()
            .filter(Column::Dead.eq(true))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.id, r.dead_reason.unwrap_or_default(), r.message))
            .collect())
    }

    /// Moves a dead letter back to the queue as a first attempt, ready now; false if `id` is
    /// not a dead letter.
    pub async fn revive_dead(&self, id: i64) -> Result<bool, DbErr> {
        let result = Queue::update_many()
            .col_expr(Column::Dead, Expr::value(false))
            .col_expr(Column::DeadReason, Expr::value(Option::<String>::None))
            .col_expr(Column::Attempt, Expr::value(1))
            .col_expr(Column::AvailableAt, Expr::value(Utc::now()))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(id))
            .filter(Column::Dead.eq(true))
            .exec(&self.db)
            .await?;
        if result.rows_affected > 0 {
            self.arrived.notify_one();
        }
        Ok(result.rows_affected > 0)
    }

    /// Deletes a dead letter; false if `id` is not a dead letter.
    pub async fn delete_dead(&self, id: i64) -> Result<bool, DbErr> {
        let result = Queue::delete_many()
            .filter(Column::Id.eq(id))
            .filter(Column::Dead.eq(true))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Messages waiting or in flight (not dead).
    pub async fn depth(&self) -> Result<u64, DbErr> {
        Queue::find()
            .filter(Column::Dead.eq(false))
            .count(&self.db)
            .await
    }

    /// Waits until a message arrives or `timeout` passes (delayed ones are found by polling).
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.arrived.notified()).await;
    }
}

/// The statement of a group of accepted events.
fn insert_rows(
    rows: Vec<local_queue::ActiveModel>,
    batch: Batch,
) -> BoxFuture<'static, Result<(), DbErr>> {
    Box::pin(async move {
        Queue::insert_many(rows)
            .exec_without_returning(&*batch)
            .await
            .map(drop)
    })
}

/// The statement of a group of settled events.
fn delete_ids(ids: Vec<i64>, batch: Batch) -> BoxFuture<'static, Result<(), DbErr>> {
    Box::pin(async move {
        Queue::delete_many()
            .filter(Column::Id.is_in(ids))
            .exec(&*batch)
            .await
            .map(drop)
    })
}

impl LanePublisher for LocalQueue {
    fn publish_to<'a>(
        &'a self,
        event: &'a EventEnvelope,
        lane: Lane,
    ) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            self.push(event, lane).await.map_err(|error| {
                tracing::warn!(%error, event_id = %event.event_id, "the local queue refused the event");
                PublishError::Unavailable
            })
        })
    }

    fn is_ready(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn queue() -> LocalQueue {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        LocalQueue::new(db)
    }

    fn event() -> EventEnvelope {
        let client_key = crate::tenant::ClientKey::parse("ck").expect("a key");
        crate::envelope::test_event(&client_key, Some("wh-1".into()), "{}")
    }

    async fn dead_one(queue: &LocalQueue) -> i64 {
        queue.push(&event(), Lane::Main).await.unwrap();
        let id = queue
            .claim(Lane::Main, 1, Duration::from_secs(60))
            .await
            .unwrap()[0]
            .id;
        queue.retry(id, 4, Duration::ZERO).await.unwrap();
        queue.dead_letter(id, "HTTP 404").await.unwrap();
        id
    }

    #[tokio::test]
    async fn a_revived_dead_letter_is_delivered_again_as_a_first_attempt() {
        let queue = queue().await;
        let id = dead_one(&queue).await;
        assert_eq!(queue.depth().await.unwrap(), 0);
        assert!(queue.revive_dead(id).await.unwrap());
        assert!(queue.dead_letters().await.unwrap().is_empty());
        let claimed = queue
            .claim(Lane::Main, 10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            (claimed.len(), claimed[0].id, claimed[0].attempt),
            (1, id, 1)
        );
        assert!(
            !queue.revive_dead(id).await.unwrap(),
            "a live message is no dead letter"
        );
    }

    #[tokio::test]
    async fn only_dead_letters_are_deleted_by_delete_dead() {
        let queue = queue().await;
        let id = dead_one(&queue).await;
        queue.push(&event(), Lane::Main).await.unwrap();
        let live = queue
            .claim(Lane::Main, 1, Duration::from_secs(60))
            .await
            .unwrap()[0]
            .id;
        assert!(!queue.delete_dead(live).await.unwrap());
        assert!(queue.delete_dead(id).await.unwrap());
        assert!(queue.dead_letters().await.unwrap().is_empty());
        assert_eq!(queue.depth().await.unwrap(), 1);
    }
}

//! The event ledger: per tenant, the outcome of every (delivery, rule) pair. Its unique key
//! `(client_key, delivery_id, rule_id)` is the idempotency key: an effect recorded `done` is
//! never performed again, whatever the broker redelivers.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::batch::WriteBatcher;
use crate::entities::event_ledger::{self, Column, Entity as Ledger};
use crate::tenant::{ClientKey, ProductType};

/// The rule id that records the receipt of an event no rule matched.
pub const NO_RULE: i64 = 0;

/// Where a (delivery, rule) pair stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerStatus {
    /// Started, not finished (a crash or a retry may be pending).
    Pending,
    /// The effect happened.
    Done,
    /// Received; no rule matched.
    NoMatch,
    /// Given up: a permanent failure or too many attempts.
    Dead,
    /// Received and matched, but nothing could be done, for the reason in its error (the
    /// event names no issue, page or blog post to act on).
    Skipped,
    /// Not acted on because a newer event was already applied to the same subject by an
    /// ordered action (a property or a label: [`crate::order`]); its error says which. Final,
    /// like `done`.
    Stale,
}

impl LedgerStatus {
    /// Every status, in the order people read them (CLI counts).
    pub const ALL: [Self; 6] = [
        Self::Done,
        Self::Pending,
        Self::Dead,
        Self::NoMatch,
        Self::Skipped,
        Self::Stale,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::NoMatch => "no_match",
            Self::Dead => "dead",
            Self::Skipped => "skipped",
            Self::Stale => "stale",
        }
    }

    /// Parses the stored spelling; an unknown one is an error (a row written by a newer
    /// release, or damaged), never taken for another status.
    pub fn parse(raw: &str) -> Result<Self, DbErr> {
        match raw {
            "pending" => Ok(Self::Pending),
            "done" => Ok(Self::Done),
            "no_match" => Ok(Self::NoMatch),
            "dead" => Ok(Self::Dead),
            "skipped" => Ok(Self::Skipped),
            "stale" => Ok(Self::Stale),
            other => Err(DbErr::Custom(format!("unknown ledger status {other:?}"))),
        }
    }
}

/// Identifies one (tenant, delivery, rule) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerKey {
    /// The tenant.
    pub client_key: ClientKey,
    /// The delivery (webhook identifier or body hash).
    pub delivery_id: String,
    /// The rule, or [`NO_RULE`].
    pub rule_id: i64,
}

/// What is known of the event when its pair is first recorded.
#[derive(Debug, Clone, Copy)]
pub struct Receipt<'a> {
    /// hookline's receipt id.
    pub event_id: &'a str,
    /// The event name.
    pub event: &'a str,
    /// The product.
    pub product: ProductType,
    /// The issue key, page id or blog post id, when known.
    pub subject: Option<&'a str>,
}

/// A ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The rule, or [`NO_RULE`].
    pub rule_id: i64,
    /// The delivery.
    pub delivery_id: String,
    /// The event name.
    pub event: String,
    /// The issue key or page id.
    pub subject: Option<String>,
    /// Where it stands.
    pub status: LedgerStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// The last failure's reason.
    pub error: Option<String>,
    /// The id of what the effect created.
    pub result_id: Option<String>,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Reads and writes the ledger.
#[derive(Clone)]
pub struct LedgerStore {
    db: DatabaseConnection,
    writes: WriteBatcher,
}

impl LedgerStore {
    /// A ledger over `db`, with a group commit of its own (the default limits).
    pub fn new(db: DatabaseConnection) -> Self {
        let writes = WriteBatcher::new(db.clone(), Default::default());
        Self::with_batcher(db, writes)
    }

    /// A ledger over `db` whose claims, completions and failures are group-committed through
    /// `writes`: the concurrent events of a worker share one transaction (one commit).
    pub fn with_batcher(db: DatabaseConnection, writes: WriteBatcher) -> Self {
        Self { db, writes }
    }

    fn key_filter(key: &LedgerKey) -> Condition {
        Condition::all()
            .add(Column::ClientKey.eq(key.client_key.as_str()))
            .add(Column::DeliveryId.eq(key.delivery_id.as_str()))
            .add(Column::RuleId.eq(key.rule_id))
    }

    fn new_row(
        key: &LedgerKey,
        receipt: Receipt<'_>,
        status: LedgerStatus,
        now: DateTime<Utc>,
    ) -> event_ledger::ActiveModel {
        event_ledger::ActiveModel {
            id: NotSet,
            client_key: Set(key.client_key.as_str().to_owned()),
            delivery_id: Set(key.delivery_id.clone()),
            rule_id: Set(key.rule_id),
            event_id: Set(receipt.event_id.to_owned()),
            event: Set(receipt.event.to_owned()),
            product: Set(receipt.product.as_str().to_owned()),
            subject: Set(receipt.subject.map(str::to_owned)),
            status: Set(status.as_str().to_owned()),
            attempts: Set(0),
            error: Set(None),
            result_id: Set(None),
            lease_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }

    fn unique_key() -> OnConflict {
        OnConflict::columns([Column::ClientKey, Column::DeliveryId, Column::RuleId])
    }

    async fn insert_if_absent(
        &self,
        key: &LedgerKey,
        receipt: Receipt<'_>,
        status: LedgerStatus,
        reason: Option<&str>,
    ) -> Result<(), DbErr> {
        let mut row = Self::new_row(key, receipt, status, Utc::now());
        row.error = Set(reason.map(str::to_owned));
        self.writes
            .write(move |batch| async move {
                Ledger::insert(row)
                    .on_conflict(Self::unique_key().do_nothing().to_owned())
                    .exec_without_returning(&*batch)
                    .await
            })
            .await
            .map(drop)
    }

    /// Claims the pair for one attempt: creates it if new, and if it is pending and nobody
    /// holds it, counts the attempt and holds it for `lease`. Returns the row as it now stands
    /// and whether this caller holds it: a pending row held by someone else means a concurrent
    /// copy of the delivery is acting on it right now (come back later); `done` means nothing
    /// is left to do.
    pub async fn begin(
        &self,
        key: &LedgerKey,
        receipt: Receipt<'_>,
        lease: Duration,
    ) -> Result<(LedgerEntry, bool), DbErr> {
        let now = Utc::now();
        let until = now
            + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::minutes(2));
        let mut row = Self::new_row(key, receipt, LedgerStatus::Pending, now);
        row.attempts = Set(1);
        row.lease_until = Set(Some(until));
        // One statement (one commit) claims a new or free pending pair: insert, or on conflict
        // count the attempt and take the lease, but only where nobody holds it.
        let free = Expr::col((Ledger, Column::Status))
            .eq(LedgerStatus::Pending.as_str())
            .and(
                Expr::col((Ledger, Column::LeaseUntil))
                    .is_null()
                    .or(Expr::col((Ledger, Column::LeaseUntil)).lt(now)),
            );
        let claim = Self::unique_key()
            .values([
                (
                    Column::Attempts,
                    Expr::col((Ledger, Column::Attempts)).add(1),
                ),
                (Column::LeaseUntil, Expr::value(Some(until))),
                (Column::UpdatedAt, Expr::value(now)),
            ])
            .action_and_where(free)
            .to_owned();
        let (rule_id, own_key) = (key.rule_id, Self::key_filter(key));
        // In the batch's transaction, so a row an earlier write of the batch made is seen.
        self.writes
            .write(move |batch| async move {
                match Ledger::insert(row)
                    .on_conflict(claim)
                    .exec_with_returning(&*batch)
                    .await
                {
                    Ok(claimed) => Ok((to_entry(claimed)?, true)),
                    // The pair exists and is done, dead, or held by someone else: read it as
                    // it stands.
                    Err(DbErr::RecordNotInserted | DbErr::RecordNotFound(_)) => {
                        let row = Ledger::find().filter(own_key).one(&*batch).await?;
                        let entry = row.map(to_entry).transpose()?.ok_or_else(|| {
                            DbErr::RecordNotFound(format!("ledger row of rule {rule_id}"))
                        })?;
                        Ok((entry, false))
                    }
                    Err(error) => Err(error),
                }
            })
            .await
    }

    /// Releases every lease on a pending pair, so the next copy of its delivery acts at once
    /// (looking first for an effect the earlier attempt may have made) instead of waiting for
    /// the lease. Only for a starting consumer that is the only one (the embedded mode).
    /// Returns how many pairs were released.
    pub async fn release_leases(&self) -> Result<u64, DbErr> {
        let released = Ledger::update_many()
            .col_expr(
                Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::Status.eq(LedgerStatus::Pending.as_str()))
            .filter(Column::LeaseUntil.is_not_null())
            .exec(&self.db)
            .await?;
        Ok(released.rows_affected)
    }

    /// Records the receipt of an event that matched no rule (idempotent).
    pub async fn record_no_match(
        &self,
        key: &LedgerKey,
        receipt: Receipt<'_>,
    ) -> Result<(), DbErr> {
        self.insert_if_absent(key, receipt, LedgerStatus::NoMatch, None)
            .await
    }

    /// Records a matched event that could not be acted on, with the reason (idempotent).
    pub async fn record_skipped(
        &self,
        key: &LedgerKey,
        receipt: Receipt<'_>,
        reason: &str,
    ) -> Result<(), DbErr> {
        self.insert_if_absent(key, receipt, LedgerStatus::Skipped, Some(reason))
            .await
    }

    /// Records a held pair as stale, with the reason (which newer event was applied): it is
    /// never acted on.
    pub async fn record_stale(&self, key: &LedgerKey, reason: &str) -> Result<(), DbErr> {
        self.set(key, LedgerStatus::Stale, Some(reason), None).await
    }

    /// Lets go of a pending pair this caller holds without counting its attempt, because
    /// nothing was tried (it waits for another event): the next copy acts at once.
    pub async fn hand_back(&self, key: &LedgerKey) -> Result<(), DbErr> {
        let update = Ledger::update_many()
            .col_expr(
                Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).sub(1))
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(Self::key_filter(key))
            .filter(Column::Status.eq(LedgerStatus::Pending.as_str()))
            .filter(Column::Attempts.gt(0));
        self.writes
            .write(move |batch| async move { update.exec(&*batch).await })
            .await
            .map(drop)
    }

    /// Marks the pair done, with the id of what it created.
    pub async fn complete(&self, key: &LedgerKey, result_id: Option<&str>) -> Result<(), DbErr> {
        self.set(key, LedgerStatus::Done, None, result_id).await
    }

    /// Records a failure: still pending (will be retried) or dead (given up).
    pub async fn record_failure(
        &self,
        key: &LedgerKey,
        reason: &str,
        dead: bool,
    ) -> Result<(), DbErr> {
        let status = if dead {
            LedgerStatus::Dead
        } else {
            LedgerStatus::Pending
        };
        self.set(key, status, Some(reason), None).await
    }

    async fn set(
        &self,
        key: &LedgerKey,
        status: LedgerStatus,
        error: Option<&str>,
        result_id: Option<&str>,
    ) -> Result<(), DbErr> {
        let update = Ledger::update_many()
            .col_expr(Column::Status, Expr::value(status.as_str()))
            .col_expr(Column::Error, Expr::value(error.map(str::to_owned)))
            .col_expr(Column::ResultId, Expr::value(result_id.map(str::to_owned)))
            .col_expr(
                Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(Self::key_filter(key));
        self.writes
            .write(move |batch| async move { update.exec(&*batch).await })
            .await
            .map(drop)
    }

    /// Whether any row of `client_key` records `delivery_id` (for any rule).
    pub async fn knows_delivery(
        &self,
        client_key: &ClientKey,
        delivery_id: &str,
    ) -> Result<bool, DbErr> {
        let row = Ledger::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::ClientKey.eq(client_key.as_str()))
            .filter(Column::DeliveryId.eq(delivery_id))
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        Ok(row.is_some())
    }

    /// The pair's row, if any.
    pub async fn find(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, DbErr> {
        let row = Ledger::find()
            .filter(Self::key_filter(key))
            .one(&self.db)
            .await?;
        row.map(to_entry).transpose()
    }

    /// How many of the tenant's rows stand in each status, counting rows changed since `since`
    /// (all rows when `None`); statuses with no rows are left out.
    pub async fn status_counts(
        &self,
        client_key: &ClientKey,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<(LedgerStatus, u64)>, DbErr> {
        let mut query = Ledger::find().filter(Column::ClientKey.eq(client_key.as_str()));
        if let Some(since) = since {
            query = query.filter(Column::UpdatedAt.gte(since));
        }
        let rows: Vec<(String, i64)> = query
            .select_only()
            .column(Column::Status)
            .column_as(Column::Id.count(), "rows")
            .group_by(Column::Status)
            .order_by_asc(Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(status, n)| Ok((LedgerStatus::parse(&status)?, u64::try_from(n).unwrap_or(0))))
            .collect()
    }

    /// The tenant's most recent rows, optionally about one issue or page (newest first).
    pub async fn activity(
        &self,
        client_key: &ClientKey,
        subject: Option<&str>,
        limit: u64,
    ) -> Result<Vec<LedgerEntry>, DbErr> {
        let mut query = Ledger::find().filter(Column::ClientKey.eq(client_key.as_str()));
        if let Some(subject) = subject {
            query = query.filter(Column::Subject.eq(subject));
        }
        let rows = query
            .order_by_desc(Column::UpdatedAt)
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(to_entry).collect()
    }
}

fn to_entry(row: event_ledger::Model) -> Result<LedgerEntry, DbErr> {
    Ok(LedgerEntry {
        rule_id: row.rule_id,
        delivery_id: row.delivery_id,
        event: row.event,
        subject: row.subject,
        status: LedgerStatus::parse(&row.status)?,
        attempts: row.attempts,
        error: row.error,
        result_id: row.result_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_and_an_unknown_one_is_an_error() {
        use LedgerStatus::*;
        for status in LedgerStatus::ALL {
            assert_eq!(LedgerStatus::parse(status.as_str()).unwrap(), status);
        }
        assert!(LedgerStatus::ALL.contains(&Pending) && LedgerStatus::ALL.contains(&Stale));
        assert!(LedgerStatus::parse("expired").is_err());
        assert!(LedgerStatus::parse("Stale").is_err());
    }

    #[tokio::test]
    async fn a_stale_pair_is_final_and_a_handed_back_one_counts_no_attempt() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let ledger = LedgerStore::new(db);
        let receipt = Receipt {
            event_id: "e",
            event: "jira:issue_updated",
            product: ProductType::Jira,
            subject: Some("KAN-1"),
        };
        let key = |delivery: &str| LedgerKey {
            client_key: ClientKey::parse("a").unwrap(),
            delivery_id: delivery.into(),
            rule_id: 1,
        };
        let lease = Duration::from_secs(60);

        let (_, held) = ledger.begin(&key("d1"), receipt, lease).await.unwrap();
        assert!(held);
        ledger.hand_back(&key("d1")).await.unwrap();
        let (entry, held) = ledger.begin(&key("d1"), receipt, lease).await.unwrap();
        assert!(held, "handed back: the next copy acts at once");
        assert_eq!(entry.attempts, 1, "the handed-back attempt does not count");

        ledger
            .record_stale(&key("d1"), "a newer event")
            .await
            .unwrap();
        let (entry, held) = ledger.begin(&key("d1"), receipt, lease).await.unwrap();
        assert!(!held);
        assert_eq!(entry.status, LedgerStatus::Stale);
        assert_eq!(entry.error.as_deref(), Some("a newer event"));
        let a = ClientKey::parse("a").unwrap();
        let counts = ledger.status_counts(&a, None).await.unwrap();
        assert_eq!(counts, vec![(LedgerStatus::Stale, 1)]);
    }

    #[tokio::test]
    async fn status_counts_count_one_tenants_rows_per_status_and_since_a_time() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let ledger = LedgerStore::new(db);
        let receipt = Receipt {
            event_id: "e",
            event: "jira:issue_created",
            product: ProductType::Jira,
            subject: None,
        };
        let key = |ck: &str, delivery: &str| LedgerKey {
            client_key: ClientKey::parse(ck).unwrap(),
            delivery_id: delivery.into(),
            rule_id: 1,
        };
        for delivery in ["d1", "d2", "d3"] {
            let key = key("a", delivery);
            ledger.record_no_match(&key, receipt).await.unwrap();
        }
        ledger.complete(&key("a", "d1"), Some("10")).await.unwrap();
        ledger.complete(&key("a", "d2"), None).await.unwrap();
        ledger
            .record_failure(&key("a", "d3"), "HTTP 503", false)
            .await
            .unwrap();
        ledger
            .record_no_match(&key("b", "d9"), receipt)
            .await
            .unwrap();

        let a = ClientKey::parse("a").unwrap();
        let counts = ledger.status_counts(&a, None).await.unwrap();
        assert_eq!(
            counts,
            vec![(LedgerStatus::Done, 2), (LedgerStatus::Pending, 1)]
        );
        let future = Utc::now() + chrono::Duration::hours(1);
        assert!(ledger
            .status_counts(&a, Some(future))
            .await
            .unwrap()
            .is_empty());
    }
}

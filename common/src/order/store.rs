//! The `subject_order` table: claim a target, advance it when the action succeeded, release
//! it when it failed.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, SimpleExpr};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::Position;
use crate::entities::subject_order::{self, Column, Entity as Order};
use crate::tenant::ClientKey;

/// One target of one subject of one tenant: a row of the order table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// The tenant.
    pub client_key: ClientKey,
    /// The issue key, page id or blog post id.
    pub subject: String,
    /// What is set on it ([`super::target_of`]).
    pub target: String,
}

/// One event of one rule taking its turn on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimant<'a> {
    /// The event's position.
    pub position: Position,
    /// Its delivery id (as the ledger records it).
    pub delivery_id: &'a str,
    /// The rule acting for it.
    pub rule_id: i64,
}

impl Claimant<'_> {
    /// Who holds the target: the (delivery, rule) pair, so that a copy of the same delivery
    /// (a redelivery after a crash) takes the turn back at once.
    fn holder(&self) -> String {
        format!("{}#{}", self.delivery_id, self.rule_id)
    }
}

/// The newest event applied to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Its position.
    pub position: Position,
    /// Its delivery id.
    pub delivery_id: String,
    /// The rule that applied it.
    pub rule_id: i64,
}

impl Applied {
    /// Why an older event of `key` is not acted on (the ledger's reason for `stale`).
    pub fn stale_reason(&self, key: &OrderKey) -> String {
        let target = key.target.replacen(':', " ", 1);
        format!(
            "a newer event (delivery {} at {}) was already applied to {} ({target}, by rule {}); this older one is not",
            self.delivery_id,
            self.position.describe(),
            key.subject,
            self.rule_id,
        )
    }
}

/// What [`OrderStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nothing newer was applied and no other event acts on the target: act, then
    /// [`OrderStore::advance`] or [`OrderStore::release`].
    Granted,
    /// A newer event was already applied: never act for this one.
    Stale(Applied),
    /// Another event is acting on the target now: come back later.
    Busy,
}

/// What [`OrderStore::advance`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// The event is recorded as the newest applied (or as one equal to it).
    Current,
    /// A newer event was recorded already; the order is unchanged.
    Stale(Applied),
}

/// Reads and writes the order of subjects.
#[derive(Clone)]
pub struct OrderStore {
    db: DatabaseConnection,
}

impl OrderStore {
    /// An order store over `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Takes `claimant`'s turn on `key` for `lease`, in one statement: creates the row if new;
    /// else holds it only where no newer event was applied and nobody else holds it (or the
    /// holder's lease ran out: a crashed worker). A claimant that holds it already (a copy of
    /// the same delivery and rule) takes it again.
    pub async fn claim(
        &self,
        key: &OrderKey,
        claimant: &Claimant<'_>,
        lease: Duration,
    ) -> Result<Claim, DbErr> {
        let now = Utc::now();
        let until = now
            + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::minutes(2));
        let holder = claimant.holder();
        let mut row = new_row(key, now);
        row.holder = Set(Some(holder.clone()));
        row.lease_until = Set(Some(until));
        let free = col(Column::LeaseUntil)
            .is_null()
            .or(col(Column::LeaseUntil).lt(now))
            .or(col(Column::Holder).eq(holder.as_str()));
        let take = unique_key()
            .values([
                (Column::Holder, Expr::value(Some(holder))),
                (Column::LeaseUntil, Expr::value(Some(until))),
                (Column::UpdatedAt, Expr::value(now)),
            ])
            .action_and_where(not_older(claimant.position).and(free))
            .to_owned();
        let taken = Order::insert(row)
            .on_conflict(take)
            .exec_without_returning(&self.db)
            .await?;
        if taken > 0 {
            return Ok(Claim::Granted);
        }
        // The applied position only grows, so a claim refused for being older stays refused.
        match self.applied(key).await? {
            Some(applied) if claimant.position.is_older_than(&applied.position) => {
                Ok(Claim::Stale(applied))
            }
            _ => Ok(Claim::Busy),
        }
    }

    /// Advance if newer, in one statement: records `claimant` as the newest event applied to
    /// `key` unless a newer one is recorded (an equal one is replaced: the same event again),
    /// and lets go of the target if `claimant` holds it. Returns whether it was current or
    /// stale; a stale claimant lets go of the target too.
    pub async fn advance(&self, key: &OrderKey, claimant: &Claimant<'_>) -> Result<Advance, DbErr> {
        let now = Utc::now();
        let position = claimant.position;
        let mut row = new_row(key, now);
        row.event_at = Set(Some(position.event_at));
        row.changelog_id = Set(position.changelog_id);
        row.delivery_id = Set(Some(claimant.delivery_id.to_owned()));
        row.rule_id = Set(Some(claimant.rule_id));
        let mine = || col(Column::Holder).eq(claimant.holder());
        let let_go = |column: Column, none: SimpleExpr| -> SimpleExpr {
            Expr::case(mine(), none).finally(col(column)).into()
        };
        let record = unique_key()
            .values([
                (Column::EventAt, Expr::value(Some(position.event_at))),
                (Column::ChangelogId, Expr::value(position.changelog_id)),
                (
                    Column::DeliveryId,
                    Expr::value(Some(claimant.delivery_id.to_owned())),
                ),
                (Column::RuleId, Expr::value(Some(claimant.rule_id))),
                (
                    Column::Holder,
                    let_go(Column::Holder, Expr::value(Option::<String>::None)),
                ),
                (
                    Column::LeaseUntil,
                    let_go(
                        Column::LeaseUntil,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    ),
                ),
                (Column::UpdatedAt, Expr::value(now)),
            ])
            .action_and_where(not_older(position))
            .to_owned();
        let recorded = Order::insert(row)
            .on_conflict(record)
            .exec_without_returning(&self.db)
            .await?;
        if recorded > 0 {
            return Ok(Advance::Current);
        }
        self.release(key, claimant).await?;
        let applied = self.applied(key).await?.ok_or_else(|| {
            DbErr::RecordNotFound(format!("the order of {} ({})", key.subject, key.target))
        })?;
        Ok(Advance::Stale(applied))
    }

    /// Lets go of `key` if `claimant` holds it, recording nothing (its action failed).
    pub async fn release(&self, key: &OrderKey, claimant: &Claimant<'_>) -> Result<(), DbErr> {
        Order::update_many()
            .col_expr(Column::Holder, Expr::value(Option::<String>::None))
            .col_expr(
                Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(key_filter(key))
            .filter(Column::Holder.eq(claimant.holder()))
            .exec(&self.db)
            .await
            .map(drop)
    }

    /// The newest event applied to `key`, if any.
    pub async fn applied(&self, key: &OrderKey) -> Result<Option<Applied>, DbErr> {
        let row = Order::find().filter(key_filter(key)).one(&self.db).await?;
        Ok(row.and_then(|row| {
            Some(Applied {
                position: Position {
                    event_at: row.event_at?,
                    changelog_id: row.changelog_id,
                },
                delivery_id: row.delivery_id.unwrap_or_default(),
                rule_id: row.rule_id.unwrap_or_default(),
            })
        }))
    }
}

fn col(column: Column) -> Expr {
    Expr::col((Order, column))
}

fn unique_key() -> OnConflict {
    OnConflict::columns([Column::ClientKey, Column::Subject, Column::Target])
}

fn key_filter(key: &OrderKey) -> Condition {
    Condition::all()
        .add(Column::ClientKey.eq(key.client_key.as_str()))
        .add(Column::Subject.eq(key.subject.as_str()))
        .add(Column::Target.eq(key.target.as_str()))
}

/// A row of `key` with nothing applied and nobody holding it.
fn new_row(key: &OrderKey, now: DateTime<Utc>) -> subject_order::ActiveModel {
    subject_order::ActiveModel {
        id: NotSet,
        client_key: Set(key.client_key.as_str().to_owned()),
        subject: Set(key.subject.clone()),
        target: Set(key.target.clone()),
        event_at: Set(None),
        changelog_id: Set(None),
        delivery_id: Set(None),
        rule_id: Set(None),
        holder: Set(None),
        lease_until: Set(None),
        updated_at: Set(now),
    }
}

/// The stored row's newest applied event is not newer than `position` (see
/// [`Position::is_older_than`]), or none was applied yet.
fn not_older(position: Position) -> SimpleExpr {
    let at = || col(Column::EventAt);
    let same_time = at().eq(position.event_at);
    let tie = match position.changelog_id {
        Some(id) => same_time.and(
            col(Column::ChangelogId)
                .is_null()
                .or(col(Column::ChangelogId).lte(id)),
        ),
        None => same_time,
    };
    at().is_null().or(at().lt(position.event_at)).or(tie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Position;

    const LEASE: Duration = Duration::from_secs(60);

    async fn store() -> OrderStore {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        OrderStore::new(db)
    }

    fn key(target: &str) -> OrderKey {
        OrderKey {
            client_key: ClientKey::parse("site").unwrap(),
            subject: "KAN-1".into(),
            target: target.into(),
        }
    }

    fn event(delivery_id: &str, event_at: i64, changelog_id: Option<i64>) -> Claimant<'_> {
        Claimant {
            position: Position {
                event_at,
                changelog_id,
            },
            delivery_id,
            rule_id: 7,
        }
    }

    /// Claims, then advances: the whole turn of an event whose action succeeded.
    async fn apply(store: &OrderStore, key: &OrderKey, claimant: &Claimant<'_>) -> Claim {
        let claim = store.claim(key, claimant, LEASE).await.unwrap();
        if claim == Claim::Granted {
            let advanced = store.advance(key, claimant).await.unwrap();
            assert_eq!(advanced, Advance::Current);
        }
        claim
    }

    #[tokio::test]
    async fn a_newer_event_applies_and_an_older_one_is_stale() {
        let store = store().await;
        let key = key("property:workflow");
        assert_eq!(
            apply(&store, &key, &event("d1", 100, None)).await,
            Claim::Granted
        );
        assert_eq!(
            apply(&store, &key, &event("d3", 300, None)).await,
            Claim::Granted
        );
        let Claim::Stale(newer) = apply(&store, &key, &event("d2", 200, None)).await else {
            panic!("an older event is stale");
        };
        assert_eq!((newer.delivery_id.as_str(), newer.rule_id), ("d3", 7));
        assert_eq!(newer.position.event_at, 300);
        let reason = newer.stale_reason(&key);
        assert!(
            reason.starts_with("a newer event (delivery d3 at 1970-01-01T00:00:00.300Z) was already applied to KAN-1 (property workflow, by rule 7)"),
            "{reason}"
        );
        // Other targets and subjects have their own order.
        assert_eq!(
            apply(&store, &self::key("label:x"), &event("d2", 200, None)).await,
            Claim::Granted
        );
    }

    #[tokio::test]
    async fn an_equal_position_is_current_and_the_changelog_id_breaks_a_tie() {
        let store = store().await;
        let key = key("property:workflow");
        assert_eq!(
            apply(&store, &key, &event("d1", 100, Some(11))).await,
            Claim::Granted
        );
        // The same delivery again, or another rule of the same event.
        assert_eq!(
            apply(&store, &key, &event("d1", 100, Some(11))).await,
            Claim::Granted
        );
        assert!(matches!(
            apply(&store, &key, &event("d0", 100, Some(10))).await,
            Claim::Stale(_)
        ));
        assert_eq!(
            apply(&store, &key, &event("d2", 100, Some(12))).await,
            Claim::Granted
        );
        // Without a changelog id on either side, the same timestamp cannot be told apart.
        assert_eq!(
            apply(&store, &key, &event("d9", 100, None)).await,
            Claim::Granted
        );
        assert_eq!(
            store.applied(&key).await.unwrap().map(|a| a.delivery_id),
            Some("d9".into())
        );
    }

    #[tokio::test]
    async fn one_event_acts_at_a_time_and_a_failed_one_advances_nothing() {
        let store = store().await;
        let key = key("property:workflow");
        let (older, newer) = (event("d1", 100, None), event("d2", 200, None));
        assert_eq!(
            store.claim(&key, &newer, LEASE).await.unwrap(),
            Claim::Granted
        );
        assert_eq!(store.claim(&key, &older, LEASE).await.unwrap(), Claim::Busy);
        // A copy of the holder's own delivery takes its turn back.
        assert_eq!(
            store.claim(&key, &newer, LEASE).await.unwrap(),
            Claim::Granted
        );

        // The newer event's action failed: the older one may apply meanwhile...
        store.release(&key, &newer).await.unwrap();
        assert_eq!(apply(&store, &key, &older).await, Claim::Granted);
        // ... and the newer one's retry applies over it.
        assert_eq!(apply(&store, &key, &newer).await, Claim::Granted);
        assert_eq!(
            store.applied(&key).await.unwrap().unwrap().delivery_id,
            "d2"
        );
    }

    #[tokio::test]
    async fn a_lease_that_ran_out_frees_the_target_and_a_late_advance_is_stale() {
        let store = store().await;
        let key = key("label:seen");
        let (older, newer) = (event("d1", 100, None), event("d2", 200, None));
        assert_eq!(
            store.claim(&key, &older, Duration::ZERO).await.unwrap(),
            Claim::Granted
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(apply(&store, &key, &newer).await, Claim::Granted);
        let Advance::Stale(applied) = store.advance(&key, &older).await.unwrap() else {
            panic!("the newer event stays recorded");
        };
        assert_eq!(applied.delivery_id, "d2");
        assert_eq!(
            apply(&store, &key, &event("d3", 300, None)).await,
            Claim::Granted
        );
    }
}

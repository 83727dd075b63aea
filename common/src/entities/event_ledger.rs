//! The `event_ledger` table: one row per (tenant, delivery, rule) with its outcome.
use sea_orm::entity::prelude::*;

/// A raw row of `event_ledger`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_ledger")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The tenant.
    pub client_key: String,
    /// The delivery's identity (webhook identifier or body hash).
    pub delivery_id: String,
    /// The rule applied, or 0 for "received, no rule matched".
    pub rule_id: i64,
    /// hookline's id of the receipt that first created the row.
    pub event_id: String,
    /// The event name.
    pub event: String,
    /// `jira` or `confluence`.
    pub product: String,
    /// The issue key or page id the event is about, when known.
    pub subject: Option<String>,
    /// `pending`, `done`, `no_match`, `dead`, `skipped`, `stale` ([`crate::ledger::LedgerStatus`]).
    pub status: String,
    /// How many times the action was attempted.
    pub attempts: i32,
    /// The last failure's reason (never a secret or payload).
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// The id of what the action created (a comment id).
    pub result_id: Option<String>,
    /// While in the future, one worker holds the pair (concurrent copies wait).
    pub lease_until: Option<DateTimeUtc>,
    /// First seen.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No relations: rows point at their tenant by `client_key`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

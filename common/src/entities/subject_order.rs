//! The `subject_order` table: per (tenant, subject, target of an ordered action), the newest
//! event applied there and the event acting on it now (see [`crate::order`]).
use sea_orm::entity::prelude::*;

/// A raw row of `subject_order`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subject_order")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The tenant.
    pub client_key: String,
    /// The issue key, page id or blog post id.
    pub subject: String,
    /// What the ordered action sets on it: `property:{key}` or `label:{name}`.
    pub target: String,
    /// The `timestamp` (epoch milliseconds) of the newest event applied; `None` while none was.
    pub event_at: Option<i64>,
    /// That event's changelog id, when it had one.
    pub changelog_id: Option<i64>,
    /// That event's delivery id.
    pub delivery_id: Option<String>,
    /// The rule that applied it.
    pub rule_id: Option<i64>,
    /// The (delivery, rule) acting on the target while `lease_until` is in the future.
    pub holder: Option<String>,
    /// Until when `holder` holds the target.
    pub lease_until: Option<DateTimeUtc>,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No relations: rows point at their tenant by `client_key`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! The `local_queue` table: the embedded mode's durable event queue.
use sea_orm::entity::prelude::*;

/// A raw row of `local_queue`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "local_queue")]
pub struct Model {
    /// Order of arrival.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `{product}.{event}`.
    pub routing_key: String,
    /// The lane: 0 the main one, 1 and up the overflow lanes ([`crate::queue::lane::Lane`]).
    pub lane: i16,
    /// The [`crate::envelope::QueueMessage`] as JSON.
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// hookline's attempt number (1 for the first delivery).
    pub attempt: i32,
    /// Not delivered before this time (retry delays).
    pub available_at: DateTimeUtc,
    /// Leased to a consumer until this time; redelivered after it (at-least-once).
    pub claimed_until: Option<DateTimeUtc>,
    /// Dead-lettered.
    pub dead: bool,
    /// Why it was dead-lettered.
    #[sea_orm(column_type = "Text", nullable)]
    pub dead_reason: Option<String>,
    /// When it was accepted.
    pub created_at: DateTimeUtc,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

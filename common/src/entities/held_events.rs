//! The `held_events` table: events of a paused tenant, kept until it is resumed.
use sea_orm::entity::prelude::*;

/// A raw row of `held_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "held_events")]
pub struct Model {
    /// Order of holding: events are released in this order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The tenant record's key (whichever identity named it in the event).
    pub client_key: String,
    /// hookline's id of the receipt.
    pub event_id: String,
    /// The [`crate::envelope::QueueMessage`] as JSON, payload byte for byte.
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// When the worker held it.
    pub held_at: DateTimeUtc,
    /// The releaser that claimed it, while it is being released.
    pub claimed_by: Option<String>,
    /// Until when that claim holds (a releaser that died lets go at this time).
    pub claimed_until: Option<DateTimeUtc>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

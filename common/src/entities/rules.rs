//! The `rules` table: a tenant's rules; `conditions` and `action` are JSON documents.
use sea_orm::entity::prelude::*;

/// A raw row of `rules`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rules")]
pub struct Model {
    /// The rule's id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The tenant the rule belongs to.
    pub client_key: String,
    /// A name for people.
    pub name: String,
    /// The event it reacts to, e.g. `jira:issue_created`.
    pub event: String,
    /// JSON array of conditions (see [`crate::rules::Condition`]).
    #[sea_orm(column_type = "Text")]
    pub conditions: String,
    /// JSON action (see [`crate::rules::Action`]).
    #[sea_orm(column_type = "Text")]
    pub action: String,
    /// Disabled rules are kept but not applied.
    pub enabled: bool,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No relations: rows point at their tenant by `client_key`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

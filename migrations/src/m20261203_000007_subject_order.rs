//! The `subject_order` table: per tenant, issue or page and what an ordered action sets on it
//! (a property key, a label), the position of the newest event applied there and which event
//! is acting on it now, so that an older event arriving late never overwrites a newer one
//! (docs/operations.md, "Order per subject").
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SubjectOrder::Table)
                    .col(
                        big_integer(SubjectOrder::Id)
                            .auto_increment()
                            .primary_key()
                            .take(),
                    )
                    .col(string_len(SubjectOrder::ClientKey, 255))
                    .col(string_len(SubjectOrder::Subject, 255))
                    // `property:{key}` or `label:{name}`.
                    .col(string_len(SubjectOrder::Target, 300))
                    // The newest applied event's `timestamp` (epoch ms) and changelog id; NULL
                    // while none was applied yet.
                    .col(big_integer_null(SubjectOrder::EventAt))
                    .col(big_integer_null(SubjectOrder::ChangelogId))
                    .col(string_len_null(SubjectOrder::DeliveryId, 200))
                    .col(big_integer_null(SubjectOrder::RuleId))
                    // While the lease is in the future, this (delivery, rule) is acting.
                    .col(string_len_null(SubjectOrder::Holder, 250))
                    .col(timestamp_with_time_zone_null(SubjectOrder::LeaseUntil))
                    .col(timestamp_with_time_zone(SubjectOrder::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_subject_order_target")
                    .table(SubjectOrder::Table)
                    .col(SubjectOrder::ClientKey)
                    .col(SubjectOrder::Subject)
                    .col(SubjectOrder::Target)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SubjectOrder::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SubjectOrder {
    Table,
    Id,
    ClientKey,
    Subject,
    Target,
    EventAt,
    ChangelogId,
    DeliveryId,
    RuleId,
    Holder,
    LeaseUntil,
    UpdatedAt,
}

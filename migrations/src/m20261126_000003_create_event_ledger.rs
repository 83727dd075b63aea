//! The `event_ledger` table: the outcome of every (delivery, rule) pair per tenant, which is
//! also the idempotency key that keeps a redelivered event from acting twice.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventLedger::Table)
                    .col(
                        big_integer(EventLedger::Id)
                            .auto_increment()
                            .primary_key()
                            .take(),
                    )
                    .col(string_len(EventLedger::ClientKey, 255))
                    .col(string_len(EventLedger::DeliveryId, 200))
                    // 0 records the receipt of an event that matched no rule.
                    .col(big_integer(EventLedger::RuleId))
                    .col(string_len(EventLedger::EventId, 64))
                    .col(string_len(EventLedger::Event, 100))
                    .col(string_len(EventLedger::Product, 32))
                    .col(string_len_null(EventLedger::Subject, 255))
                    .col(string_len(EventLedger::Status, 32))
                    .col(integer(EventLedger::Attempts))
                    .col(text_null(EventLedger::Error))
                    .col(string_len_null(EventLedger::ResultId, 255))
                    // While set and in the future, one worker is acting on the pair.
                    .col(timestamp_with_time_zone_null(EventLedger::LeaseUntil))
                    .col(timestamp_with_time_zone(EventLedger::CreatedAt))
                    .col(timestamp_with_time_zone(EventLedger::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_ledger_delivery")
                    .table(EventLedger::Table)
                    .col(EventLedger::ClientKey)
                    .col(EventLedger::DeliveryId)
                    .col(EventLedger::RuleId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_ledger_subject")
                    .table(EventLedger::Table)
                    .col(EventLedger::ClientKey)
                    .col(EventLedger::Subject)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EventLedger::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EventLedger {
    Table,
    Id,
    ClientKey,
    DeliveryId,
    RuleId,
    EventId,
    Event,
    Product,
    Subject,
    Status,
    Attempts,
    Error,
    ResultId,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
}

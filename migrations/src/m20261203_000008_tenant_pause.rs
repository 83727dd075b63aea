//! Pausing a tenant (`hookline tenants pause`, the admin pages): `tenants.paused_at` says since
//! when, and `held_events` keeps the events the workers took while it was paused, as the queue
//! message the ingress published, until the tenant is resumed and they are released into the
//! queue again in id order. A releaser claims a batch (`claimed_by`, `claimed_until`) before
//! publishing it, so two workers do not release the same rows; a claim whose worker died
//! expires.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(timestamp_with_time_zone_null(Tenants::PausedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HeldEvents::Table)
                    .col(
                        big_integer(HeldEvents::Id)
                            .auto_increment()
                            .primary_key()
                            .take(),
                    )
                    .col(string_len(HeldEvents::ClientKey, 255))
                    .col(string_len(HeldEvents::EventId, 64))
                    // The `QueueMessage` as JSON, payload byte for byte.
                    .col(text(HeldEvents::Message))
                    .col(timestamp_with_time_zone(HeldEvents::HeldAt))
                    .col(string_len_null(HeldEvents::ClaimedBy, 64))
                    .col(timestamp_with_time_zone_null(HeldEvents::ClaimedUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_held_events_tenant")
                    .table(HeldEvents::Table)
                    .col(HeldEvents::ClientKey)
                    .col(HeldEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HeldEvents::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::PausedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    PausedAt,
}

#[derive(DeriveIden)]
enum HeldEvents {
    Table,
    Id,
    ClientKey,
    EventId,
    Message,
    HeldAt,
    ClaimedBy,
    ClaimedUntil,
}

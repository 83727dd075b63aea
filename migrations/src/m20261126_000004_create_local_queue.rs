//! The `local_queue` table: the embedded mode's event queue (instead of RabbitMQ), so events
//! accepted by the ingress survive a restart of the single process.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LocalQueue::Table)
                    .col(
                        big_integer(LocalQueue::Id)
                            .auto_increment()
                            .primary_key()
                            .take(),
                    )
                    .col(string_len(LocalQueue::RoutingKey, 200))
                    .col(text(LocalQueue::Message))
                    .col(integer(LocalQueue::Attempt))
                    .col(timestamp_with_time_zone(LocalQueue::AvailableAt))
                    .col(timestamp_with_time_zone_null(LocalQueue::ClaimedUntil))
                    .col(boolean(LocalQueue::Dead))
                    .col(text_null(LocalQueue::DeadReason))
                    .col(timestamp_with_time_zone(LocalQueue::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_local_queue_ready")
                    .table(LocalQueue::Table)
                    .col(LocalQueue::Dead)
                    .col(LocalQueue::AvailableAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LocalQueue::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LocalQueue {
    Table,
    Id,
    RoutingKey,
    Message,
    Attempt,
    AvailableAt,
    ClaimedUntil,
    Dead,
    DeadReason,
    CreatedAt,
}

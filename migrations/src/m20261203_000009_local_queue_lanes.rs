//! The embedded queue's lanes (fair share between tenants): 0 is the main lane, 1 and up the
//! overflow lanes. Rows queued before this migration are in the main lane.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const LANE_INDEX: &str = "idx_local_queue_lane_ready";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LocalQueue::Table)
                    .add_column(small_integer(LocalQueue::Lane).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LANE_INDEX)
                    .table(LocalQueue::Table)
                    .col(LocalQueue::Lane)
                    .col(LocalQueue::Dead)
                    .col(LocalQueue::AvailableAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(LANE_INDEX)
                    .table(LocalQueue::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LocalQueue::Table)
                    .drop_column(LocalQueue::Lane)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LocalQueue {
    Table,
    Lane,
    Dead,
    AvailableAt,
}

//! An index the embedded queue's claim can answer from: a lane's live rows in arrival order,
//! with the two columns that say whether each is ready. Without it, a claim read every ready
//! row of the lane whole (the event's JSON sits before `claimed_until` in the row, so ~11 KB
//! each) and sorted them to take the oldest few: its cost grew with the backlog. It replaces
//! `idx_local_queue_lane_ready` (lane, dead, available_at), which only that claim used.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLAIM_INDEX: &str = "idx_local_queue_claim";
const LANE_INDEX: &str = "idx_local_queue_lane_ready";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(CLAIM_INDEX)
                    .table(LocalQueue::Table)
                    .col(LocalQueue::Lane)
                    .col(LocalQueue::Dead)
                    .col(LocalQueue::Id)
                    .col(LocalQueue::AvailableAt)
                    .col(LocalQueue::ClaimedUntil)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(LANE_INDEX)
                    .table(LocalQueue::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(CLAIM_INDEX)
                    .table(LocalQueue::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LocalQueue {
    Table,
    Id,
    Lane,
    Dead,
    AvailableAt,
    ClaimedUntil,
}

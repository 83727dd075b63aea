//! The `rules` table: what each tenant wants done on which event. Partitioned by `client_key`.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Rules::Table)
                    .col(big_integer(Rules::Id).auto_increment().primary_key().take())
                    .col(string_len(Rules::ClientKey, 255))
                    .col(string_len(Rules::Name, 200))
                    .col(string_len(Rules::Event, 100))
                    // JSON documents, stored as text to read the same on both backends.
                    .col(text(Rules::Conditions))
                    .col(text(Rules::Action))
                    .col(boolean(Rules::Enabled))
                    .col(timestamp_with_time_zone(Rules::CreatedAt))
                    .col(timestamp_with_time_zone(Rules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rules_client_key_event")
                    .table(Rules::Table)
                    .col(Rules::ClientKey)
                    .col(Rules::Event)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Rules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    ClientKey,
    Name,
    Event,
    Conditions,
    Action,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

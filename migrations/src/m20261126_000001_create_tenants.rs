//! The `tenants` table: one row per Jira or Confluence site that installed the app.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(tenants_table()).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tenants_client_key")
                    .table(Tenants::Table)
                    .col(Tenants::ClientKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tenants_state")
                    .table(Tenants::Table)
                    .col(Tenants::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping the table drops its indexes on both backends.
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await
    }
}

fn tenants_table() -> TableCreateStatement {
    Table::create()
        .table(Tenants::Table)
        .col(
            big_integer(Tenants::Id)
                .auto_increment()
                .primary_key()
                .take(),
        )
        .col(string_len(Tenants::ClientKey, 255))
        .col(string(Tenants::AppKey))
        // Holds `kid:ciphertext`, never the plaintext secret.
        .col(text(Tenants::SharedSecret))
        .col(string(Tenants::BaseUrl))
        .col(string_null(Tenants::DisplayUrl))
        .col(string_len(Tenants::ProductType, 32))
        .col(text_null(Tenants::Description))
        .col(string_null(Tenants::OauthClientId))
        .col(string_null(Tenants::InstallationId))
        .col(string_null(Tenants::ServiceEntitlementNumber))
        .col(string_null(Tenants::ServerVersion))
        .col(string_null(Tenants::PluginsVersion))
        .col(text_null(Tenants::PublicKey))
        .col(string_len(Tenants::State, 32))
        .col(timestamp_with_time_zone(Tenants::InstalledAt))
        .col(timestamp_with_time_zone_null(Tenants::EnabledAt))
        .col(timestamp_with_time_zone_null(Tenants::DisabledAt))
        .col(timestamp_with_time_zone_null(Tenants::UninstalledAt))
        .col(timestamp_with_time_zone(Tenants::CreatedAt))
        .col(timestamp_with_time_zone(Tenants::UpdatedAt))
        .to_owned()
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    ClientKey,
    AppKey,
    SharedSecret,
    BaseUrl,
    DisplayUrl,
    ProductType,
    Description,
    OauthClientId,
    InstallationId,
    ServiceEntitlementNumber,
    ServerVersion,
    PluginsVersion,
    PublicKey,
    State,
    InstalledAt,
    EnabledAt,
    DisabledAt,
    UninstalledAt,
    CreatedAt,
    UpdatedAt,
}

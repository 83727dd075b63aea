//! Forge installations as tenants: a tenant may also (or only) be known as a Forge
//! installation (`installation_id`, already stored from Connect's `installed`, plus its cloud),
//! called back through its `api_base_url` with the freshest app system token it delivered
//! (encrypted like sharedSecrets). A Forge-only tenant stores an empty `shared_secret`.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            string_len_null(Tenants::CloudId, 64),
            string_len_null(Tenants::ApiBaseUrl, 512),
            text_null(Tenants::ForgeToken),
            timestamp_with_time_zone_null(Tenants::ForgeTokenExpiresAt),
            timestamp_with_time_zone_null(Tenants::ForgeInstalledAt),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        for (name, column) in [
            ("idx_tenants_installation", Tenants::InstallationId),
            ("idx_tenants_cloud", Tenants::CloudId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Tenants::Table)
                        .col(column)
                        .col(Tenants::ProductType)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_tenants_installation", "idx_tenants_cloud"] {
            manager
                .drop_index(Index::drop().name(name).table(Tenants::Table).to_owned())
                .await?;
        }
        for column in [
            Tenants::CloudId,
            Tenants::ApiBaseUrl,
            Tenants::ForgeToken,
            Tenants::ForgeTokenExpiresAt,
            Tenants::ForgeInstalledAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    InstallationId,
    ProductType,
    CloudId,
    ApiBaseUrl,
    ForgeToken,
    ForgeTokenExpiresAt,
    ForgeInstalledAt,
}

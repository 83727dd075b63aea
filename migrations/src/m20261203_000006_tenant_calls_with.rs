//! How the worker calls a tenant that is both a Connect install and a Forge installation (a
//! Connect app on Forge): `connect` (a Connect JWT to its baseUrl) or `forge` (the app system
//! token to its apiBaseUrl). NULL: Connect when the tenant has a sharedSecret, else Forge.
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
                    .add_column(string_len_null(Tenants::CallsWith, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::CallsWith)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    CallsWith,
}

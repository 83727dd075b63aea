//! Database schema of hookline, as sea-orm migrations that run on PostgreSQL and SQLite.
//!
//! Each migration lives in its own file named `mYYYYMMDD_NNNNNN_what.rs`; add new ones at the end
//! of [`Migrator::migrations`] and never edit one that has shipped.

use sea_orm_migration::prelude::*;

/// Re-exported so callers can run [`Migrator::up`] without depending on sea-orm-migration.
pub use sea_orm_migration::MigratorTrait;

mod m20261126_000001_create_tenants;
mod m20261126_000002_create_rules;
mod m20261126_000003_create_event_ledger;
mod m20261126_000004_create_local_queue;
mod m20261203_000005_forge_tenants;
mod m20261203_000006_tenant_calls_with;
mod m20261203_000007_subject_order;
mod m20261203_000008_tenant_pause;
mod m20261203_000009_local_queue_lanes;
mod m20261203_000010_local_queue_claim_index;

/// Applies and reverts every migration of hookline, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_tenants::Migration),
            Box::new(m20261126_000002_create_rules::Migration),
            Box::new(m20261126_000003_create_event_ledger::Migration),
            Box::new(m20261126_000004_create_local_queue::Migration),
            Box::new(m20261203_000005_forge_tenants::Migration),
            Box::new(m20261203_000006_tenant_calls_with::Migration),
            Box::new(m20261203_000007_subject_order::Migration),
            Box::new(m20261203_000008_tenant_pause::Migration),
            Box::new(m20261203_000009_local_queue_lanes::Migration),
            Box::new(m20261203_000010_local_queue_claim_index::Migration),
        ]
    }
}

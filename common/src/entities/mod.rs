//! sea-orm entities of the tables created by the `migrations` crate.
//!
//! These are raw rows: secrets are still encrypted. Use [`crate::tenant::TenantStore`] for the
//! decrypted domain records.

pub mod event_ledger;
pub mod held_events;
pub mod local_queue;
pub mod rules;
pub mod subject_order;
pub mod tenants;

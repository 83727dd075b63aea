//! Shared building blocks of hookline: everything that crosses a process boundary.
//!
//! - [`amqp`]: RabbitMQ topology, connection and a self-healing link.
//! - [`envelope`]: the versioned queue message between ingress and worker.
//! - [`base_url`]: which tenant `baseUrl`s are acceptable (the SSRF guard).
//! - [`queue`]: the producer side of the event queue ([`queue::EventPublisher`]).
//! - [`rate`]: a steady rate with bursts per tenant (queue lanes, call budgets).
//! - [`rules`]: tenant rules (conditions, actions, templates) and their store.
//! - [`ledger`]: the per-tenant event ledger, also the idempotency key of every effect.
//! - [`order`]: order per subject: an older event never overwrites what a newer one set.
//! - [`held`]: the events of paused tenants, held until they are resumed.
//! - [`subject`]: what an event is about (a Jira issue, a Confluence page or blog post).
//! - [`event_key`]: one product event's key, the same whichever protocol delivered it.
//! - [`config`]: layered settings (file + `HOOKLINE_` environment) with validation.
//! - [`telemetry`]: tracing subscriber set-up.
//! - [`connect`]: the Atlassian Connect JWT core (canonical request, qsh, verify, sign).
//! - [`forge`]: the Forge remote core (invocation token, installation ids, events, system token).
//! - [`crypto`]: encryption at rest of tenant secrets (AES-256-GCM, rotatable key ids).
//! - [`tenant`]: the tenant model, its store and cache.
//! - [`entities`]: sea-orm entities of the tables created by the `migrations` crate.
//! - [`db`]: connecting to the database and applying migrations.
//! - [`stores`]: the database and every store over it, built once from the settings.

pub mod amqp;
pub mod base_url;
pub mod batch;
pub mod config;
pub mod connect;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod envelope;
pub mod event_key;
pub mod forge;
pub mod held;
pub mod ledger;
pub mod order;
pub mod queue;
pub mod rate;
pub mod rules;
pub mod shutdown;
pub mod stores;
pub mod subject;
pub mod telemetry;
pub mod tenant;
#[cfg(feature = "test-support")]
pub mod testing;

//! The worker: consumes events, loads each tenant's rules, and performs the matching actions
//! against the tenant's Jira or Confluence with JWT-signed calls. Redelivery never repeats an
//! effect: the event ledger is the idempotency key.
pub mod actions;
pub mod budget;
pub mod client;
pub mod consumer;
pub mod dispatch;
mod effect;
mod event_view;
pub mod local;
pub mod metrics;
mod order;
pub mod paused;
pub mod queue_metrics;
pub mod release;
pub mod settle;
pub mod startup;
pub mod throttle;

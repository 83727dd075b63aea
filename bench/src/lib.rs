//! hookline-bench: how fast the ingress takes signed webhooks from a real broker's point of
//! view, measured next to the broker's own confirmed-publish rate (the ceiling) in one run.
//!
//! The infrastructure modules (an in-process ingress, pre-signed requests, a load generator,
//! CPU accounting) are shared by the scenarios, so later modes (`e2e`: webhooks in, comments
//! out; `peer`: atlassian-connect-express under the same load) reuse them.
pub mod broker;
pub mod cli;
pub mod comments;
pub mod cpu;
pub mod embedded;
pub mod fixture;
pub mod forge;
pub mod harness;
pub mod load;
pub mod peer_app;
pub mod pipeline;
pub mod procs;
pub mod report;
pub mod scenarios;
pub mod signed;

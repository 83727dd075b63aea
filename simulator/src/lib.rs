//! hookline's stand-in for Jira Cloud and Confluence Cloud, for tests and benches (Atlassian
//! itself is unreachable from CI).
//!
//! - [`product`]: the product REST side, [`ProductSim`]: the endpoints the worker calls back
//!   (comments, labels, properties), every request's Connect JWT verified, effects recorded,
//!   faults injectable per tenant.
//! - [`connect`]: the app-facing side, [`ConnectSim`]: reads the app's descriptor, installs
//!   sites (signed-install or legacy), enables, disables, uninstalls them and delivers signed
//!   webhooks with Jira's retries.
//! - [`forge`]: the Forge side, [`ForgeSim`]: a JWKS of the keys signing Forge Invocation
//!   Tokens, installs (`avi:forge:installed:app`), product events with Forge's retries,
//!   scheduled triggers and `preUninstall`, and app system tokens, which the [`ProductSim`]
//!   accepts for its Forge sites at `/ex/{product}/{cloudId}` as `api.atlassian.com` does.
//! - [`both_ways`]: one product event as both its Connect webhook and its Forge event (a
//!   Connect app on Forge, mid-migration).
//! - [`payloads`]: webhook payloads shaped like the real captures in `fixtures/payloads/`.
//! - [`server`]: serving warp filters on a local port, with the ability to drop a connection
//!   without answering (which plain warp cannot do).

pub mod both_ways;
pub mod connect;
pub mod forge;
pub mod payloads;
pub mod product;
pub mod server;

pub use connect::{ConnectSim, DeliveryReport, InstallMode, SendOptions, SimTenant};
pub use forge::{ForgeApp, ForgeDelivery, ForgeSendOptions, ForgeSim, ForgeSite};

pub use product::{
    Endpoint, Fault, FaultKind, ProductSim, RecordedComment, RecordedLabel, RecordedProperty,
    RecordedRequest,
};

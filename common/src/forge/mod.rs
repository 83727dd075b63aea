//! The Forge remote protocol (docs/forge.md): the Forge Invocation Token that authenticates
//! every call from Forge ([`fit`]), the ids of an installation ([`ids`]), product events and
//! their Connect-shaped view ([`events`]), and the app system token for calling back
//! ([`token`]).
pub mod events;
pub mod fit;
pub mod ids;
pub mod token;

pub use fit::{FitError, FitExpectations, FitHeader, VerifiedFit};
pub use ids::{CloudId, InstallationId};
pub use token::SystemToken;

/// An endpoint of the remote: the key the manifest declares it under (and Forge names in a
/// token's `app.module.key`) and its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The manifest's endpoint key (at most 23 characters).
    pub key: &'static str,
    /// The route under the remote's base URL.
    pub path: &'static str,
}

/// Product events and the app's lifecycle events (triggers).
pub const EVENTS: Endpoint = Endpoint {
    key: "hookline-events",
    path: "/forge/events",
};
/// The hourly scheduled trigger that keeps each installation's system token fresh.
pub const REFRESH: Endpoint = Endpoint {
    key: "hookline-refresh",
    path: "/forge/refresh",
};
/// The preUninstall module.
pub const UNINSTALL: Endpoint = Endpoint {
    key: "hookline-uninstall",
    path: "/forge/uninstall",
};
/// The resolver of the Custom UI pages (rules admin, activity): their `invokeRemote` calls.
pub const UI: Endpoint = Endpoint {
    key: "hookline-ui",
    path: "/forge/ui",
};
/// Every endpoint of the remote.
pub const ENDPOINTS: [Endpoint; 4] = [EVENTS, REFRESH, UNINSTALL, UI];

//! What every handler can reach: cheap-to-clone handles only.
use std::sync::Arc;

use common::config::Settings;
use common::connect::Verifier;
use common::queue::EventPublisher;
use common::stores::Stores;

use crate::admin_check::AdminCheck;
use crate::body::BodyLimits;
use crate::forge::ForgeRemote;
use crate::install_keys::InstallKeys;
use crate::metrics::Metrics;
use crate::routes::descriptor::Descriptors;

/// Shared state of the ingress: one `Arc`, so a request's clone is one atomic increment.
#[derive(Clone)]
pub struct AppState(Arc<Handles>);

impl AppState {
    /// Wraps the handles.
    pub fn new(handles: Handles) -> Self {
        Self(Arc::new(handles))
    }
}

impl std::ops::Deref for AppState {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// The handles every handler can reach.
pub struct Handles {
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// The database, tenants (with their cache), rules, ledger and base-URL policy.
    pub stores: Stores,
    /// Where verified events go.
    pub publisher: Arc<dyn EventPublisher>,
    /// Signed-install public keys.
    pub install_keys: InstallKeys,
    /// Verifier of product-issued tokens.
    pub verifier: Verifier,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The descriptor of each product served, rendered once from the settings.
    pub descriptors: Descriptors,
    /// Asks the product whether a user is a site admin (who may change rules).
    pub admin_check: AdminCheck,
    /// How request bodies are read (size limit, read timeout, large-body slots).
    pub body_limits: BodyLimits,
    /// The Forge remote, when `forge.app_id` is set.
    pub forge: Option<ForgeRemote>,
}

//! The product REST side of the simulator: what Jira Cloud and Confluence Cloud answer to the
//! app's signed calls (docs/protocol.md §5).
//!
//! Every tenant lives under `http://127.0.0.1:{port}/t/{site}` (Jira) or `.../t/{site}/wiki`
//! (Confluence). Each request must carry `Authorization: JWT <token>` signed as an app signs
//! calls to the product (docs/protocol.md §2); a refused token gets 401 and changes nothing.
//!
//! A Forge site ([`ForgeSim`](crate::ForgeSim)) lives at
//! `http://127.0.0.1:{port}/ex/{product}/{cloudId}` instead, as `api.atlassian.com` serves it,
//! with the same endpoints (Confluence paths keep their `/wiki` prefix) and
//! `Authorization: Bearer <app system token>`: only tokens issued for that site, neither
//! expired nor revoked, pass (401 otherwise).
//!
//! Order of checks: unknown site (404) → JWT or bearer token (401) → permissions not granted
//! yet ([`ProductSim::deny_until_granted`], 403) → the first queued [`Fault`] matching the
//! endpoint → the endpoint. Faults therefore only ever consume requests that were signed
//! correctly, so a test that queues "500 once" knows which request gets it. A global latency
//! ([`ProductSim::set_latency`]) comes before all of that.

mod address;
mod auth;
mod bearer;
mod confluence;
mod faults;
mod handler;
mod jira;
mod permissions;
mod records;
mod reply;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::tenant::ProductType;

pub use faults::{Endpoint, Fault, FaultKind};
pub use records::{RecordedComment, RecordedLabel, RecordedProperty, RecordedRequest};

use crate::server::{serve, RunningServer};
use state::{Shared, TenantSpec};

/// A running simulated Jira/Confluence Cloud; cheap to clone (clones share the same server
/// and records). The server stops when the last clone is dropped.
#[derive(Clone)]
pub struct ProductSim {
    state: Shared,
    server: Arc<RunningServer>,
}

impl ProductSim {
    /// Binds `127.0.0.1:0` and serves the product endpoints in a spawned task.
    ///
    /// # Panics
    /// If no local port can be bound.
    pub async fn start() -> ProductSim {
        let state = Shared::default();
        let server = serve(handler::filter(state.clone()));
        tracing::debug!(address = %server.address(), "product simulator listening");
        ProductSim {
            state,
            server: Arc::new(server),
        }
    }

    /// The address the simulator listens on.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// Registers a site (or re-registers it, keeping its records) and returns its baseUrl:
    /// `http://127.0.0.1:{port}/t/{site}` for Jira, `.../t/{site}/wiki` for Confluence, where
    /// `site` is a url-safe name derived from `client_key`.
    pub fn add_tenant(
        &self,
        client_key: &str,
        shared_secret: &str,
        product: ProductType,
        app_key: &str,
    ) -> String {
        let spec = TenantSpec {
            client_key,
            shared_secret,
            product,
            app_key,
        };
        let site = self.state.lock().upsert(spec);
        format!(
            "http://{}{}",
            self.address(),
            state::base_path(&site, product)
        )
    }

    /// The baseUrl of a registered tenant (a Forge site's: its `apiBaseUrl`).
    pub fn base_url(&self, client_key: &str) -> Option<String> {
        let path = self.state.lock().by_client_key(client_key)?.base_path();
        Some(format!("http://{}{path}", self.address()))
    }

    /// Replaces a tenant's sharedSecret, as a re-install does; tokens signed with the old
    /// secret fail from now on.
    ///
    /// # Panics
    /// If no tenant was added with `client_key` (a mistake in the test).
    pub fn set_secret(&self, client_key: &str, shared_secret: &str) {
        let mut state = self.state.lock();
        let tenant = state
            .by_client_key(client_key)
            .unwrap_or_else(|| panic!("no simulated tenant has the clientKey {client_key}"));
        tenant.secret = common::connect::SharedSecret::new(shared_secret);
    }

    /// Comments created for a tenant, in arrival order.
    pub fn comments(&self, client_key: &str) -> Vec<RecordedComment> {
        self.read(client_key, |tenant| tenant.comments.clone())
    }

    /// Labels added for a tenant, in arrival order.
    pub fn labels(&self, client_key: &str) -> Vec<RecordedLabel> {
        self.read(client_key, |tenant| tenant.labels.clone())
    }

    /// A tenant's entity properties with their latest values, in order of first creation.
    pub fn properties(&self, client_key: &str) -> Vec<RecordedProperty> {
        self.read(client_key, |tenant| {
            let properties = tenant.properties.iter();
            properties.map(|stored| stored.record.clone()).collect()
        })
    }

    /// Every request that reached a tenant, refused ones included, in arrival order.
    pub fn requests(&self, client_key: &str) -> Vec<RecordedRequest> {
        self.read(client_key, |tenant| tenant.requests.clone())
    }

    /// How many requests failed JWT or bearer-token verification (any tenant) or addressed
    /// an unknown site.
    pub fn rejected_requests(&self) -> usize {
        self.state.lock().rejected
    }

    /// Queues a fault for a tenant; faults apply in the order they were queued.
    ///
    /// # Panics
    /// If no tenant was added with `client_key`.
    pub fn inject(&self, client_key: &str, fault: Fault) {
        let mut state = self.state.lock();
        let tenant = state
            .by_client_key(client_key)
            .unwrap_or_else(|| panic!("no simulated tenant has the clientKey {client_key}"));
        tenant.faults.push_back(fault);
    }

    /// Removes every queued fault of a tenant.
    pub fn clear_faults(&self, client_key: &str) {
        if let Some(tenant) = self.state.lock().by_client_key(client_key) {
            tenant.faults.clear();
        }
    }

    /// Delays every request of every tenant by `latency` (zero: no delay), e.g. to bench
    /// against "a Jira answering in 100 ms".
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().latency = latency;
    }

    fn read<T: Default>(&self, client_key: &str, read: impl FnOnce(&state::Tenant) -> T) -> T {
        let mut state = self.state.lock();
        state
            .by_client_key(client_key)
            .map(|tenant| read(tenant))
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for ProductSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductSim")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

//! The real ingress, in this process, against real PostgreSQL and RabbitMQ: a fresh database,
//! a unique queue prefix, and (unless told to share) a tokio runtime of its own, so the load
//! generator's scheduler and the ingress's do not take turns on one queue of tasks.
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use common::amqp::Topology;
use common::config::Settings;
use common::tenant::{ClientKey, TenantState};
use common::testing::{amqp_url, unique_prefix, TestDatabase};
use ingress::startup::Application;
use ingress::state::AppState;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cpu::INGRESS_THREAD;
use crate::signed::BenchTenant;

/// A key for secrets at rest; the figures do not depend on it.
pub(crate) const ENCRYPTION_KEYS: &str = "bench=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const LINK_CLOSE_GRACE: Duration = Duration::from_millis(500);

/// A running ingress under test.
pub struct IngressUnderTest {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its exchanges and queues.
    pub topology: Topology,
    state: AppState,
    handle: Handle,
    own_runtime: Option<Runtime>,
    server: JoinHandle<()>,
    shutdown: CancellationToken,
    _database: TestDatabase,
}

impl IngressUnderTest {
    /// Builds and starts the ingress on `threads` worker threads of its own runtime, or on the
    /// caller's runtime when `threads` is 0, with `extra` settings (`HOOKLINE_*` variables).
    pub async fn start(threads: usize, extra: Vec<(String, String)>) -> anyhow::Result<Self> {
        let own_runtime = (threads > 0)
            .then(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name(INGRESS_THREAD)
                    .enable_all()
                    .build()
            })
            .transpose()
            .context("building the ingress's runtime")?;
        let handle = own_runtime
            .as_ref()
            .map_or_else(Handle::current, |runtime| runtime.handle().clone());
        match Self::launch(&handle, extra).await {
            Ok(launched) => Ok(Self {
                handle,
                own_runtime,
                ..launched
            }),
            Err(error) => {
                // Dropping a runtime would block, which async code must not do.
                if let Some(runtime) = own_runtime {
                    runtime.shutdown_background();
                }
                Err(error)
            }
        }
    }

    /// Creates the database and builds and serves the ingress on `handle`'s runtime (so the
    /// broker link, the pool and the listener live there).
    async fn launch(handle: &Handle, extra: Vec<(String, String)>) -> anyhow::Result<Self> {
        let database = TestDatabase::postgres().await;
        let prefix = unique_prefix();
        let settings = settings(&database.url, &prefix, extra)?;
        let topology = Topology::new(&prefix, &settings.amqp.retry_delays_secs);
        let shutdown = CancellationToken::new();
        let application = handle
            .spawn(Application::build(settings, shutdown.clone()))
            .await?
            .context("building the ingress")?;
        if !application.state().publisher.is_ready() {
            shutdown.cancel();
            anyhow::bail!("the ingress could not reach RabbitMQ at {}", amqp_url());
        }
        let address = SocketAddr::from(([127, 0, 0, 1], application.port()));
        let state = application.state().clone();
        let server = handle.spawn(application.run_until_stopped());
        Ok(Self {
            address,
            topology,
            state,
            handle: handle.clone(),
            own_runtime: None,
            server,
            shutdown,
            _database: database,
        })
    }

    /// Installs and enables the tenants through the tenant store, as the lifecycle routes do.
    pub async fn install(&self, tenants: &[BenchTenant]) -> anyhow::Result<()> {
        let store = self.state.stores.tenants.clone();
        let payloads = tenants
            .iter()
            .map(BenchTenant::install_payload)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let installing = async move {
            for payload in payloads {
                store.save_install(&payload).await?;
                let client_key = ClientKey::parse(payload.client_key.as_str())?;
                store.set_state(&client_key, TenantState::Enabled).await?;
            }
            anyhow::Ok(())
        };
        self.handle
            .spawn(installing)
            .await?
            .context("installing the benchmark tenants")
    }

    /// Stops the ingress (letting in-flight requests finish), counts what reached the work
    /// queue, and deletes the queues and the database.
    pub async fn stop(self) -> anyhow::Result<u32> {
        self.shutdown.cancel();
        if tokio::time::timeout(STOP_TIMEOUT, self.server)
            .await
            .is_err()
        {
            tracing::warn!("the ingress did not stop in time");
        }
        // The broker link closes its connection on the same token, on this runtime's reactor;
        // shutting the runtime down under it would turn a clean close into I/O errors.
        tokio::time::sleep(LINK_CLOSE_GRACE).await;
        if let Some(runtime) = self.own_runtime {
            // A runtime cannot be dropped from async code; its broker link closes meanwhile.
            tokio::task::spawn_blocking(move || runtime.shutdown_timeout(STOP_TIMEOUT)).await?;
        }
        crate::broker::count_and_delete(&self.topology).await
    }
}

fn settings(
    database_url: &str,
    prefix: &str,
    extra: Vec<(String, String)>,
) -> anyhow::Result<Settings> {
    let vars = [
        ("HOOKLINE_SERVER__PORT", "0".to_owned()),
        ("HOOKLINE_DATABASE__URL", database_url.to_owned()),
        ("HOOKLINE_AMQP__URL", amqp_url()),
        ("HOOKLINE_AMQP__PREFIX", prefix.to_owned()),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            ENCRYPTION_KEYS.to_owned(),
        ),
    ];
    let vars = vars.map(|(name, value)| (name.to_owned(), value));
    Settings::load_from(None, vars.into_iter().chain(extra))
        .context("the benchmark's ingress settings")
}

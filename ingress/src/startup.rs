//! Building and running the ingress: `Application::build(settings) → port() → run_until_stopped()`.
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::amqp::Topology;
use common::base_url::BaseUrlPolicy;
use common::config::Settings;
use common::connect::Verifier;
use common::ledger::LedgerStore;
use common::queue::EventPublisher;
use common::rules::RuleStore;
use common::tenant::TenantStore;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::admin_check::AdminCheck;
use crate::body::BodyLimits;
use crate::install_keys::InstallKeys;
use crate::metrics::Metrics;
use crate::publisher::{connection_name, AmqpPublisher};
use crate::routes::descriptor::Descriptors;
use crate::routes::routes;
use crate::state::{AppState, Handles};

/// How long start-up waits for the broker before serving anyway (answering 503 until it is up).
const BROKER_WAIT: Duration = Duration::from_secs(10);

/// A bound, ready-to-run ingress.
pub struct Application {
    address: SocketAddr,
    server: Pin<Box<dyn Future<Output = ()> + Send>>,
    state: AppState,
    shutdown: CancellationToken,
    grace: Duration,
    /// Stops the broker link when dropped: only after the server has drained, because
    /// in-flight webhooks still publish during the grace period.
    broker_link: Option<DropGuard>,
}

impl Application {
    /// Connects to the database (migrating it) and the broker, and binds the listener.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let Some(amqp_url) = settings.amqp.url.clone() else {
            bail!("amqp.url is not set: the ingress needs RabbitMQ (or run `hookline up` for the embedded pipeline)");
        };
        let metrics = Metrics::new();
        let broker_link = CancellationToken::new();
        let topology = Topology::new(&settings.amqp.prefix, &settings.amqp.retry_delays_secs);
        let publisher = AmqpPublisher::start(
            &amqp_url,
            connection_name(&settings.app.key, &settings.amqp.prefix),
            topology,
            &settings.app.key,
            Duration::from_millis(settings.amqp.confirm_timeout_ms),
            metrics.clone(),
            broker_link.clone(),
        );
        if !publisher.wait_ready(BROKER_WAIT).await {
            tracing::warn!("the broker is not reachable yet; webhooks get 503 until it is");
        }
        let broker_link = broker_link.drop_guard();
        let mut application =
            Self::build_with(settings, Arc::new(publisher), metrics, shutdown).await?;
        application.broker_link = Some(broker_link);
        Ok(application)
    }

    /// Builds the ingress around a given publisher (the embedded mode's in-process queue).
    pub async fn build_with(
        settings: Settings,
        publisher: Arc<dyn EventPublisher>,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        metrics.expect_webhooks(&settings.app);
        let db = common::db::open(&settings)
            .await
            .context("opening and migrating the database")?;
        let keyring = settings.keyring()?;
        let tenants = TenantStore::new(
            db.clone(),
            Arc::new(keyring),
            Duration::from_secs(settings.database.tenant_cache_ttl_secs),
        );
        let base_urls = BaseUrlPolicy::new(&settings.app.allowed_base_url_hosts);
        let admin_check = AdminCheck::new(
            base_urls.clone(),
            Duration::from_secs(settings.worker.http_connect_timeout_secs),
            Duration::from_secs(settings.worker.http_timeout_secs),
        )
        .context("building the admin check client")?;
        let server = &settings.server;
        let body_limits = BodyLimits::new(
            server.body_limit_bytes,
            Duration::from_secs(server.read_timeout_secs),
            server.large_body_bytes,
            usize::try_from(server.large_bodies_at_once).unwrap_or(1),
        );
        let state = AppState::new(Handles {
            body_limits,
            install_keys: InstallKeys::new(&settings.app.install_keys_url)
                .context("building the install key client")?,
            verifier: Verifier::new(settings.security.jwt_leeway_secs),
            base_urls,
            descriptors: Descriptors::render(&settings.app),
            rules: RuleStore::new(
                db.clone(),
                Duration::from_secs(settings.worker.rules_cache_ttl_secs),
            ),
            ledger: LedgerStore::new(db.clone()),
            admin_check,
            db,
            tenants,
            publisher,
            metrics,
            settings: Arc::new(settings),
        });
        Self::bind(state, shutdown)
    }

    fn bind(state: AppState, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let server = &state.settings.server;
        let address: SocketAddr = format!("{}:{}", server.host, server.port)
            .parse()
            .with_context(|| format!("server.host {:?} is not an IP address", server.host))?;
        let grace = Duration::from_secs(server.shutdown_grace_secs);
        let stop = shutdown.clone();
        let read_timeout = Duration::from_secs(server.read_timeout_secs);
        // hyper directly (warp::serve has no such knob): a client must send its headers
        // within `server.read_timeout_secs`, or its connection is closed (slow loris).
        let service = warp::service(routes(state.clone()));
        let make_service = warp::hyper::service::make_service_fn(move |_| {
            let service = service.clone();
            let service = warp::hyper::service::service_fn(move |request| {
                crate::connection::close_when_body_unread(service.clone(), request)
            });
            async move { Ok::<_, std::convert::Infallible>(service) }
        });
        let server = warp::hyper::Server::try_bind(&address)
            .with_context(|| format!("binding {address}"))?
            .http1_header_read_timeout(read_timeout)
            .serve(make_service);
        let address = server.local_addr();
        let server = server.with_graceful_shutdown(async move { stop.cancelled().await });
        let server = async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "the HTTP server failed");
            }
        };
        tracing::info!(%address, "ingress listening");
        Ok(Self {
            address,
            server: Box::pin(server),
            state,
            shutdown,
            grace,
            broker_link: None,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The shared state (tests reach the tenant store through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the shutdown token fires, then lets in-flight requests finish within the
    /// grace period.
    pub async fn run_until_stopped(self) {
        let Self {
            server,
            shutdown,
            grace,
            broker_link,
            ..
        } = self;
        let mut server = server;
        tokio::select! {
            () = &mut server => return,
            () = shutdown.cancelled() => {}
        }
        if tokio::time::timeout(grace, server).await.is_err() {
            tracing::warn!(
                ?grace,
                "in-flight requests did not finish within the grace period"
            );
        }
        drop(broker_link);
        tracing::info!("ingress stopped");
    }
}

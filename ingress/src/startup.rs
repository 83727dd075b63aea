//! Building and running the ingress: `Application::build(settings) → port() → run_until_stopped()`.
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::amqp::{Brokers, Topology};
use common::config::Settings;
use common::connect::Verifier;
use common::queue::lane::{FairPublisher, LanePublisher};
use common::stores::Stores;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::admin_check::AdminCheck;
use crate::body::BodyLimits;
use crate::forge::ForgeRemote;
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
    /// The broker link, stopped only after the server has drained (in-flight webhooks still
    /// publish during the grace period), and waited for so the process exits after its
    /// connection closed cleanly.
    broker: Option<(DropGuard, AmqpPublisher)>,
}

impl Application {
    /// Opens the stores, connects to the broker, and binds the listener.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let stores = Stores::open(&settings).await?;
        Self::build_on_broker(settings, stores, shutdown).await
    }

    /// Connects to the broker and binds the listener, over `stores` (the one-process pipeline
    /// shares them with its worker).
    pub async fn build_on_broker(
        settings: Settings,
        stores: Stores,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let Some(brokers) = Brokers::from_settings(&settings.amqp) else {
            bail!("neither amqp.url nor amqp.urls is set: the ingress needs RabbitMQ (or run `hookline up` for the embedded pipeline)");
        };
        let metrics = Metrics::new();
        let broker_link = CancellationToken::new();
        let topology = Topology::new(&settings.amqp.prefix, &settings.amqp.retry_delays_secs);
        let publisher = AmqpPublisher::start(
            brokers,
            connection_name(&settings.app.key, &settings.amqp.prefix),
            topology,
            &settings.app.key,
            settings.amqp.confirm_timeout(),
            metrics.clone(),
            broker_link.clone(),
        );
        if !publisher.wait_ready(BROKER_WAIT).await {
            tracing::warn!("the broker is not reachable yet; webhooks get 503 until it is");
        }
        let broker = (broker_link.drop_guard(), publisher.clone());
        let mut application =
            Self::build_with(settings, stores, Arc::new(publisher), metrics, shutdown)?;
        application.broker = Some(broker);
        Ok(application)
    }

    /// Builds the ingress over `stores` and a given queue (the one-process pipeline shares its
    /// stores with the worker; the embedded mode publishes to its local queue). Each event goes
    /// to the lane its tenant's share picks (`fairness`).
    pub fn build_with(
        settings: Settings,
        stores: Stores,
        queue: Arc<dyn LanePublisher>,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        metrics.expect_webhooks(&settings.app);
        let overflowed = metrics.clone();
        let publisher = FairPublisher::from_settings(queue, &settings.fairness).on_overflow(
            Arc::new(move |event| {
                overflowed.event_overflowed(event.product.as_str());
            }),
        );
        let outbound = &settings.outbound;
        let admin_check = AdminCheck::new(
            stores.base_urls.clone(),
            outbound.connect_timeout(),
            outbound.timeout(),
        )
        .context("building the admin check client")?;
        let server = &settings.server;
        let body_limits = BodyLimits::new(
            server.body_limit_bytes,
            server.read_timeout(),
            server.large_body_bytes,
            usize::try_from(server.large_bodies_at_once).unwrap_or(1),
        );
        let forge = ForgeRemote::from_settings(&settings)?;
        let state = AppState::new(Handles {
            body_limits,
            forge,
            install_keys: InstallKeys::new(&settings.app.install_keys_url)
                .context("building the install key client")?,
            verifier: Verifier::new(settings.security.jwt_leeway_secs),
            descriptors: Descriptors::render(&settings.app),
            admin_check,
            stores,
            publisher: Arc::new(publisher),
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
        let grace = server.shutdown_grace();
        let stop = shutdown.clone();
        let read_timeout = server.read_timeout();
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
            broker: None,
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
            broker,
            ..
        } = self;
        let mut server = server;
        tokio::select! {
            // Drained already (shutdown with nothing in flight), or failed on its own.
            () = &mut server => {}
            () = shutdown.cancelled() => {
                if tokio::time::timeout(grace, server).await.is_err() {
                    tracing::warn!(
                        ?grace,
                        "in-flight requests did not finish within the grace period"
                    );
                }
            }
        }
        if let Some((stop, publisher)) = broker {
            drop(stop);
            publisher.stopped().await;
        }
        tracing::info!("ingress stopped");
    }
}

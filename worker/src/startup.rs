//! Building and running a worker: `Worker::build(settings) → run_until_stopped()`.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::amqp::Topology;
use common::base_url::BaseUrlPolicy;
use common::config::Settings;
use common::ledger::LedgerStore;
use common::rules::RuleStore;
use common::tenant::TenantStore;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use warp::Filter;

use crate::client::ProductClient;
use crate::consumer::Consumer;
use crate::dispatch::Dispatcher;
use crate::metrics::Metrics;
use crate::throttle::Throttle;

/// How long start-up waits for the broker before consuming anyway (it keeps retrying).
const BROKER_WAIT: Duration = Duration::from_secs(10);

/// A worker ready to consume.
pub struct Worker {
    consumer: Consumer,
    dispatcher: Arc<Dispatcher>,
    metrics_address: SocketAddr,
    grace: Duration,
}

impl Worker {
    /// Connects to the database and the broker and binds the metrics endpoint.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let dispatcher = build_dispatcher(&settings, Metrics::new()).await?;
        Self::build_with(settings, dispatcher, shutdown).await
    }

    /// A worker around a given dispatcher (the one-process pipeline shares the ingress's
    /// tenant store with it).
    pub async fn build_with(
        settings: Settings,
        dispatcher: Dispatcher,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let Some(amqp_url) = settings.amqp.url.clone() else {
            bail!("amqp.url is not set: the worker needs RabbitMQ (or run `hookline up` for the embedded pipeline)");
        };
        let metrics = dispatcher.metrics.clone();
        let dispatcher = Arc::new(dispatcher);
        let topology = Topology::new(&settings.amqp.prefix, &settings.amqp.retry_delays_secs);
        let name = format!("{}-worker-{}", settings.app.key, settings.amqp.prefix);
        let consumer = Consumer::start(
            &amqp_url,
            &name,
            topology,
            settings.worker.prefetch,
            dispatcher.clone(),
            metrics.clone(),
            shutdown.clone(),
        );
        if !consumer.wait_ready(BROKER_WAIT).await {
            tracing::warn!("the broker is not reachable yet; the worker keeps trying");
        }
        crate::queue_metrics::spawn_for(&settings, &amqp_url, &metrics, shutdown.clone())?;
        let metrics_address = serve_metrics(&settings, metrics, shutdown)?;
        Ok(Self {
            consumer,
            dispatcher,
            metrics_address,
            grace: Duration::from_secs(settings.server.shutdown_grace_secs),
        })
    }

    /// Where `/metrics` and `/healthz` are served.
    pub fn metrics_address(&self) -> SocketAddr {
        self.metrics_address
    }

    /// The dispatcher (tests reach the stores through it).
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Consumes until shutdown, then drains in-flight events within the grace period.
    pub async fn run_until_stopped(self) {
        self.consumer.run(self.grace).await;
        tracing::info!("worker stopped");
    }
}

/// The dispatcher with its stores, client and throttle, from the settings.
pub async fn build_dispatcher(settings: &Settings, metrics: Metrics) -> anyhow::Result<Dispatcher> {
    let db = common::db::open(settings)
        .await
        .context("opening and migrating the database")?;
    let keyring = settings.keyring()?;
    let worker = &settings.worker;
    let client = ProductClient::new(
        Duration::from_secs(worker.http_connect_timeout_secs),
        Duration::from_secs(worker.http_timeout_secs),
        metrics.clone(),
    )
    .context("building the HTTP client")?;
    Ok(Dispatcher {
        tenants: TenantStore::new(
            db.clone(),
            Arc::new(keyring),
            Duration::from_secs(settings.database.tenant_cache_ttl_secs),
        ),
        rules: RuleStore::new(db.clone(), Duration::from_secs(worker.rules_cache_ttl_secs)),
        ledger: LedgerStore::new(db),
        client,
        throttle: Throttle::new(),
        base_urls: BaseUrlPolicy::new(&settings.app.allowed_base_url_hosts),
        metrics,
        max_attempts: worker.max_attempts,
        // Two calls (look, then act) of up to three tries each, plus slack.
        action_lease: Duration::from_secs(
            worker
                .http_timeout_secs
                .saturating_mul(6)
                .saturating_add(10),
        ),
    })
}

fn serve_metrics(
    settings: &Settings,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let address: SocketAddr = format!("{}:{}", settings.server.host, settings.worker.metrics_port)
        .parse()
        .with_context(|| {
            format!(
                "server.host {:?} is not an IP address",
                settings.server.host
            )
        })?;
    let healthz = warp::path!("healthz").map(|| warp::reply::json(&json!({ "status": "ok" })));
    let render = warp::path!("metrics").map(move || {
        warp::reply::with_header(
            metrics.render(),
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        )
    });
    let (address, server) = warp::serve(warp::get().and(healthz.or(render)))
        .try_bind_with_graceful_shutdown(address, async move { shutdown.cancelled().await })
        .with_context(|| format!("binding the metrics endpoint {address}"))?;
    tokio::spawn(server);
    Ok(address)
}

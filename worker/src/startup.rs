//! Building and running a worker: `Worker::build(settings) → run_until_stopped()`.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::amqp::{Brokers, Topology};
use common::config::Settings;
use common::queue::lane::FairPublisher;
use common::stores::Stores;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use warp::Filter;

use crate::budget::CallBudget;
use crate::client::ProductClient;
use crate::consumer::Consumer;
use crate::dispatch::Dispatcher;
use crate::metrics::Metrics;
use crate::paused::PausedTenants;
use crate::settle::{self, Handling};
use crate::throttle::Throttle;

/// How long start-up waits for the broker before consuming anyway (it keeps retrying).
const BROKER_WAIT: Duration = Duration::from_secs(10);

/// A worker ready to consume.
pub struct Worker {
    consumer: Consumer,
    handling: Handling,
    metrics_address: SocketAddr,
    grace: Duration,
    queue_metrics: tokio::task::JoinHandle<()>,
    releaser: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Opens the stores, connects to the broker and binds the metrics endpoint.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let stores = Stores::open(&settings).await?;
        let dispatcher = build_dispatcher(&settings, stores, Metrics::new())?;
        Self::build_with(settings, dispatcher, shutdown).await
    }

    /// A worker around a given dispatcher (the one-process pipeline shares its stores with
    /// the ingress).
    pub async fn build_with(
        settings: Settings,
        dispatcher: Dispatcher,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let Some(brokers) = Brokers::from_settings(&settings.amqp) else {
            bail!("neither amqp.url nor amqp.urls is set: the worker needs RabbitMQ (or run `hookline up` for the embedded pipeline)");
        };
        let metrics = dispatcher.metrics.clone();
        let topology = Topology::new(&settings.amqp.prefix, &settings.amqp.retry_delays_secs);
        let name = format!("{}-worker-{}", settings.app.key, settings.amqp.prefix);
        let consumer = Consumer::start(
            brokers.clone(),
            &name,
            topology,
            settings.worker.prefetch,
            metrics.clone(),
            shutdown.clone(),
        );
        if !consumer.wait_ready(BROKER_WAIT).await {
            tracing::warn!("the broker is not reachable yet; the worker keeps trying");
        }
        let queue_metrics =
            crate::queue_metrics::spawn_for(&settings, &brokers, &metrics, shutdown.clone())?;
        // Resumed tenants' held events go back to the lanes on the consumer's channel, at
        // their tenant's share.
        let publisher = consumer.publisher(&settings.app.key, settings.amqp.confirm_timeout());
        let releaser = crate::release::spawn(
            dispatcher.held.clone(),
            Arc::new(FairPublisher::from_settings(
                Arc::new(publisher),
                &settings.fairness,
            )),
            metrics.clone(),
            shutdown.clone(),
        );
        let metrics_address = serve_metrics(&settings, metrics, shutdown)?;
        Ok(Self {
            consumer,
            handling: handling(&settings, dispatcher),
            metrics_address,
            grace: settings.server.shutdown_grace(),
            queue_metrics,
            releaser,
        })
    }

    /// Where `/metrics` and `/healthz` are served.
    pub fn metrics_address(&self) -> SocketAddr {
        self.metrics_address
    }

    /// The dispatcher (tests reach the stores through it).
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.handling.dispatcher
    }

    /// Consumes until shutdown, then drains in-flight events within the grace period.
    pub async fn run_until_stopped(self) {
        settle::run(self.consumer, self.handling, self.grace).await;
        let _ = self.queue_metrics.await;
        let _ = self.releaser.await;
        tracing::info!("worker stopped");
    }
}

/// What every delivery is handled with, from the settings.
pub fn handling(settings: &Settings, dispatcher: Dispatcher) -> Handling {
    Handling {
        metrics: dispatcher.metrics.clone(),
        dispatcher: Arc::new(dispatcher),
        retry_delays_secs: settings.amqp.retry_delays_secs.clone().into(),
    }
}

/// The dispatcher over `stores`, with its client and throttle, from the settings.
pub fn build_dispatcher(
    settings: &Settings,
    stores: Stores,
    metrics: Metrics,
) -> anyhow::Result<Dispatcher> {
    let outbound = &settings.outbound;
    let client = ProductClient::new(
        outbound.connect_timeout(),
        outbound.timeout(),
        metrics.clone(),
    )
    .context("building the HTTP client")?;
    Ok(Dispatcher {
        paused: PausedTenants::new(stores.tenants.clone()),
        held: stores.held,
        tenants: stores.tenants,
        rules: stores.rules,
        ledger: stores.ledger,
        order: common::order::OrderStore::new(stores.db.clone()),
        base_urls: stores.base_urls,
        forge_api_base_urls: common::base_url::BaseUrlPolicy::new(
            &settings.forge.api_base_url_hosts,
        ),
        permission_grace: settings.forge.permission_grace(),
        token_wait: settings.forge.token_wait(),
        event_keys: settings.forge.app_id.is_some(),
        client,
        throttle: Throttle::new(),
        budget: CallBudget::new(outbound.tenant_calls_per_second, outbound.tenant_call_burst),
        metrics,
        max_attempts: settings.worker.max_attempts,
        // Two calls (look, then act) of up to three tries each, plus slack.
        action_lease: outbound.timeout() * 6 + Duration::from_secs(10),
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

//! The whole pipeline in one process: the ingress and a worker over one [`Stores`] (the
//! database opened and migrated once; a change either half makes is seen by the other at
//! once). On the embedded default they share a SQLite database and the table-backed local
//! queue; with a broker (`amqp.url` or `amqp.urls`) and a `database.url` set they use RabbitMQ and PostgreSQL exactly as
//! separate services would.
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use common::config::Settings;
use common::queue::lane::FairPublisher;
use common::queue::local::LocalQueue;
use common::stores::Stores;
use ingress::startup::Application;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use worker::dispatch::Dispatcher;
use worker::local::LocalSource;
use worker::startup::{build_dispatcher, handling, Worker};

/// A running pipeline.
pub struct Pipeline {
    /// The ingress's port.
    pub port: u16,
    /// The ingress's state (tenant store, settings).
    pub ingress: ingress::state::AppState,
    /// The worker's dispatcher (rule store, ledger).
    pub dispatcher: Arc<Dispatcher>,
    /// The local queue, in the embedded mode.
    pub local_queue: Option<LocalQueue>,
    tasks: Vec<JoinHandle<()>>,
    /// The embedded mode's lock on its data directory, held until the pipeline stopped.
    _lock: Option<std::fs::File>,
}

impl Pipeline {
    /// Starts the ingress and a worker; both stop when `shutdown` fires.
    pub async fn start(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        // The embedded mode locks its data directory even when its database is elsewhere.
        if settings.database.url.is_none() || !settings.amqp.uses_broker() {
            std::fs::create_dir_all(&settings.data_dir.0).with_context(|| {
                format!(
                    "creating the data directory {}",
                    settings.data_dir.0.display()
                )
            })?;
        }
        if settings.amqp.uses_broker() {
            Self::with_broker(settings, shutdown).await
        } else {
            Self::embedded(settings, shutdown).await
        }
    }

    async fn with_broker(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let stores = Stores::open(&settings).await?;
        let application =
            Application::build_on_broker(settings.clone(), stores.clone(), shutdown.clone())
                .await?;
        let dispatcher = build_dispatcher(&settings, stores, worker::metrics::Metrics::new())?;
        // The worker releases resumed tenants' held events itself.
        let worker = Worker::build_with(settings, dispatcher, shutdown).await?;
        let dispatcher = worker.dispatcher().clone();
        Ok(Self {
            port: application.port(),
            ingress: application.state().clone(),
            dispatcher,
            local_queue: None,
            _lock: None,
            tasks: vec![
                tokio::spawn(application.run_until_stopped()),
                tokio::spawn(worker.run_until_stopped()),
            ],
        })
    }

    async fn embedded(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let lock = lock_data_dir(&settings.data_dir.0)?;
        let stores = Stores::open(&settings).await?;
        let queue = LocalQueue::with_batcher(stores.db.clone(), stores.writes.clone());
        let application = Application::build_with(
            settings.clone(),
            stores.clone(),
            Arc::new(queue.clone()),
            ingress::metrics::Metrics::new(),
            shutdown.clone(),
        )?;
        let source = LocalSource::start(
            queue.clone(),
            &stores.ledger,
            settings.worker.prefetch,
            shutdown.clone(),
        )
        .await;
        let dispatcher = build_dispatcher(&settings, stores, worker::metrics::Metrics::new())?;
        let handling = handling(&settings, dispatcher);
        let dispatcher = handling.dispatcher.clone();
        // Resumed tenants' held events go back into the local queue, at their tenant's share.
        let releaser = worker::release::spawn(
            dispatcher.held.clone(),
            Arc::new(FairPublisher::from_settings(
                Arc::new(queue.clone()),
                &settings.fairness,
            )),
            dispatcher.metrics.clone(),
            shutdown,
        );
        let grace = settings.server.shutdown_grace();
        Ok(Self {
            port: application.port(),
            ingress: application.state().clone(),
            dispatcher,
            local_queue: Some(queue),
            _lock: Some(lock),
            tasks: vec![
                tokio::spawn(application.run_until_stopped()),
                tokio::spawn(worker::settle::run(source, handling, grace)),
                releaser,
            ],
        })
    }

    /// Waits until both halves have stopped (after the shutdown token fired).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Locks `{data_dir}/hookline.lock` for this process: the local queue has one consumer, which
/// takes back at start every lease an earlier run left (worker/src/local.rs), and that is
/// only safe while no other process consumes it. The operating system releases the lock when
/// the process ends, however it ends.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("hookline.lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another hookline process is running on the data directory {} (it holds {}); stop it, or give this one its own --data-dir",
            data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {}", path.display()))
        }
    }
}

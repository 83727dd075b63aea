//! `hookline up` as a new user runs it (the README's first command): the whole pipeline in this
//! process on the embedded default, SQLite in a fresh data directory and the table-backed local
//! queue, on a tokio runtime of its own with two threads (what `#[tokio::main]` gives it on
//! this machine). The product simulator is every tenant's Jira; tenants and their rule (a
//! comment on every created issue) are stored beforehand, as in the e2e pipeline.
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use common::batch::CommitStats;
use common::config::Settings;
use common::queue::local::LocalQueue;
use hookline::standalone::Pipeline;
use simulator::ProductSim;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::harness::ENCRYPTION_KEYS;
use crate::signed::BenchTenant;

/// Thread name of the embedded pipeline's runtime (ingress and worker together).
pub const EMBEDDED_THREAD: &str = "hookline-up";
const THREADS: usize = 2;
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `hookline up`.
pub struct EmbeddedUnderTest {
    /// Where its ingress listens.
    pub address: SocketAddr,
    /// Jira, as its worker calls it.
    pub jira: ProductSim,
    /// The installed tenants.
    pub tenants: Vec<BenchTenant>,
    /// Its local queue (depth and group-commit figures).
    pub queue: LocalQueue,
    runtime: Runtime,
    running: JoinHandle<()>,
    shutdown: CancellationToken,
    _data_dir: tempfile::TempDir,
}

impl EmbeddedUnderTest {
    /// Installs `tenants` (each with one comment rule) in a fresh data directory and starts the
    /// pipeline with the default settings plus `extra` (`HOOKLINE_*` variables).
    pub async fn start(
        tenants: usize,
        jira_latency: Duration,
        extra: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir().context("creating a data directory")?;
        let settings = settings(data_dir.path(), extra)?;
        let jira = ProductSim::start().await;
        jira.set_latency(jira_latency);
        let tenants: Vec<_> = (0..tenants).map(BenchTenant::numbered).collect();
        crate::pipeline::install(&settings, &jira, &tenants).await?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name(EMBEDDED_THREAD)
            .enable_all()
            .build()
            .context("building the pipeline's runtime")?;
        let shutdown = CancellationToken::new();
        let started = runtime
            .spawn(Pipeline::start(settings, shutdown.clone()))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|started| started.context("starting hookline up"));
        let pipeline = match started {
            Ok(pipeline) => pipeline,
            Err(error) => {
                runtime.shutdown_background();
                return Err(error);
            }
        };
        let address = SocketAddr::from(([127, 0, 0, 1], pipeline.port));
        let queue = pipeline
            .local_queue
            .clone()
            .context("hookline up did not start on the embedded queue")?;
        let running = runtime.spawn(pipeline.wait());
        Ok(Self {
            address,
            jira,
            tenants,
            queue,
            runtime,
            running,
            shutdown,
            _data_dir: data_dir,
        })
    }

    /// Events in the local queue now.
    pub async fn depth(&self) -> anyhow::Result<u64> {
        let queue = self.queue.clone();
        Ok(self
            .runtime
            .spawn(async move { queue.depth().await })
            .await??)
    }

    /// How much the group commit batched so far.
    pub fn commits(&self) -> CommitStats {
        self.queue.commit_stats()
    }

    /// Stops the pipeline as SIGTERM would, and deletes the data directory.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if tokio::time::timeout(STOP_TIMEOUT, self.running)
            .await
            .is_err()
        {
            tracing::warn!("hookline up did not stop in time");
        }
        let runtime = self.runtime;
        tokio::task::spawn_blocking(move || runtime.shutdown_timeout(STOP_TIMEOUT)).await?;
        Ok(())
    }
}

fn settings(data_dir: &std::path::Path, extra: &[(String, String)]) -> anyhow::Result<Settings> {
    let vars = [
        ("HOOKLINE_DATA_DIR", data_dir.display().to_string()),
        ("HOOKLINE_SERVER__HOST", "127.0.0.1".to_owned()),
        ("HOOKLINE_SERVER__PORT", "0".to_owned()),
        // The simulator serves plain http on loopback: the only site a tenant may have here.
        (
            "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
            "127.0.0.1".to_owned(),
        ),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            ENCRYPTION_KEYS.to_owned(),
        ),
        // The bench measures hookline's capacity, not Jira's quota: no call budget.
        ("HOOKLINE_OUTBOUND__TENANT_CALLS_PER_SECOND", "0".to_owned()),
    ];
    let vars = vars.map(|(name, value)| (name.to_owned(), value));
    Settings::load_from(None, vars.into_iter().chain(extra.iter().cloned()))
        .context("the embedded pipeline's settings")
}

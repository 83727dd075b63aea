//! The pipeline as it is deployed: the release `ingress` and one or more release `worker`
//! processes, configured only through `HOOKLINE_*` variables, against a fresh PostgreSQL
//! database and a unique queue prefix, with the product simulator (in this process) as every
//! tenant's Jira. Tenants and their rules are stored beforehand through the stores, encrypted
//! with the same key the processes are given.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use common::amqp::Topology;
use common::config::Settings;
use common::rules::{RuleSpec, RuleStore};
use common::tenant::{ClientKey, ProductType, TenantState, TenantStore};
use common::testing::{amqp_url, unique_prefix, BrokerCleanup, TestDatabase};
use serde_json::json;
use simulator::ProductSim;

use crate::cpu::CpuTimes;
use crate::fixture;
use crate::harness::ENCRYPTION_KEYS;
use crate::procs::{free_port, http_get, release_binary, Memory, Process};
use crate::signed::BenchTenant;

/// The longest a process may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The worker's gauge once `basic.consume` succeeded (worker/src/consumer.rs): it consumes.
const WORKER_CONSUMING: &str = "hookline_worker_broker_connected 1";
/// The stores' cache lifetime while installing (nothing reads them back).
const CACHE_TTL: Duration = Duration::from_secs(60);

/// What to run.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// Worker processes.
    pub workers: usize,
    /// Tenants, each with one comment rule for `jira:issue_created`.
    pub tenants: usize,
    /// How long the simulated Jira takes to answer.
    pub jira_latency: Duration,
    /// The workers' `worker.prefetch`; their default when absent.
    pub worker_prefetch: Option<u16>,
    /// The processes' `log.level` (`RUST_LOG`, inherited, wins).
    pub log_level: String,
    /// More `HOOKLINE_*` settings for every process.
    pub extra_env: Vec<(String, String)>,
}

/// One process's start-up time and memory.
#[derive(Debug, Clone)]
pub struct ProcessFigures {
    /// `ingress`, `worker 1`, ...
    pub name: String,
    /// From spawn to ready: `/readyz` answering 200 (ingress), consuming (worker).
    pub ready: Duration,
    /// Resident memory once ready.
    pub memory_at_ready: Memory,
    /// Resident memory when read (at the end of the run).
    pub memory: Memory,
}

/// The running processes with everything they use. Dropping it (on any error) kills the
/// processes, then deletes the queues and the database.
pub struct Pipeline {
    // Fields drop in order: the processes first (a worker left running would declare the
    // queues again, and would hold the database), then the queues, then the database.
    ingress: Process,
    workers: Vec<Process>,
    ready: Vec<(Duration, Memory)>,
    /// Where the ingress listens.
    pub ingress_address: SocketAddr,
    /// Jira, as the workers call it.
    pub jira: ProductSim,
    /// The installed tenants.
    pub tenants: Vec<BenchTenant>,
    queues: BrokerCleanup,
    database: TestDatabase,
}

impl Pipeline {
    /// Creates the database, installs the tenants, and starts the ingress and then each worker,
    /// waiting for each to be ready before the next starts (so start-up times do not overlap).
    pub async fn start(spec: &PipelineSpec) -> anyhow::Result<Self> {
        let ingress_binary = release_binary("ingress")?;
        let worker_binary = release_binary("worker")?;
        let database = TestDatabase::postgres().await;
        let prefix = unique_prefix();
        let env = environment(&database.url, &prefix, spec);
        let settings = Settings::load_from(None, env.clone()).context("the pipeline's settings")?;
        let queues = BrokerCleanup {
            topology: Topology::new(&prefix, &settings.amqp.retry_delays_secs),
        };
        let jira = ProductSim::start().await;
        jira.set_latency(spec.jira_latency);
        let tenants: Vec<_> = (0..spec.tenants).map(BenchTenant::numbered).collect();
        install(&settings, &jira, &tenants).await?;

        let ingress_address = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let ingress_env = with(&env, "HOOKLINE_SERVER__PORT", ingress_address.port());
        let mut ingress = Process::spawn("ingress", &ingress_binary, &ingress_env)?;
        let ingress_ready = ingress
            .wait_ready(READY_TIMEOUT, || ingress_ready(ingress_address))
            .await?;
        let mut ready = vec![(ingress_ready, ingress.memory()?)];
        let mut workers = Vec::with_capacity(spec.workers);
        for number in 1..=spec.workers {
            let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            let worker_env = with(&env, "HOOKLINE_WORKER__METRICS_PORT", metrics.port());
            let name = format!("worker {number}");
            let mut worker = Process::spawn(&name, &worker_binary, &worker_env)?;
            let worker_ready = worker
                .wait_ready(READY_TIMEOUT, || worker_consuming(metrics))
                .await?;
            ready.push((worker_ready, worker.memory()?));
            workers.push(worker);
        }
        Ok(Self {
            ingress,
            workers,
            ready,
            ingress_address,
            jira,
            tenants,
            queues,
            database,
        })
    }

    /// CPU counters now, with each of the pipeline's processes under its own name.
    pub fn cpu_times(&self) -> CpuTimes {
        self.processes().fold(CpuTimes::now(), |times, process| {
            times.with_process(process.name(), process.pid())
        })
    }

    /// Start-up time and memory (now and peak) of every process, the ingress first.
    pub fn figures(&self) -> anyhow::Result<Vec<ProcessFigures>> {
        self.processes()
            .zip(&self.ready)
            .map(|(process, &(ready, memory_at_ready))| {
                Ok(ProcessFigures {
                    name: process.name().to_owned(),
                    ready,
                    memory_at_ready,
                    memory: process.memory()?,
                })
            })
            .collect()
    }

    /// Stops every process with SIGTERM (workers first, so nothing is left half done), then
    /// deletes the queues and the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        let Self {
            ingress,
            workers,
            queues,
            database,
            ..
        } = self;
        for process in workers.into_iter().chain([ingress]) {
            let name = process.name().to_owned();
            let status = process.stop().await?;
            if !status.success() {
                tracing::warn!(process = %name, %status, "stopped with a failure status");
            }
        }
        // Dropping them deletes the queues and then the database (on threads of their own).
        tokio::task::spawn_blocking(move || drop((queues, database))).await?;
        Ok(())
    }

    fn processes(&self) -> impl Iterator<Item = &Process> {
        std::iter::once(&self.ingress).chain(&self.workers)
    }
}

/// The variables every process gets.
fn environment(database_url: &str, prefix: &str, spec: &PipelineSpec) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOOKLINE_SERVER__HOST", "127.0.0.1".to_owned()),
        ("HOOKLINE_DATABASE__URL", database_url.to_owned()),
        ("HOOKLINE_AMQP__URL", amqp_url()),
        ("HOOKLINE_AMQP__PREFIX", prefix.to_owned()),
        // The simulator serves plain http on loopback: the only site a tenant may have here.
        (
            "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
            "127.0.0.1".to_owned(),
        ),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            ENCRYPTION_KEYS.to_owned(),
        ),
        ("HOOKLINE_LOG__LEVEL", spec.log_level.clone()),
        // The bench measures hookline's capacity, not Jira's quota: no call budget.
        ("HOOKLINE_OUTBOUND__TENANT_CALLS_PER_SECOND", "0".to_owned()),
    ];
    if let Some(prefetch) = spec.worker_prefetch {
        env.push(("HOOKLINE_WORKER__PREFETCH", prefetch.to_string()));
    }
    env.into_iter()
        .map(|(var, value)| (var.to_owned(), value))
        .chain(spec.extra_env.iter().cloned())
        .collect()
}

fn with(env: &[(String, String)], var: &str, value: u16) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push((var.to_owned(), value.to_string()));
    env
}

/// Registers every tenant with the simulator and stores it (installed, enabled) with one rule:
/// a comment on every created issue.
pub(crate) async fn install(
    settings: &Settings,
    jira: &ProductSim,
    tenants: &[BenchTenant],
) -> anyhow::Result<()> {
    let db = common::db::open(settings)
        .await
        .context("creating the pipeline's tables")?;
    let store = TenantStore::new(db.clone(), Arc::new(settings.keyring()?), CACHE_TTL);
    let rules = RuleStore::new(db.clone(), CACHE_TTL);
    let rule: RuleSpec = serde_json::from_value(json!({
        "name": "comment on create",
        "event": fixture::EVENT,
        "action": {"type": "jira_comment", "template": "Seen {{ issue.key }}"}
    }))?;
    for tenant in tenants {
        let base_url = jira.add_tenant(
            &tenant.client_key,
            tenant.secret.expose(),
            ProductType::Jira,
            &settings.app.key,
        );
        let mut payload = tenant.install_payload()?;
        payload.base_url = base_url.clone();
        payload.display_url = Some(base_url);
        store.save_install(&payload).await?;
        let client_key = ClientKey::parse(&tenant.client_key)?;
        store.set_state(&client_key, TenantState::Enabled).await?;
        rules.add(&client_key, &rule).await?;
    }
    db.close().await?;
    Ok(())
}

async fn ingress_ready(address: SocketAddr) -> bool {
    http_get(address, "/readyz")
        .await
        .is_some_and(|(status, _)| status == 200)
}

async fn worker_consuming(metrics: SocketAddr) -> bool {
    http_get(metrics, "/metrics")
        .await
        .is_some_and(|(status, body)| {
            status == 200 && body.lines().any(|line| line.trim() == WORKER_CONSUMING)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_process_gets_the_same_database_queues_and_key() {
        let spec = PipelineSpec {
            workers: 2,
            tenants: 1,
            jira_latency: Duration::ZERO,
            worker_prefetch: Some(256),
            log_level: "warn".into(),
            extra_env: Vec::new(),
        };
        let env = environment("postgres://postgres@127.0.0.1/x", "tabc", &spec);
        let settings = Settings::load_from(None, env).unwrap();
        assert_eq!(settings.amqp.prefix, "tabc");
        assert_eq!(settings.worker.prefetch, 256);
        assert_eq!(settings.app.allowed_base_url_hosts, ["127.0.0.1"]);
        assert!(settings.keyring().is_ok());
    }

    #[test]
    fn without_a_prefetch_the_workers_keep_their_default() {
        let spec = PipelineSpec {
            workers: 1,
            tenants: 1,
            jira_latency: Duration::ZERO,
            worker_prefetch: None,
            log_level: "warn".into(),
            extra_env: Vec::new(),
        };
        let env = environment("postgres://postgres@127.0.0.1/x", "tabc", &spec);
        let settings = Settings::load_from(None, env).unwrap();
        assert_eq!(
            settings.worker.prefetch,
            common::config::WorkerSettings::default().prefetch
        );
    }
}

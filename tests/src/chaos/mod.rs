//! The chaos harness: the pipeline as real processes (one ingress, workers) on a private
//! PostgreSQL and a private RabbitMQ node, the Connect simulator as Jira on both sides (and
//! the simulator's Forge, for Forge sites), and a steady stream of signed webhooks and Forge
//! events; the test kills and restarts pieces while it flows.
pub mod fleet;
pub mod processes;
pub mod rabbit_cluster;
pub mod services;
pub mod stream;
pub mod summary;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use common::rules::{RuleSpec, RuleStore};
use common::tenant::{ClientKey, ProductType};
use simulator::{
    ConnectSim, ForgeApp, ForgeSendOptions, ForgeSim, ForgeSite, InstallMode, ProductSim, SimTenant,
};

use crate::rules;
use crate::settings::{forge_vars, free_port, pipeline_vars, FORGE_APP_UUID};
use processes::Service;
use services::{PrivatePostgres, PrivateRabbit};
use stream::Site;

/// The database the services use inside the private cluster.
const DATABASE: &str = "postgres";
/// The services' `amqp.prefix`.
const PREFIX: &str = "chaos";

/// Everything a chaos run owns. Dropping it kills the processes, then stops the services.
pub struct Cluster {
    /// Jira as the worker sees it.
    pub product: ProductSim,
    /// Jira as the ingress sees it.
    pub connect: ConnectSim,
    /// Forge as the ingress sees it (JWKS, invocation tokens, events).
    pub forge: ForgeSim,
    /// The ingress process (None while it is down).
    pub ingress: Option<Service>,
    /// The worker processes.
    pub workers: Vec<Service>,
    /// Restarted by the test.
    pub postgres: PrivatePostgres,
    /// Restarted by the test.
    pub rabbit: PrivateRabbit,
    ingress_port: u16,
    started: usize,
    logs: PathBuf,
}

impl Cluster {
    /// Starts the services, the simulators, one ingress and `workers` workers.
    pub async fn start(workers: usize) -> anyhow::Result<Self> {
        let postgres = PrivatePostgres::start()
            .await
            .context("starting a private PostgreSQL")?;
        let rabbit = PrivateRabbit::start()
            .await
            .context("starting a private RabbitMQ node")?;
        let ingress_port = free_port();
        let product = ProductSim::start().await;
        let app_url = format!("http://127.0.0.1:{ingress_port}");
        let connect = ConnectSim::start(&app_url, product.clone()).await;
        let forge = ForgeSim::start(ForgeApp::new(&app_url), FORGE_APP_UUID, product.clone()).await;
        forge.set_lifecycle_options(ForgeSendOptions::fast());
        let mut cluster = Self {
            product,
            connect,
            forge,
            ingress: None,
            workers: Vec::new(),
            postgres,
            rabbit,
            ingress_port,
            started: 0,
            logs: processes::log_dir("chaos-logs")?,
        };
        // The ingress first: it applies the migrations before any worker connects.
        cluster.start_ingress().await?;
        for _ in 0..workers {
            cluster.start_worker().await?;
        }
        cluster.connect.fetch_descriptor(ProductType::Jira).await?;
        Ok(cluster)
    }

    /// The variables every service gets, as an operator would set them.
    fn env(&self, metrics_port: u16) -> Vec<(String, String)> {
        service_vars(
            self.ingress_port,
            &self.connect,
            &self.forge,
            &self.postgres.url(DATABASE),
            ("HOOKLINE_AMQP__URL", self.rabbit.url()),
            metrics_port,
        )
    }

    /// Starts the ingress (on the same port each time) and waits for `/readyz`.
    pub async fn start_ingress(&mut self) -> anyhow::Result<()> {
        self.started += 1;
        let name = format!("ingress-{}", self.started);
        let ready = format!("http://127.0.0.1:{}/readyz", self.ingress_port);
        let env = self.env(0);
        self.ingress = Some(Service::spawn(&name, "ingress", &[], &env, &self.logs, &ready).await?);
        Ok(())
    }

    /// Starts one more worker and waits for its `/healthz`.
    pub async fn start_worker(&mut self) -> anyhow::Result<()> {
        self.started += 1;
        let name = format!("worker-{}", self.started);
        let port = free_port();
        let ready = format!("http://127.0.0.1:{port}/healthz");
        let env = self.env(port);
        let worker = Service::spawn(&name, "worker", &[], &env, &self.logs, &ready).await?;
        self.workers.push(worker);
        Ok(())
    }

    /// SIGKILLs the ingress.
    pub async fn kill_ingress(&mut self) -> anyhow::Result<()> {
        if let Some(ingress) = self.ingress.take() {
            ingress.kill().await?;
        }
        Ok(())
    }

    /// SIGKILLs the oldest worker once it has events in flight (waiting up to 10 s for
    /// some); returns how many it held.
    pub async fn kill_a_worker_mid_flight(&mut self) -> anyhow::Result<f64> {
        let victim = self.workers.remove(0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut in_flight = 0.0;
        while tokio::time::Instant::now() < deadline {
            in_flight = victim
                .metric("hookline_events_in_flight")
                .await
                .unwrap_or_default();
            if in_flight > 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        victim.kill().await?;
        Ok(in_flight)
    }

    /// Where the services' logs are (kept after the run, replaced by the next one).
    pub fn logs(&self) -> &Path {
        &self.logs
    }

    /// The services that exited on their own (none should).
    pub fn exited(&mut self) -> Vec<String> {
        let mut exited = Vec::new();
        for service in self.ingress.iter_mut().chain(self.workers.iter_mut()) {
            if !service.is_running() {
                exited.push(service.tail());
            }
        }
        exited
    }

    /// Installs (signed) and enables a Jira site whose one rule is [`rules::echo`].
    pub async fn jira_site_with_echo_rule(&self, client_key: &str) -> anyhow::Result<SimTenant> {
        let tenant = self
            .connect
            .install(client_key, ProductType::Jira, InstallMode::Signed)
            .await?;
        self.connect.enable(&tenant).await?;
        self.add_echo_rule(&ClientKey::parse(client_key)?).await?;
        Ok(tenant)
    }

    /// Installs the app on the Forge Jira site `name` (Forge delivers `installed`) and gives
    /// its tenant the rule [`rules::echo`].
    pub async fn forge_site_with_echo_rule(&self, name: &str) -> anyhow::Result<ForgeSite> {
        let (site, delivery) = self.forge.install(name, ProductType::Jira).await?;
        anyhow::ensure!(
            delivery.accepted,
            "installed was refused: {:?}",
            delivery.attempts
        );
        // A first installation's tenant is named after its site (docs/forge.md §6).
        let client_key = ClientKey::parse(&format!("forge:{}:jira", site.cloud_id))?;
        self.add_echo_rule(&client_key).await?;
        Ok(site)
    }

    /// A Connect app on Forge mid-migration on the Jira site `name`: its Forge installation,
    /// the Connect install (and enable) that names it, the rule [`rules::echo`], then Forge's
    /// `installed`; the stream sends each of its events both ways.
    pub async fn both_ways_site_with_echo_rule(&self, name: &str) -> anyhow::Result<Site> {
        let site = self.forge.install_without_event(name, ProductType::Jira)?;
        self.connect
            .set_installation_id(name, &site.installation_id);
        let tenant = self.jira_site_with_echo_rule(name).await?;
        let delivery = self.forge.deliver_installed(&site).await?;
        anyhow::ensure!(
            delivery.accepted,
            "installed was refused: {:?}",
            delivery.attempts
        );
        Ok(Site::BothWays(
            self.connect.clone(),
            tenant,
            self.forge.clone(),
            site,
        ))
    }

    /// Runs `hookline {args}` (the CLI, as an operator would, on the services' settings) and
    /// returns its standard output (`cargo build -p hookline` when a test is run alone).
    pub async fn hookline(&self, args: &[&str]) -> anyhow::Result<String> {
        processes::run("hookline", args, &self.env(0)).await
    }

    async fn add_echo_rule(&self, client_key: &ClientKey) -> anyhow::Result<()> {
        add_echo_rule(&self.postgres.url(DATABASE), client_key).await
    }
}

/// The variables every service of a chaos run gets, as an operator would set them: the app
/// at `ingress_port` (its public URL), checked against the simulators, on `database` and the
/// broker setting `amqp` (`amqp.url` or `amqp.urls`), with its metrics on `metrics_port`.
fn service_vars(
    ingress_port: u16,
    connect: &ConnectSim,
    forge: &ForgeSim,
    database: &str,
    amqp: (&'static str, String),
    metrics_port: u16,
) -> Vec<(String, String)> {
    let mut vars = pipeline_vars(ingress_port, &connect.key_server_url());
    vars.extend(forge_vars(forge));
    vars.extend([
        ("HOOKLINE_DATABASE__URL", database.to_owned()),
        amqp,
        ("HOOKLINE_AMQP__PREFIX", PREFIX.to_owned()),
        // A short call timeout keeps the ledger lease of a killed worker short (6 × 2 s
        // + 10 s), so its in-flight events are taken over within the test's patience.
        ("HOOKLINE_OUTBOUND__TIMEOUT_SECS", "2".to_owned()),
        ("HOOKLINE_OUTBOUND__CONNECT_TIMEOUT_SECS", "1".to_owned()),
        ("HOOKLINE_WORKER__METRICS_PORT", metrics_port.to_string()),
        ("HOOKLINE_LOG__FORMAT", "json".to_owned()),
        ("HOOKLINE_LOG__LEVEL", "info".to_owned()),
    ]);
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Gives `client_key`'s tenant the rule [`rules::echo`], in the database at `database`.
async fn add_echo_rule(database: &str, client_key: &ClientKey) -> anyhow::Result<()> {
    let db = common::db::connect(database).await?;
    let spec: RuleSpec = serde_json::from_value(rules::echo())?;
    RuleStore::new(db.clone(), Duration::ZERO)
        .add(client_key, &spec)
        .await?;
    db.close().await?;
    Ok(())
}

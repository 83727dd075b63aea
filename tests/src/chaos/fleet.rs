//! The pipeline beyond one machine, on one machine: a three-node RabbitMQ cluster, a private
//! PostgreSQL, several ingress processes (each on its own port, all serving one public app
//! URL) and several workers, every process given every broker node (`amqp.urls`). The
//! Connect simulator has one instance per ingress, so that a site's webhooks alternate
//! between the ingresses as a load balancer would spread them.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use common::amqp::Topology;
use common::queue::lane::Lane;
use common::tenant::{ClientKey, ProductType};
use simulator::{ConnectSim, ForgeApp, ForgeSendOptions, ForgeSim, InstallMode, ProductSim};

use super::processes::{self, Service};
use super::rabbit_cluster::RabbitCluster;
use super::services::PrivatePostgres;
use super::stream::Site;
use super::{add_echo_rule, service_vars, DATABASE, PREFIX};
use crate::resources::RETRY_DELAYS_SECS;
use crate::settings::{free_port, FORGE_APP_UUID};

/// How long a process may take to stop after SIGTERM (its drain grace is 5 s).
const STOP_PATIENCE: Duration = Duration::from_secs(30);

/// Everything a cluster run owns. Dropping it kills the processes, then stops the services.
pub struct Fleet {
    /// Jira as the workers see it.
    pub product: ProductSim,
    /// Jira as each ingress sees it (one simulator per ingress; the first installs).
    pub connects: Vec<ConnectSim>,
    /// Forge as the first ingress sees it.
    pub forge: ForgeSim,
    /// The ingress in each slot (None while it is down); slot `i` always listens on the same
    /// port. Processes are declared before the services so that they are dropped (killed)
    /// first.
    ingresses: Vec<Option<Service>>,
    ingress_ports: Vec<u16>,
    /// The workers.
    workers: Vec<Service>,
    /// The broker cluster.
    pub rabbits: RabbitCluster,
    /// The database (never disturbed here: the chaos test crashes it).
    pub postgres: PrivatePostgres,
    started: usize,
    logs: PathBuf,
}

impl Fleet {
    /// Starts the cluster, the database, the simulators, `ingresses` ingresses and `workers`
    /// workers.
    pub async fn start(ingresses: usize, workers: usize) -> anyhow::Result<Self> {
        let (postgres, rabbits) = tokio::join!(PrivatePostgres::start(), RabbitCluster::start(3));
        let postgres = postgres.context("starting a private PostgreSQL")?;
        let rabbits = rabbits.context("starting a three-node RabbitMQ cluster")?;
        let ingress_ports: Vec<u16> = (0..ingresses).map(|_| free_port()).collect();
        let address = |port: u16| format!("http://127.0.0.1:{port}");
        // The app's one public URL: the first ingress's (the others are reached directly).
        let app_url = address(ingress_ports[0]);
        let product = ProductSim::start().await;
        let mut connects = Vec::new();
        for port in &ingress_ports {
            connects.push(
                ConnectSim::start_with_address(&app_url, &address(*port), product.clone()).await,
            );
        }
        let forge = ForgeSim::start(ForgeApp::new(&app_url), FORGE_APP_UUID, product.clone()).await;
        forge.set_lifecycle_options(ForgeSendOptions::fast());
        let mut fleet = Self {
            product,
            connects,
            forge,
            ingresses: (0..ingresses).map(|_| None).collect(),
            ingress_ports,
            workers: Vec::new(),
            rabbits,
            postgres,
            started: 0,
            logs: processes::log_dir("cluster-logs")?,
        };
        // One at a time: the first applies the migrations.
        for slot in 0..ingresses {
            fleet.start_ingress(slot).await?;
        }
        for _ in 0..workers {
            fleet.start_worker().await?;
        }
        for connect in &fleet.connects {
            connect.fetch_descriptor(ProductType::Jira).await?;
        }
        Ok(fleet)
    }

    /// The variables a process gets: every broker node, and the ingress port of `slot`.
    fn env(&self, slot: usize, metrics_port: u16) -> Vec<(String, String)> {
        let mut vars = service_vars(
            self.ingress_ports[0],
            &self.connects[0],
            &self.forge,
            &self.postgres.url(DATABASE),
            ("HOOKLINE_AMQP__URLS", self.rabbits.urls().join(",")),
            metrics_port,
        );
        for (key, value) in &mut vars {
            if key == "HOOKLINE_SERVER__PORT" {
                *value = self.ingress_ports[slot].to_string();
            }
        }
        vars
    }

    /// Starts the ingress of `slot` and waits for its `/readyz`.
    pub async fn start_ingress(&mut self, slot: usize) -> anyhow::Result<()> {
        self.started += 1;
        let name = format!("ingress-{}-{}", slot + 1, self.started);
        let ready = format!("http://127.0.0.1:{}/readyz", self.ingress_ports[slot]);
        let env = self.env(slot, 0);
        let ingress = Service::spawn(&name, "ingress", &[], &env, &self.logs, &ready).await?;
        self.ingresses[slot] = Some(ingress);
        Ok(())
    }

    /// Starts one more worker and waits for its `/healthz`.
    pub async fn start_worker(&mut self) -> anyhow::Result<()> {
        self.started += 1;
        let name = format!("worker-{}", self.started);
        let port = free_port();
        let ready = format!("http://127.0.0.1:{port}/healthz");
        let env = self.env(0, port);
        let worker = Service::spawn(&name, "worker", &[], &env, &self.logs, &ready).await?;
        self.workers.push(worker);
        Ok(())
    }

    /// Every queue hookline declares (all quorum queues, replicated on every node).
    pub fn queues(&self) -> Vec<String> {
        let topology = Topology::new(PREFIX, &RETRY_DELAYS_SECS);
        let lanes = Lane::all().map(|lane| topology.lane_queue(lane));
        let retries = (0..RETRY_DELAYS_SECS.len()).map(|i| topology.retry_queue(i));
        lanes
            .chain(retries)
            .chain([topology.dead_letter_queue()])
            .collect()
    }

    /// The work queue (the main lane).
    pub fn work_queue(&self) -> String {
        Topology::new(PREFIX, &RETRY_DELAYS_SECS).work_queue()
    }

    /// How many ingress slots there are.
    pub fn ingress_slots(&self) -> usize {
        self.ingresses.len()
    }

    /// How many workers run.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// SIGKILLs the ingress of `slot` and starts a replacement on the same port.
    pub async fn kill_and_replace_ingress(&mut self, slot: usize) -> anyhow::Result<()> {
        if let Some(ingress) = self.ingresses[slot].take() {
            ingress.kill().await?;
        }
        self.start_ingress(slot).await
    }

    /// SIGTERMs the ingress of `slot` (it drains and must exit 0) and starts it again.
    pub async fn restart_ingress(&mut self, slot: usize) -> anyhow::Result<()> {
        if let Some(ingress) = self.ingresses[slot].take() {
            let name = ingress.name().to_owned();
            let status = ingress.terminate(STOP_PATIENCE).await?;
            anyhow::ensure!(status.success(), "{name} stopped with {status}");
        }
        self.start_ingress(slot).await
    }

    /// SIGKILLs the oldest worker and starts a replacement.
    pub async fn kill_and_replace_worker(&mut self) -> anyhow::Result<()> {
        self.workers.remove(0).kill().await?;
        self.start_worker().await
    }

    /// SIGTERMs the oldest worker (it must exit 0) and starts a replacement.
    pub async fn restart_oldest_worker(&mut self) -> anyhow::Result<()> {
        let worker = self.workers.remove(0);
        let name = worker.name().to_owned();
        let status = worker.terminate(STOP_PATIENCE).await?;
        anyhow::ensure!(status.success(), "{name} stopped with {status}");
        self.start_worker().await
    }

    /// The processes that exited on their own (none should).
    pub fn exited(&mut self) -> Vec<String> {
        let mut exited = Vec::new();
        for service in self
            .ingresses
            .iter_mut()
            .flatten()
            .chain(self.workers.iter_mut())
        {
            if !service.is_running() {
                exited.push(service.tail());
            }
        }
        exited
    }

    /// Where the processes' logs are (kept after the run, replaced by the next one).
    pub fn logs(&self) -> &Path {
        &self.logs
    }

    /// Installs (signed) and enables the Jira site `client_key` with the rule
    /// [`crate::rules::echo`]; its webhooks alternate between the ingresses.
    pub async fn balanced_jira_site(&self, client_key: &str) -> anyhow::Result<Site> {
        let installer = &self.connects[0];
        let tenant = installer
            .install(client_key, ProductType::Jira, InstallMode::Signed)
            .await?;
        installer.enable(&tenant).await?;
        add_echo_rule(&self.postgres.url(DATABASE), &ClientKey::parse(client_key)?).await?;
        Ok(Site::Balanced(self.connects.clone(), tenant))
    }

    /// Installs the app on the Forge Jira site `name` with the rule [`crate::rules::echo`];
    /// its events go to the first ingress.
    pub async fn forge_site(&self, name: &str) -> anyhow::Result<Site> {
        let (site, delivery) = self.forge.install(name, ProductType::Jira).await?;
        anyhow::ensure!(
            delivery.accepted,
            "installed was refused: {:?}",
            delivery.attempts
        );
        let client_key = ClientKey::parse(&format!("forge:{}:jira", site.cloud_id))?;
        add_echo_rule(&self.postgres.url(DATABASE), &client_key).await?;
        Ok(Site::Forge(self.forge.clone(), site))
    }
}

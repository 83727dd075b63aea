//! [`EmbeddedProcess`]: `hookline up` (the embedded mode) as a real process on a scratch data
//! directory, with the Connect simulator as Jira, for the tests that SIGKILL and restart it.
//! It runs the `hookline` binary that `cargo test --workspace` builds beside the test (run a
//! test alone after `cargo build -p hookline`).
use std::path::PathBuf;
use std::time::Duration;

use common::rules::{RuleSpec, RuleStore};
use common::tenant::{ClientKey, ProductType};
use simulator::{ConnectSim, InstallMode, ProductSim, SimTenant};

use crate::chaos::processes::{log_dir, run, Service};
use crate::resources::ScratchDir;
use crate::rules;
use crate::settings::{free_port, pipeline_vars};

/// One data directory, and the `hookline up` processes started on it in turn.
pub struct EmbeddedProcess {
    data_dir: ScratchDir,
    port: u16,
    /// Jira as the pipeline's ingress sees it.
    pub connect: ConnectSim,
    logs: PathBuf,
    started: usize,
}

impl EmbeddedProcess {
    /// A fresh data directory and port, with Jira simulated by `product`; the processes' logs
    /// go to the directory `logs` (kept after the run).
    ///
    /// # Panics
    /// If the log directory cannot be made.
    pub async fn new(product: &ProductSim, logs: &str) -> Self {
        let port = free_port();
        let connect = ConnectSim::start(&format!("http://127.0.0.1:{port}"), product.clone()).await;
        Self {
            data_dir: ScratchDir::create(),
            port,
            connect,
            logs: log_dir(logs).expect("a log directory"),
            started: 0,
        }
    }

    /// The variables of every process, as an operator would set them.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut vars = pipeline_vars(self.port, &self.connect.key_server_url());
        vars.extend([
            (
                "HOOKLINE_DATA_DIR",
                self.data_dir.path().display().to_string(),
            ),
            ("HOOKLINE_LOG__FORMAT", "json".to_owned()),
            ("HOOKLINE_LOG__LEVEL", "info".to_owned()),
        ]);
        vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Starts `hookline up` and waits until it is ready.
    ///
    /// # Panics
    /// If it does not start.
    pub async fn start(&mut self) -> Service {
        self.started += 1;
        let name = format!("hookline-up-{}", self.started);
        let ready = format!("http://127.0.0.1:{}/readyz", self.port);
        Service::spawn(&name, "hookline", &["up"], &self.env(), &self.logs, &ready)
            .await
            .unwrap_or_else(|e| panic!("starting {name}: {e:#}"))
    }

    /// Runs `hookline {args}` on the same settings; its standard output.
    ///
    /// # Panics
    /// If it cannot run or fails.
    pub async fn command(&self, args: &[&str]) -> String {
        run("hookline", args, &self.env())
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Where the processes' logs are (`hookline-up-{n}.log`).
    pub fn logs(&self) -> &std::path::Path {
        &self.logs
    }

    /// The pipeline's SQLite database (opened beside the running process, as an admin does).
    pub fn database_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.data_dir.path().join("hookline.db").display()
        )
    }

    /// Installs (signed) and enables a Jira site whose one rule is [`rules::echo`].
    ///
    /// # Panics
    /// If any step fails.
    pub async fn site_with_echo_rule(&self, client_key: &str) -> SimTenant {
        let tenant = self
            .connect
            .install(client_key, ProductType::Jira, InstallMode::Signed)
            .await
            .expect("installs");
        self.connect.enable(&tenant).await.expect("enables");
        let db = common::db::connect(&self.database_url())
            .await
            .expect("the SQLite file opens");
        let spec: RuleSpec = serde_json::from_value(rules::echo()).expect("a rule");
        RuleStore::new(db.clone(), Duration::ZERO)
            .add(&ClientKey::parse(client_key).expect("a key"), &spec)
            .await
            .expect("the rule is stored");
        db.close().await.expect("closes");
        tenant
    }
}

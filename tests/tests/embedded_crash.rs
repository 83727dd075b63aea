//! The embedded pipeline (`hookline up`: SQLite and the local queue) SIGKILLed twice while
//! signed webhooks stream in with Jira's retries, and started again on the same data
//! directory each time. Every delivery answered 2xx must have exactly one comment, and those
//! the killed process held must be done within seconds of the restart: the restarted process
//! takes back the leases of the dead one at once instead of waiting for them to expire (two
//! minutes for the ledger's).
//!
//! It runs the `hookline` binary that `cargo test --workspace` builds (scripts/test); run
//! alone, build it first: `cargo build -p hookline`.
use std::time::{Duration, Instant};

use common::rules::{RuleSpec, RuleStore};
use common::tenant::{ClientKey, ProductType};
use simulator::{ConnectSim, InstallMode, ProductSim, SimTenant};
use tests::chaos::processes::{log_dir, Service};
use tests::chaos::stream::{Site, Stream};
use tests::chaos::summary::Effects;
use tests::resources::ScratchDir;
use tests::rules;
use tests::settings::{free_port, pipeline_vars};

/// Webhooks per second from each site.
const PER_SITE_PER_SECOND: u32 = 8;
/// How long Jira takes to answer: with it, the process holds events when it is killed.
const JIRA_LATENCY: Duration = Duration::from_millis(300);
/// How long the stream flows before each kill, and after the last restart.
const BETWEEN: Duration = Duration::from_secs(3);
/// How long after the last restart every accepted delivery must have its comment (the
/// expired-lease path took over two minutes).
const AFTER_RESTART: Duration = Duration::from_secs(20);

struct Embedded {
    data_dir: ScratchDir,
    port: u16,
    connect: ConnectSim,
    logs: std::path::PathBuf,
    started: usize,
}

impl Embedded {
    fn env(&self) -> Vec<(String, String)> {
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

    async fn start(&mut self) -> Service {
        self.started += 1;
        let name = format!("hookline-up-{}", self.started);
        let ready = format!("http://127.0.0.1:{}/readyz", self.port);
        Service::spawn(&name, "hookline", &["up"], &self.env(), &self.logs, &ready)
            .await
            .unwrap_or_else(|e| panic!("starting {name}: {e:#}"))
    }

    async fn site_with_echo_rule(&self, client_key: &str) -> SimTenant {
        let tenant = self
            .connect
            .install(client_key, ProductType::Jira, InstallMode::Signed)
            .await
            .expect("installs");
        self.connect.enable(&tenant).await.expect("enables");
        let url = format!(
            "sqlite://{}",
            self.data_dir.path().join("hookline.db").display()
        );
        let db = common::db::connect(&url)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkills_every_accepted_event_is_done_once_within_seconds_of_the_restart() {
    let port = free_port();
    let product = ProductSim::start().await;
    let connect = ConnectSim::start(&format!("http://127.0.0.1:{port}"), product.clone()).await;
    let mut embedded = Embedded {
        data_dir: ScratchDir::create(),
        port,
        connect: connect.clone(),
        logs: log_dir("embedded-crash-logs").expect("a log directory"),
        started: 0,
    };
    let mut process = embedded.start().await;
    connect
        .fetch_descriptor(ProductType::Jira)
        .await
        .expect("the descriptor");
    let mut sites = Vec::new();
    for name in ["site-a", "site-b", "site-c"] {
        let tenant = embedded.site_with_echo_rule(name).await;
        sites.push(Site::Connect(connect.clone(), tenant));
    }
    product.set_latency(JIRA_LATENCY);
    let stream = Stream::start(&sites, PER_SITE_PER_SECOND);

    for _ in 0..2 {
        tokio::time::sleep(BETWEEN).await;
        process.kill().await.expect("SIGKILL");
        process = embedded.start().await;
    }
    let restarted = Instant::now();
    tokio::time::sleep(BETWEEN).await;
    let sent = stream.stop().await;

    let names: Vec<(String, String)> = sites.iter().flat_map(Site::effect_keys).collect();
    let deadline = restarted + AFTER_RESTART;
    let mut summary = Effects::read(&product, &names).summarise(&sent);
    while summary.lost > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        summary = Effects::read(&product, &names).summarise(&sent);
    }
    // Give a duplicate the chance to show.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let summary = Effects::read(&product, &names).summarise(&sent);
    println!("embedded crash: {summary}");

    assert!(summary.accepted > 0 && summary.unanswered_attempts > 0);
    assert_eq!(
        summary.lost,
        0,
        "accepted deliveries without a comment {AFTER_RESTART:?} after the restart; {}",
        process.tail()
    );
    assert_eq!(summary.duplicates, 0, "{}", process.tail());
    let took_back = (2..=3).any(|run| {
        let log = embedded.logs.join(format!("hookline-up-{run}.log"));
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("took back the leases of an earlier run")
    });
    assert!(
        took_back,
        "no restart found events held by the killed process; the test proved nothing"
    );

    assert!(process.is_running(), "{}", process.tail());
    process.kill().await.expect("stops");
}

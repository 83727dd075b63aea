//! [`E2e`]: the whole pipeline in one process, in either [`Mode`], with the Connect simulator
//! as Jira and Confluence on both sides (webhooks in, REST calls out).
use std::time::Duration;

use common::ledger::LedgerEntry;
use common::rules::{Rule, RuleSpec};
use common::tenant::{ClientKey, ProductType};
use hookline::standalone::Pipeline;
use serde_json::Value;
use simulator::{
    ConnectSim, DeliveryReport, ForgeApp, ForgeSendOptions, ForgeSim, InstallMode, ProductSim,
    RecordedComment, SendOptions, SimTenant,
};
use tokio_util::sync::CancellationToken;

use crate::patience::{settle, Patience};
use crate::resources::Resources;
use crate::rules;
use crate::settings::{for_test, forge_vars, free_port, FORGE_APP_UUID};
use crate::Mode;

/// The longest a pipeline may take to stop once asked.
const STOP_PATIENCE: Duration = Duration::from_secs(30);

/// A running pipeline with its simulators. Stop it with [`E2e::stop`]; a test that panics
/// first still cancels the pipeline and releases its database, queues or directory on drop.
pub struct E2e {
    /// How the pipeline runs.
    pub mode: Mode,
    /// Jira and Confluence as the worker sees them: records effects, verifies every JWT.
    pub product: ProductSim,
    /// Jira and Confluence as the ingress sees them: installs, lifecycle, webhooks.
    pub connect: ConnectSim,
    /// Forge as the ingress sees it (JWKS, invocation tokens, events), when started with it.
    forge: Option<ForgeSim>,
    shutdown: CancellationToken,
    pipeline: Option<Pipeline>,
    // Last: released only after the pipeline let go of them.
    _resources: Resources,
}

impl E2e {
    /// Starts the simulators and the pipeline, and fetches the app's descriptor.
    ///
    /// # Panics
    /// If a backing service is unreachable or the pipeline does not start.
    pub async fn start(mode: Mode) -> Self {
        Self::start_with(mode, false, Vec::new()).await
    }

    /// [`E2e::start`] with the Forge remote on too, trusting the simulator's Forge.
    pub async fn start_with_forge(mode: Mode) -> Self {
        Self::start_with(mode, true, Vec::new()).await
    }

    /// [`E2e::start`] with more `HOOKLINE_*` variables (a smaller prefetch, say).
    pub async fn start_with_vars(mode: Mode, vars: Vec<(&'static str, String)>) -> Self {
        Self::start_with(mode, false, vars).await
    }

    async fn start_with(mode: Mode, with_forge: bool, vars: Vec<(&'static str, String)>) -> Self {
        let resources = match mode {
            Mode::Broker => Resources::broker().await,
            Mode::Embedded => Resources::embedded(),
        };
        let port = free_port();
        let app_url = format!("http://127.0.0.1:{port}");
        let product = ProductSim::start().await;
        let connect = ConnectSim::start(&app_url, product.clone()).await;
        let forge = match with_forge {
            true => {
                let forge =
                    ForgeSim::start(ForgeApp::new(&app_url), FORGE_APP_UUID, product.clone()).await;
                forge.set_lifecycle_options(ForgeSendOptions::fast());
                Some(forge)
            }
            false => None,
        };
        let mut extra = forge.as_ref().map(forge_vars).unwrap_or_default();
        extra.extend(vars);
        let settings = for_test(port, &connect.key_server_url(), &resources, extra);
        let shutdown = CancellationToken::new();
        let pipeline = Pipeline::start(settings, shutdown.clone())
            .await
            .unwrap_or_else(|e| panic!("the {mode:?} pipeline starts: {e:#}"));
        for product in [ProductType::Jira, ProductType::Confluence] {
            connect
                .fetch_descriptor(product)
                .await
                .unwrap_or_else(|e| panic!("the {mode:?} pipeline serves its descriptors: {e:#}"));
        }
        Self {
            mode,
            product,
            connect,
            forge,
            shutdown,
            pipeline: Some(pipeline),
            _resources: resources,
        }
    }

    /// The simulator's Forge.
    ///
    /// # Panics
    /// If the harness was not started with [`E2e::start_with_forge`].
    pub fn forge(&self) -> &ForgeSim {
        self.forge
            .as_ref()
            .expect("the harness was started with E2e::start_with_forge")
    }

    /// The running pipeline (its dispatcher holds the rule store and the ledger).
    pub fn pipeline(&self) -> &Pipeline {
        self.pipeline
            .as_ref()
            .expect("the pipeline runs until stop")
    }

    /// Installs a site (signed install) and enables it.
    pub async fn install(&self, client_key: &str, product: ProductType) -> SimTenant {
        self.install_with(client_key, product, InstallMode::Signed)
            .await
    }

    /// Installs a Jira site whose one rule is [`rules::echo`].
    pub async fn jira_site_with_echo_rule(&self, client_key: &str) -> SimTenant {
        let jira = self.install(client_key, ProductType::Jira).await;
        self.add_rule(&jira, rules::echo()).await;
        jira
    }

    /// Installs a site with `mode` and enables it.
    pub async fn install_with(
        &self,
        client_key: &str,
        product: ProductType,
        mode: InstallMode,
    ) -> SimTenant {
        let tenant = self
            .connect
            .install(client_key, product, mode)
            .await
            .unwrap_or_else(|e| panic!("installing {client_key}: {e:#}"));
        self.enable(&tenant).await;
        tenant
    }

    /// Sends `enabled` for `tenant`.
    pub async fn enable(&self, tenant: &SimTenant) {
        self.connect
            .enable(tenant)
            .await
            .unwrap_or_else(|e| panic!("enabling {}: {e:#}", tenant.client_key));
    }

    /// Adds a rule (JSON as its author writes it) for `tenant`, through the worker's rule
    /// store; the rule must validate for the tenant's product.
    pub async fn add_rule(&self, tenant: &SimTenant, rule: Value) -> Rule {
        self.add_rule_for(&client_key(tenant), tenant.product, rule)
            .await
    }

    /// Adds a rule for the tenant `client_key` of `product` (a Forge tenant, say).
    pub async fn add_rule_for(
        &self,
        client_key: &ClientKey,
        product: ProductType,
        rule: Value,
    ) -> Rule {
        let spec: RuleSpec = serde_json::from_value(rule)
            .unwrap_or_else(|e| panic!("a rule for {client_key} parses: {e}"));
        if let Err(errors) = spec.validate(product) {
            panic!("the rule {:?} is invalid: {errors:?}", spec.name);
        }
        self.pipeline()
            .dispatcher
            .rules
            .add(client_key, &spec)
            .await
            .unwrap_or_else(|e| panic!("storing the rule {:?}: {e}", spec.name))
    }

    /// Sends a webhook with a fresh delivery id and Jira's retries; returns what became of it.
    pub async fn send(&self, tenant: &SimTenant, event: &str, payload: &Value) -> DeliveryReport {
        self.send_with(tenant, event, payload, SendOptions::default())
            .await
    }

    /// Sends a webhook with `options` (e.g. a given webhook id, to repeat a delivery).
    pub async fn send_with(
        &self,
        tenant: &SimTenant,
        event: &str,
        payload: &Value,
        options: SendOptions,
    ) -> DeliveryReport {
        self.connect
            .send_webhook(tenant, event, payload, options)
            .await
            .unwrap_or_else(|e| panic!("sending {event} for {}: {e:#}", tenant.client_key))
    }

    /// Sends a webhook that the ingress must accept at the first attempt.
    pub async fn deliver(
        &self,
        tenant: &SimTenant,
        event: &str,
        payload: &Value,
    ) -> DeliveryReport {
        let report = self.send(tenant, event, payload).await;
        assert_eq!(
            report.attempts,
            [202],
            "the ingress accepts {event} for {} at once",
            tenant.client_key
        );
        report
    }

    /// Waits until `holds` is true of the product simulator; failing after the patience ran
    /// out, with `what` and what the simulator saw of `tenant`.
    pub async fn wait_until(
        &self,
        tenant: &SimTenant,
        what: &str,
        holds: impl Fn(&ProductSim) -> bool,
    ) {
        let patience = Patience::start();
        while !holds(&self.product) {
            patience.pause(what, self.snapshot(tenant)).await;
        }
    }

    /// Waits until `tenant` has `expected` comments, keeps watching a little longer, and
    /// returns them; fails if they never come or more come.
    pub async fn settled_comments(
        &self,
        tenant: &SimTenant,
        expected: usize,
    ) -> Vec<RecordedComment> {
        self.settled_comments_of(&tenant.client_key, expected).await
    }

    /// [`E2e::settled_comments`] of the simulator's site `site_key` (a Connect client key or
    /// a Forge site key).
    pub async fn settled_comments_of(
        &self,
        site_key: &str,
        expected: usize,
    ) -> Vec<RecordedComment> {
        let what = format!("{expected} comment(s) for {site_key}");
        let patience = Patience::start();
        while self.product.comments(site_key).len() < expected {
            patience.pause(&what, self.snapshot_of(site_key)).await;
        }
        settle().await;
        let comments = self.product.comments(site_key);
        assert_eq!(
            comments.len(),
            expected,
            "{site_key} has exactly {expected} comment(s) ({mode:?}); seen: {}",
            self.snapshot_of(site_key),
            mode = self.mode,
        );
        comments
    }

    /// Waits until the ledger of `tenant` has a row for `delivery_id` satisfying `check`.
    pub async fn ledger_entry(
        &self,
        tenant: &SimTenant,
        delivery_id: &str,
        check: impl Fn(&LedgerEntry) -> bool,
    ) -> LedgerEntry {
        let patience = Patience::start();
        let what = format!("a matching ledger row for delivery {delivery_id}");
        loop {
            let rows = self.ledger(tenant).await;
            let ours: Vec<&LedgerEntry> = rows
                .iter()
                .filter(|row| row.delivery_id == delivery_id)
                .collect();
            if let Some(row) = ours.iter().find(|row| check(row)) {
                return (*row).clone();
            }
            patience.pause(&what, format!("{ours:?}")).await;
        }
    }

    /// The most recent ledger rows of `tenant` (newest first).
    pub async fn ledger(&self, tenant: &SimTenant) -> Vec<LedgerEntry> {
        self.ledger_of(&client_key(tenant)).await
    }

    /// The most recent ledger rows of the tenant `client_key` (newest first).
    pub async fn ledger_of(&self, client_key: &ClientKey) -> Vec<LedgerEntry> {
        self.pipeline()
            .dispatcher
            .ledger
            .activity(client_key, None, 100)
            .await
            .unwrap_or_else(|e| panic!("reading the ledger of {client_key}: {e}"))
    }

    /// The worker's value of one Prometheus series, e.g.
    /// `hookline_duplicate_effects_skipped_total{product="jira"}` (0 until first counted).
    pub fn worker_metric(&self, series: &str) -> f64 {
        let text = self.pipeline().dispatcher.metrics.render();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| value.trim().parse().unwrap_or(f64::NAN))
    }

    /// Waits until the worker's `series` reaches `value`.
    pub async fn wait_for_metric(&self, series: &str, value: f64) {
        let patience = Patience::start();
        let what = format!("{series} to reach {value}");
        loop {
            let seen = self.worker_metric(series);
            if seen >= value {
                return;
            }
            patience.pause(&what, seen).await;
        }
    }

    /// What the product simulator saw of `tenant`, for failure messages.
    pub fn snapshot(&self, tenant: &SimTenant) -> String {
        self.snapshot_of(&tenant.client_key)
    }

    /// What the product simulator saw of the site `site_key`, for failure messages.
    pub fn snapshot_of(&self, site_key: &str) -> String {
        let comments: Vec<(String, String)> = self
            .product
            .comments(site_key)
            .into_iter()
            .map(|c| (c.target, c.body.to_string()))
            .collect();
        let requests: Vec<(String, String, u16)> = self
            .product
            .requests(site_key)
            .into_iter()
            .map(|r| (r.method, r.path, r.status))
            .collect();
        format!(
            "comments {comments:?}; requests {requests:?}; refused calls (all sites) {}",
            self.product.rejected_requests()
        )
    }

    /// Stops the pipeline (ingress drains, worker finishes in-flight events) and releases the
    /// database, queues or directory.
    ///
    /// # Panics
    /// If the pipeline does not stop within 30 s.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(pipeline) = self.pipeline.take() {
            tokio::time::timeout(STOP_PATIENCE, pipeline.wait())
                .await
                .unwrap_or_else(|_| panic!("the {:?} pipeline stops within 30 s", self.mode));
        }
    }
}

impl Drop for E2e {
    fn drop(&mut self) {
        // A test that failed before `stop`: no more work may start while the database and
        // queues are released.
        self.shutdown.cancel();
    }
}

fn client_key(tenant: &SimTenant) -> ClientKey {
    ClientKey::parse(&tenant.client_key)
        .unwrap_or_else(|e| panic!("{} is a client key: {e}", tenant.client_key))
}

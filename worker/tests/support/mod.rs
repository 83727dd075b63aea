//! `spawn_worker()`: a real worker against real PostgreSQL and RabbitMQ (fresh database, unique
//! queue prefix) with the Connect simulator standing in for Jira and Confluence.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::amqp::Topology;
use common::config::Settings;
use common::envelope::{EventEnvelope, QueueMessage};
use common::rules::{Rule, RuleSpec};
use common::tenant::{ClientKey, InstallPayload, ProductType, TenantId, TenantState};
use common::testing::{amqp_url, unique_prefix, BrokerCleanup, TestDatabase};
use lapin::options::{BasicGetOptions, BasicPublishOptions};
use lapin::BasicProperties;
use serde_json::{json, value::RawValue, Value};
use simulator::ProductSim;
use tokio_util::sync::CancellationToken;
use worker::dispatch::Dispatcher;
use worker::startup::Worker;

pub struct TestWorker {
    pub sim: ProductSim,
    db: sea_orm::DatabaseConnection,
    pub dispatcher: Arc<Dispatcher>,
    pub topology: Topology,
    pub settings: Settings,
    pub metrics_url: String,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    _broker: BrokerCleanup,
    _db: TestDatabase,
}

pub async fn spawn_worker() -> TestWorker {
    spawn_worker_with(None).await
}

/// A worker whose database connections go to `database_url` (a proxy the test can cut).
pub async fn spawn_worker_with(database_url: Option<String>) -> TestWorker {
    let db = TestDatabase::postgres().await;
    let prefix = unique_prefix();
    let vars = [
        (
            "HOOKLINE_DATABASE__URL",
            database_url.unwrap_or_else(|| db.url.clone()),
        ),
        ("HOOKLINE_AMQP__URL", amqp_url()),
        ("HOOKLINE_AMQP__PREFIX", prefix.clone()),
        ("HOOKLINE_AMQP__RETRY_DELAYS_SECS", "1,2,4".to_owned()),
        ("HOOKLINE_WORKER__MAX_ATTEMPTS", "4".to_owned()),
        ("HOOKLINE_WORKER__METRICS_PORT", "0".to_owned()),
        ("HOOKLINE_OUTBOUND__TIMEOUT_SECS", "5".to_owned()),
        ("HOOKLINE_APP__BASE_URL", "https://hookline.test".to_owned()),
        (
            "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
            "127.0.0.1".to_owned(),
        ),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            "test=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
    ];
    let settings =
        Settings::load_from(None, vars.map(|(k, v)| (k.to_owned(), v))).expect("valid settings");
    let topology = Topology::new(&prefix, &settings.amqp.retry_delays_secs);
    let shutdown = CancellationToken::new();
    let worker = Worker::build(settings.clone(), shutdown.clone())
        .await
        .expect("the worker builds");
    let dispatcher = worker.dispatcher().clone();
    let metrics_url = format!("http://{}/metrics", worker.metrics_address());
    let task = tokio::spawn(worker.run_until_stopped());
    let connection = common::db::connect(&db.url)
        .await
        .expect("the test database");
    TestWorker {
        sim: ProductSim::start().await,
        db: connection,
        dispatcher,
        topology: topology.clone(),
        settings,
        metrics_url,
        shutdown,
        task: Some(task),
        _broker: BrokerCleanup { topology },
        _db: db,
    }
}

/// An event as the ingress would publish it.
pub fn event(
    client_key: &str,
    product: ProductType,
    name: &str,
    webhook_id: &str,
    payload: &Value,
) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        tenant: TenantId::Connect(ClientKey::parse(client_key).expect("a client key")),
        product,
        event: name.to_owned(),
        webhook_id: Some(webhook_id.to_owned()),
        retry: 0,
        flow: None,
        received_at: Utc::now(),
        payload: RawValue::from_string(payload.to_string()).expect("json"),
    }
}

pub fn issue_created(key: &str) -> Value {
    json!({"webhookEvent": "jira:issue_created", "issue": {"key": key, "fields": {"summary": "Login fails", "project": {"key": "KAN"}}}})
}

pub fn page_created(id: u64) -> Value {
    json!({"page": {"id": id, "title": "Release <notes>", "spaceKey": "ENG"}, "eventType": "page_created"})
}

pub fn comment_rule(template: &str) -> RuleSpec {
    serde_json::from_value(json!({"name": "comment", "event": "jira:issue_created", "action": {"type": "jira_comment", "template": template}})).expect("rule")
}

impl TestWorker {
    /// The `installed` body of a tenant registered in the simulator.
    pub fn install_payload(
        &self,
        client_key: &str,
        secret: &str,
        product: ProductType,
    ) -> InstallPayload {
        let base_url = self
            .sim
            .base_url(client_key)
            .expect("the tenant is in the simulator");
        serde_json::from_value(json!({
            "key": "hookline", "clientKey": client_key, "sharedSecret": secret, "baseUrl": base_url,
            "productType": product.as_str(), "eventType": "installed"
        }))
        .expect("install payload")
    }

    /// A new connection to the worker's database.
    pub fn dispatcher_db(&self) -> sea_orm::DatabaseConnection {
        self.db.clone()
    }

    /// Installs and enables a tenant in the database and in the simulator.
    pub async fn add_tenant(&self, client_key: &str, secret: &str, product: ProductType) {
        self.sim.add_tenant(client_key, secret, product, "hookline");
        let payload = self.install_payload(client_key, secret, product);
        self.dispatcher
            .tenants
            .save_install(&payload)
            .await
            .expect("install stored");
        let key = ClientKey::parse(client_key).expect("client key");
        self.dispatcher
            .tenants
            .set_state(&key, TenantState::Enabled)
            .await
            .expect("enabled");
    }

    pub async fn add_rule(&self, client_key: &str, spec: &RuleSpec) -> Rule {
        let key = ClientKey::parse(client_key).expect("client key");
        self.dispatcher
            .rules
            .add(&key, spec)
            .await
            .expect("rule stored")
    }

    /// Publishes an event to the events exchange, confirmed, as the ingress does.
    pub async fn publish(&self, event: &EventEnvelope) {
        let connection = common::amqp::connect(&amqp_url(), "hookline-test-publisher")
            .await
            .expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(Default::default())
            .await
            .expect("confirms");
        let properties = BasicProperties::default().with_delivery_mode(2);
        let confirm = channel
            .basic_publish(
                &self.topology.events_exchange(),
                &event.routing_key(),
                BasicPublishOptions::default(),
                &QueueMessage::EventV1(event.clone())
                    .to_bytes()
                    .expect("encodes"),
                properties,
            )
            .await
            .expect("publish");
        assert!(confirm.await.expect("confirm").is_ack());
        let _ = connection.close(200, "done").await;
    }

    /// Publishes a `jira:issue_created` event for `issue_key` of a Jira tenant.
    pub async fn publish_issue_created(&self, client_key: &str, webhook_id: &str, issue_key: &str) {
        let payload = issue_created(issue_key);
        self.publish(&event(
            client_key,
            ProductType::Jira,
            "jira:issue_created",
            webhook_id,
            &payload,
        ))
        .await;
    }

    /// Every message now in the dead-letter queue.
    pub async fn dead_letters(&self) -> Vec<lapin::message::BasicGetMessage> {
        let connection = common::amqp::connect(&amqp_url(), "hookline-test-reader")
            .await
            .expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let mut messages = Vec::new();
        while let Some(message) = channel
            .basic_get(
                &self.topology.dead_letter_queue(),
                BasicGetOptions { no_ack: true },
            )
            .await
            .expect("basic.get")
        {
            messages.push(message);
        }
        let _ = connection.close(200, "done").await;
        messages
    }

    /// Polls the dead-letter queue until something arrives (or `timeout` passes) and takes it.
    pub async fn wait_for_dead_letters(
        &self,
        timeout: Duration,
    ) -> Vec<lapin::message::BasicGetMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let dead = self.dead_letters().await;
            if !dead.is_empty() || tokio::time::Instant::now() >= deadline {
                return dead;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a line of `/metrics` starts with `line`.
    pub async fn metric_reaches(&self, line: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let text = match reqwest::get(&self.metrics_url).await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.lines().any(|l| l.starts_with(line)) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// The name of this worker's broker connection.
    pub fn connection_name(&self) -> String {
        format!("hookline-worker-{}", self.settings.amqp.prefix)
    }

    /// Shuts the worker down (as SIGTERM does) and waits for it, keeping queues and database.
    pub async fn halt(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    }

    pub async fn stop(mut self) {
        self.halt().await;
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

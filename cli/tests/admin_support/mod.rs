//! What the admin command tests share: a fresh database (PostgreSQL or the embedded SQLite),
//! a key file, optionally a RabbitMQ topology under a unique prefix, the `hookline` binary
//! pointed at all of them through `HOOKLINE_*` variables, and seeding through the stores.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use common::amqp::{headers, Topology};
use common::crypto::Keyring;
use common::envelope::{EventEnvelope, QueueMessage};
use common::ledger::LedgerStore;
use common::rules::{RuleSpec, RuleStore};
use common::tenant::{
    ClientKey, InstallPayload, ProductType, Tenant, TenantId, TenantState, TenantStore,
};
use common::testing::{amqp_url, unique_prefix, BrokerCleanup, TestDatabase};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use sea_orm::DatabaseConnection;

/// Short retry delays keep the declared topology small.
const RETRY_DELAYS: &str = "1,2";

/// One test's world; everything is removed on drop, even when the test panics.
pub struct AdminEnv {
    /// A connection to the same database the binary uses (declared first: closed first).
    pub db: DatabaseConnection,
    /// The data directory; the key file is `hookline.key` in it.
    pub dir: tempfile::TempDir,
    /// The broker, when the test uses one.
    pub broker: Option<Broker>,
    vars: Vec<(String, String)>,
    _database: Option<TestDatabase>,
}

/// A declared topology under a unique prefix, and a confirm channel to seed and inspect it.
pub struct Broker {
    pub topology: Topology,
    pub channel: Channel,
    _connection: Connection,
    _cleanup: BrokerCleanup,
}

impl AdminEnv {
    /// PostgreSQL (a fresh database) and the local queue.
    pub async fn postgres() -> Self {
        let database = TestDatabase::postgres().await;
        let url = database.url.clone();
        Self::build(&url, Some(database)).await
    }

    /// The embedded default: SQLite in the data directory.
    pub async fn sqlite() -> Self {
        Self::build("", None).await
    }

    async fn build(database_url: &str, database: Option<TestDatabase>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Keyring::create_key_file(dir.path().join("hookline.key")).expect("a key file");
        let mut vars = vec![(
            "HOOKLINE_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        )];
        let url = if database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("hookline.db").display()
            )
        } else {
            vars.push(("HOOKLINE_DATABASE__URL".into(), database_url.to_owned()));
            database_url.to_owned()
        };
        let db = common::db::connect(&url)
            .await
            .expect("connect to the test database");
        common::db::migrate(&db).await.expect("migrations apply");
        Self {
            db,
            dir,
            broker: None,
            vars,
            _database: database,
        }
    }

    /// Adds RabbitMQ: the topology is declared under a unique prefix and deleted on drop.
    pub async fn with_broker(mut self) -> Self {
        let prefix = unique_prefix();
        let delays: Vec<u64> = RETRY_DELAYS
            .split(',')
            .map(|d| d.parse().unwrap())
            .collect();
        let topology = Topology::new(&prefix, &delays);
        let connection = common::amqp::connect(&amqp_url(), "hookline-admin-test")
            .await
            .expect("RabbitMQ is reachable (run scripts/test)");
        let channel = connection.create_channel().await.expect("a channel");
        let cleanup = BrokerCleanup {
            topology: topology.clone(),
        };
        topology
            .declare(&channel)
            .await
            .expect("the topology declares");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm mode");
        self.vars.extend([
            ("HOOKLINE_AMQP__URL".to_owned(), amqp_url()),
            ("HOOKLINE_AMQP__PREFIX".to_owned(), prefix),
            (
                "HOOKLINE_AMQP__RETRY_DELAYS_SECS".to_owned(),
                RETRY_DELAYS.to_owned(),
            ),
        ]);
        self.broker = Some(Broker {
            topology,
            channel,
            _connection: connection,
            _cleanup: cleanup,
        });
        self
    }

    /// Sets (or replaces) a `HOOKLINE_*` variable for the binary.
    pub fn set_var(&mut self, name: &str, value: &str) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value.to_owned()));
    }

    /// Runs `hookline` with `args`, with only this test's `HOOKLINE_*` settings.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookline"));
        for (name, _) in std::env::vars() {
            if name.starts_with("HOOKLINE_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("runs hookline")
    }

    /// Runs `hookline`, expecting success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "hookline {args:?} failed: {}{}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    }

    /// Runs `hookline`, expecting exit code 1; returns standard output and standard error.
    pub fn fails(&self, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "hookline {args:?}: {}{}",
            stdout(&output),
            stderr(&output)
        );
        (stdout(&output), stderr(&output))
    }

    /// The default key file.
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("hookline.key")
    }

    /// A tenant store with the key file's keys as they are now.
    pub fn tenants(&self) -> TenantStore {
        let keyring = Keyring::load_key_file(self.key_file()).expect("the key file loads");
        TenantStore::new(self.db.clone(), Arc::new(keyring), Duration::ZERO)
    }

    pub fn rules(&self) -> RuleStore {
        RuleStore::new(self.db.clone(), Duration::ZERO)
    }

    pub fn ledger(&self) -> LedgerStore {
        LedgerStore::new(self.db.clone())
    }

    /// Installs and enables a tenant; its secret is [`secret_of`] its client key.
    pub async fn install(&self, client_key: &str, product: ProductType) -> Tenant {
        let store = self.tenants();
        store
            .save_install(&install_payload(client_key, product))
            .await
            .expect("the install is saved");
        store
            .set_state(&ck(client_key), TenantState::Enabled)
            .await
            .expect("the tenant is enabled")
            .expect("the tenant exists")
    }

    /// Adds a rule from JSON to a tenant, returning its id.
    pub async fn add_rule(&self, client_key: &str, rule: serde_json::Value) -> i64 {
        let spec: RuleSpec = serde_json::from_value(rule).expect("a rule");
        self.rules()
            .add(&ck(client_key), &spec)
            .await
            .expect("the rule is added")
            .id
    }

    pub fn broker(&self) -> &Broker {
        self.broker.as_ref().expect("this test declared a broker")
    }
}

impl Broker {
    /// Publishes a dead letter as the worker does: default exchange to `{p}.dead`, the
    /// delivery id as message id, the original headers plus the reason.
    pub async fn publish_dead(&self, message_id: &str, event: &EventEnvelope, reason: &str) {
        let mut table = FieldTable::default();
        let string = |s: &str| AMQPValue::LongString(LongString::from(s));
        table.insert(
            headers::CLIENT_KEY.into(),
            string(&event.tenant.to_string()),
        );
        table.insert(headers::PRODUCT.into(), string(event.product.as_str()));
        table.insert(headers::EVENT.into(), string(&event.event));
        table.insert(ShortString::from(headers::ATTEMPT), AMQPValue::LongUInt(6));
        table.insert(headers::DEAD_REASON.into(), string(reason));
        let properties = BasicProperties::default()
            .with_message_id(message_id.into())
            .with_app_id("hookline".into())
            .with_delivery_mode(2)
            .with_headers(table);
        let body = QueueMessage::EventV1(event.clone())
            .to_bytes()
            .expect("encodes");
        let confirm = self
            .channel
            .basic_publish(
                "",
                &self.topology.dead_letter_queue(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(confirm.is_ack(), "the broker took the dead letter");
    }

    /// Messages ready in `queue` (a passive declare).
    pub async fn depth(&self, queue: &str) -> u32 {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        self.channel
            .queue_declare(queue, passive, FieldTable::default())
            .await
            .expect("the queue exists")
            .message_count()
    }

    /// Waits until `queue` holds `expected` ready messages (counts settle asynchronously).
    pub async fn wait_depth(&self, queue: &str, expected: u32) -> u32 {
        let mut depth = self.depth(queue).await;
        for _ in 0..50 {
            if depth == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            depth = self.depth(queue).await;
        }
        depth
    }
}

/// An event of `client_key` as the ingress would enqueue it.
pub fn event(
    client_key: &str,
    product: ProductType,
    event: &str,
    webhook_id: &str,
) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid_v4(),
        tenant: TenantId::Connect(ClientKey::parse(client_key).expect("a client key")),
        product,
        event: event.to_owned(),
        webhook_id: Some(webhook_id.to_owned()),
        retry: 0,
        flow: None,
        received_at: chrono::Utc::now(),
        payload: serde_json::value::RawValue::from_string(
            r#"{"issue": {"key": "KAN-1", "fields": {"summary": "a private summary"}}}"#.into(),
        )
        .expect("json"),
    }
}

fn uuid_v4() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

pub fn ck(raw: &str) -> ClientKey {
    ClientKey::parse(raw).expect("a client key")
}

/// The sharedSecret every test tenant is installed with.
pub fn secret_of(client_key: &str) -> String {
    format!("secret-of-{client_key}-0123456789abcdef")
}

pub fn install_payload(client_key: &str, product: ProductType) -> InstallPayload {
    let base_url = match product {
        ProductType::Jira => format!("https://{client_key}.atlassian.net"),
        ProductType::Confluence => format!("https://{client_key}.atlassian.net/wiki"),
    };
    serde_json::from_value(serde_json::json!({
        "key": "hookline",
        "clientKey": client_key,
        "sharedSecret": secret_of(client_key),
        "baseUrl": base_url,
        "productType": product.as_str(),
        "description": format!("Atlassian site {client_key}"),
        "eventType": "installed",
        "serverVersion": "100280",
        "pluginsVersion": "1001.0.0",
    }))
    .expect("an install payload")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

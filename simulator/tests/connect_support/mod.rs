//! Helpers of the ConnectSim tests: a real ingress (fresh PostgreSQL database, unique broker
//! prefix, the simulator's key server) and a scripted app that records what it receives.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::amqp::Topology;
use common::config::Settings;
use common::envelope::{EventEnvelope, QueueMessage};
use common::testing::{amqp_url, unique_prefix, BrokerCleanup, TestDatabase};
use ingress::startup::Application;
use lapin::options::BasicGetOptions;
use serde_json::json;
use simulator::server::{dropped_connection, serve, RunningServer};
use simulator::{ConnectSim, ProductSim};
use tokio_util::sync::CancellationToken;
use warp::http::{HeaderMap, StatusCode};
use warp::{Filter, Reply};

/// Delivery options with a short backoff, so that retries take milliseconds.
pub fn fast() -> simulator::SendOptions {
    simulator::SendOptions {
        backoff: Some(Duration::from_millis(10)),
        ..simulator::SendOptions::default()
    }
}

/// A running ingress and a ConnectSim facing it.
pub struct Ingress {
    pub sim: ConnectSim,
    pub product: ProductSim,
    pub topology: Topology,
    shutdown: CancellationToken,
    _broker: BrokerCleanup,
    _db: TestDatabase,
}

/// Starts the real ingress on a free port whose URL is also its `app.base_url`, so the
/// simulator talks to it exactly as Atlassian talks to a deployed app.
pub async fn spawn_ingress(signed_install: bool) -> Ingress {
    let db = TestDatabase::postgres().await;
    let prefix = unique_prefix();
    let product = ProductSim::start().await;
    // The base URL must name the port before the ingress binds it: take a free port, release
    // it, and try again in the unlikely case someone else grabbed it in between.
    for _ in 0..5 {
        let port = free_port();
        let app_url = format!("http://127.0.0.1:{port}");
        let sim = ConnectSim::start(&app_url, product.clone()).await;
        let settings = settings(&db, &prefix, &app_url, port, &sim, signed_install);
        let topology = Topology::new(&prefix, &settings.amqp.retry_delays_secs);
        let shutdown = CancellationToken::new();
        let Ok(application) = Application::build(settings, shutdown.clone()).await else {
            continue;
        };
        tokio::spawn(application.run_until_stopped());
        return Ingress {
            sim,
            product,
            topology: topology.clone(),
            shutdown,
            _broker: BrokerCleanup { topology },
            _db: db,
        };
    }
    panic!("the ingress could not bind a free port");
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

fn settings(
    db: &TestDatabase,
    prefix: &str,
    app_url: &str,
    port: u16,
    sim: &ConnectSim,
    signed_install: bool,
) -> Settings {
    let vars = [
        ("HOOKLINE_SERVER__PORT", port.to_string()),
        ("HOOKLINE_DATABASE__URL", db.url.clone()),
        ("HOOKLINE_AMQP__URL", amqp_url()),
        ("HOOKLINE_AMQP__PREFIX", prefix.to_owned()),
        ("HOOKLINE_AMQP__CONFIRM_TIMEOUT_MS", "2000".to_owned()),
        ("HOOKLINE_APP__BASE_URL", app_url.to_owned()),
        ("HOOKLINE_APP__SIGNED_INSTALL", signed_install.to_string()),
        ("HOOKLINE_APP__INSTALL_KEYS_URL", sim.key_server_url()),
        (
            "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
            "127.0.0.1".to_owned(),
        ),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            "test=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
    ];
    Settings::load_from(None, vars.map(|(k, v)| (k.to_owned(), v)))
        .expect("test settings are valid")
}

impl Ingress {
    /// Takes every event now on the work queue (waiting up to `wait` for the first).
    pub async fn drain_work_queue(&self, wait: Duration) -> Vec<EventEnvelope> {
        let connection = common::amqp::connect(&amqp_url(), "hookline-simulator-test-reader")
            .await
            .expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let queue = self.topology.work_queue();
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = Vec::new();
        loop {
            let got = channel
                .basic_get(&queue, BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get");
            match got {
                Some(message) => {
                    let QueueMessage::EventV1(event) =
                        QueueMessage::from_bytes(&message.delivery.data).expect("an envelope");
                    events.push(event);
                }
                None if !events.is_empty() || tokio::time::Instant::now() >= deadline => break,
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let _ = connection.close(200, "done").await;
        events
    }
}

impl Drop for Ingress {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What the scripted app received on one webhook request.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// An app whose descriptor registers one Jira and one Confluence webhook and whose webhook
/// endpoint answers the queued statuses in order (`0`: drop the connection), then 202.
pub struct ScriptedApp {
    pub url: String,
    script: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<Received>>>,
    _server: RunningServer,
}

impl ScriptedApp {
    pub fn start(script: &[u16]) -> Self {
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (answers, log) = (script.clone(), received.clone());
        let descriptor = warp::path!("atlassian-connect.json")
            .and(warp::get())
            .map(|| warp::reply::json(&descriptor()).into_response());
        let webhook = warp::path!("webhooks" / String / String)
            .and(warp::post())
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(
                move |_: String,
                      _: String,
                      path: warp::path::FullPath,
                      headers,
                      body: warp::hyper::body::Bytes| {
                    log.lock().unwrap().push(Received {
                        path: path.as_str().to_owned(),
                        headers,
                        body: body.to_vec(),
                    });
                    match answers.lock().unwrap().pop_front().unwrap_or(202) {
                        0 => dropped_connection(),
                        status => warp::reply::with_status(
                            warp::reply(),
                            StatusCode::from_u16(status).expect("a status"),
                        )
                        .into_response(),
                    }
                },
            );
        let server = serve(descriptor.or(webhook).unify().boxed());
        Self {
            url: format!("http://{}", server.address()),
            script,
            received,
            _server: server,
        }
    }

    /// Every webhook request received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn descriptor() -> serde_json::Value {
    json!({
        "key": "scripted",
        "baseUrl": "http://127.0.0.1",
        "lifecycle": { "installed": "/installed" },
        "modules": { "webhooks": [
            { "event": "jira:issue_created", "url": "/webhooks/jira/jira:issue_created" },
            { "event": "page_created", "url": "/webhooks/confluence/page_created" },
        ]},
    })
}

//! The broker nodes a process may connect to: one URL per node of a RabbitMQ cluster
//! (`amqp.url`, `amqp.urls`). A link connects to one live node and, when that node goes away,
//! to the next one that answers.
use std::sync::Arc;
use std::time::Duration;

use lapin::Connection;

use crate::config::AmqpSettings;

/// How long one node may take to accept a connection (TCP, TLS and the AMQP handshake) before
/// the next is tried: a node that is partitioned or frozen may never answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The configured broker nodes, in order.
#[derive(Clone, PartialEq, Eq)]
pub struct Brokers {
    urls: Arc<[String]>,
}

impl Brokers {
    /// The nodes of `urls` in order, each once; `None` when there is none.
    pub fn new(urls: impl IntoIterator<Item = String>) -> Option<Self> {
        let mut unique: Vec<String> = Vec::new();
        for url in urls {
            if !unique.contains(&url) {
                unique.push(url);
            }
        }
        (!unique.is_empty()).then(|| Self {
            urls: unique.into(),
        })
    }

    /// `amqp.url` then every `amqp.urls`; `None` when neither is set (the in-process queue).
    pub fn from_settings(amqp: &AmqpSettings) -> Option<Self> {
        Self::new(amqp.url.iter().chain(&amqp.urls).cloned())
    }

    /// One node.
    pub fn one(url: &str) -> Self {
        Self {
            urls: Arc::from([url.to_owned()]),
        }
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// Never: a `Brokers` has at least one node.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The URL of node `index` (wrapping around).
    pub fn url(&self, index: usize) -> &str {
        &self.urls[index % self.urls.len()]
    }

    /// Node `index` as `host:port`, for logs: never its credentials.
    pub fn node(&self, index: usize) -> String {
        node_name(self.url(index))
    }

    /// Where a process starts: its nodes taken in turn by process id, so that the replicas of
    /// a deployment spread their connections over the cluster rather than all on the first.
    pub fn first_choice(&self) -> usize {
        std::process::id() as usize % self.urls.len()
    }

    /// Connects as `name` to the first node that answers, trying each once from `from` on;
    /// returns the connection and which node it is. The error is the last node's.
    pub async fn connect(
        &self,
        from: usize,
        name: &str,
    ) -> Result<(Connection, usize), lapin::Error> {
        let mut last_error = None;
        for offset in 0..self.urls.len() {
            let index = (from + offset) % self.urls.len();
            let attempt =
                tokio::time::timeout(CONNECT_TIMEOUT, super::connect(self.url(index), name));
            match attempt.await {
                Ok(Ok(connection)) => return Ok((connection, index)),
                Ok(Err(error)) => {
                    tracing::warn!(link = %name, node = %self.node(index), %error, "cannot connect to this broker node");
                    last_error = Some(error);
                }
                Err(_) => {
                    tracing::warn!(link = %name, node = %self.node(index), timeout = ?CONNECT_TIMEOUT, "a broker node did not answer in time");
                    last_error = Some(lapin::Error::IOError(Arc::new(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within {CONNECT_TIMEOUT:?}"),
                    ))));
                }
            }
        }
        Err(last_error.expect("a Brokers has at least one node"))
    }
}

impl std::fmt::Debug for Brokers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.urls.iter().map(|url| node_name(url)))
            .finish()
    }
}

/// `host:port` of an AMQP URL (the scheme's port when it names none); `?` when it does not
/// parse, so that a malformed URL holding a password is never printed.
fn node_name(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let port = parsed.port().unwrap_or(if parsed.scheme() == "amqps" {
                5671
            } else {
                5672
            });
            format!("{}:{port}", parsed.host_str().unwrap_or("?"))
        }
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_comes_first_then_urls_each_once() {
        let amqp = AmqpSettings {
            url: Some("amqp://u:hunter2@a:5672/%2f".into()),
            urls: vec![
                "amqp://u:hunter2@b:5673/%2f".into(),
                "amqp://u:hunter2@a:5672/%2f".into(),
                "amqps://u:hunter2@c/%2f".into(),
            ],
            ..AmqpSettings::default()
        };
        let brokers = Brokers::from_settings(&amqp).expect("three nodes");
        assert_eq!(brokers.len(), 3);
        assert_eq!(brokers.url(0), "amqp://u:hunter2@a:5672/%2f");
        assert!(!format!("{brokers:?}").contains("hunter2"));
        assert_eq!(
            brokers.url(4),
            "amqp://u:hunter2@b:5673/%2f",
            "indexes wrap around"
        );
        assert_eq!(format!("{brokers:?}"), r#"["a:5672", "b:5673", "c:5671"]"#);
    }

    #[test]
    fn no_url_means_no_broker() {
        assert_eq!(Brokers::from_settings(&AmqpSettings::default()), None);
        assert_eq!(Brokers::new(Vec::new()), None);
    }

    #[test]
    fn node_names_never_carry_credentials() {
        assert_eq!(
            node_name("amqp://user:secret@rabbit-1:5672/%2f"),
            "rabbit-1:5672"
        );
        assert_eq!(node_name("secret-not-a-url"), "?");
    }

    #[tokio::test]
    async fn a_dead_node_is_skipped_for_a_live_one() {
        // A port nothing listens on, then the test broker.
        let dead = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
            let port = listener.local_addr().expect("its address").port();
            drop(listener);
            format!("amqp://guest:guest@127.0.0.1:{port}/%2f")
        };
        let brokers = Brokers::new([dead, crate::testing::amqp_url()]).expect("two nodes");
        let (connection, index) = brokers
            .connect(0, "hookline-test-brokers")
            .await
            .expect("the live node answers");
        assert_eq!(index, 1);
        connection.close(200, "done").await.expect("a clean close");
        let error = Brokers::new([brokers.url(0).to_owned()])
            .expect("one node")
            .connect(0, "hookline-test-brokers")
            .await
            .expect_err("no live node");
        assert!(!error.to_string().is_empty());
    }
}

//! The sections of [`super::Settings`], each with defaults for the embedded mode.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The ingress HTTP server.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind (default `127.0.0.1`; `0.0.0.0` in containers).
    pub host: String,
    /// Port to bind (default 8080; 0 picks a free one).
    pub port: u16,
    /// Largest accepted request body, bytes (default 32 MiB: above the 25 MB at which Jira
    /// itself drops a webhook, since Jira never retries a 413).
    pub body_limit_bytes: u64,
    /// Bodies above this size, bytes, are large (default 1 MiB): each needs one of the
    /// `large_bodies_at_once` slots while it is read and handled.
    pub large_body_bytes: u64,
    /// How many large bodies may be held at once (default 2); a large body that waits for a
    /// slot longer than the read timeout gets 503, which Jira retries.
    pub large_bodies_at_once: u32,
    /// How long in-flight requests may take to finish on shutdown, seconds.
    pub shutdown_grace_secs: u64,
    /// How long a client may take to send a request's headers, and then its body, seconds
    /// (default 10; a stalled client then gets 408 or a closed connection).
    pub read_timeout_secs: u64,
}

impl ServerSettings {
    /// How long in-flight work may take to finish on shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// How long a client may take to send a request's headers, and then its body.
    pub fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout_secs)
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            body_limit_bytes: 32 * 1024 * 1024,
            large_body_bytes: 1024 * 1024,
            large_bodies_at_once: 2,
            shutdown_grace_secs: 20,
            read_timeout_secs: 10,
        }
    }
}

/// The database. `Debug` hides the URL's password.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://...` or `sqlite://path?mode=rwc`; default: SQLite in the data directory.
    pub url: Option<String>,
    /// Largest connection pool.
    pub max_connections: u32,
    /// How long a tenant stays in the in-memory cache, seconds.
    pub tenant_cache_ttl_secs: u64,
    /// How long a tenant's rules stay cached, seconds (changes made elsewhere show up within
    /// it; every process drops its own changes at once).
    pub rules_cache_ttl_secs: u64,
    /// Most writes in one transaction (group commit of the embedded queue's events and the
    /// ledger's claims and completions); 1 writes each on its own.
    pub group_commit_rows: usize,
    /// How long a small batch waits for more writes, microseconds (0: no wait; what arrives
    /// during a commit is batched either way).
    pub group_commit_wait_us: u64,
}

impl DatabaseSettings {
    /// How long a tenant stays cached.
    pub fn tenant_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.tenant_cache_ttl_secs)
    }

    /// How long a tenant's rules stay cached.
    pub fn rules_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.rules_cache_ttl_secs)
    }

    /// The embedded queue's group commit.
    pub fn group_commit(&self) -> crate::batch::CommitLimits {
        crate::batch::CommitLimits {
            max_rows: self.group_commit_rows,
            wait: Duration::from_micros(self.group_commit_wait_us),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            tenant_cache_ttl_secs: 60,
            rules_cache_ttl_secs: 30,
            group_commit_rows: 256,
            group_commit_wait_us: 0,
        }
    }
}

/// The RabbitMQ broker. `Debug` hides the URL's password.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:pass@host:5672/vhost`; absent (with `urls` empty) means the in-process
    /// queue.
    pub url: Option<String>,
    /// One URL per node of a RabbitMQ cluster, tried in turn (after `url`, when both are set):
    /// a process connects to a live node and moves to another when its node goes away.
    pub urls: Vec<String>,
    /// Prefix of every exchange and queue name.
    pub prefix: String,
    /// How long the ingress waits for a publisher confirm before answering 503, ms.
    pub confirm_timeout_ms: u64,
    /// Delays of the retry queues, seconds, in order.
    pub retry_delays_secs: Vec<u64>,
}

impl AmqpSettings {
    /// Whether a broker is configured (`url` or `urls`): otherwise the in-process queue.
    pub fn uses_broker(&self) -> bool {
        self.url.is_some() || !self.urls.is_empty()
    }

    /// How long the ingress waits for a publisher confirm.
    pub fn confirm_timeout(&self) -> Duration {
        Duration::from_millis(self.confirm_timeout_ms)
    }
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: None,
            urls: Vec::new(),
            prefix: "hookline".into(),
            confirm_timeout_ms: 5_000,
            retry_delays_secs: vec![5, 30, 120, 600],
        }
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url.as_deref().map(without_password))
            .field("max_connections", &self.max_connections)
            .field("tenant_cache_ttl_secs", &self.tenant_cache_ttl_secs)
            .field("rules_cache_ttl_secs", &self.rules_cache_ttl_secs)
            .field("group_commit_rows", &self.group_commit_rows)
            .field("group_commit_wait_us", &self.group_commit_wait_us)
            .finish()
    }
}

impl fmt::Debug for AmqpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpSettings")
            .field("url", &self.url.as_deref().map(without_password))
            .field(
                "urls",
                &self
                    .urls
                    .iter()
                    .map(|url| without_password(url))
                    .collect::<Vec<_>>(),
            )
            .field("prefix", &self.prefix)
            .field("confirm_timeout_ms", &self.confirm_timeout_ms)
            .field("retry_delays_secs", &self.retry_delays_secs)
            .finish()
    }
}

/// A URL with its password (if any) replaced by `***`; an unparsable URL is hidden whole,
/// since it may be a password in the wrong place.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Secrets at rest and token checks.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// File holding the encryption keys (`kid=base64` lines, first active); default
    /// `{data_dir}/hookline.key`, created with mode 0600 on first run.
    pub key_file: Option<PathBuf>,
    /// The keys inline instead (`kid1=BASE64,kid2=BASE64`, first active), e.g. from a secret store.
    pub encryption_keys: Option<String>,
    /// Clock skew allowed on `exp`/`iat`, seconds.
    pub jwt_leeway_secs: u64,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            key_file: None,
            encryption_keys: None,
            jwt_leeway_secs: 30,
        }
    }
}

impl fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecuritySettings")
            .field("key_file", &self.key_file)
            .field(
                "encryption_keys",
                &self.encryption_keys.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_leeway_secs", &self.jwt_leeway_secs)
            .finish()
    }
}

/// Event processing.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Unacknowledged events a worker holds at once (its concurrency).
    pub prefetch: u16,
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// Port of the worker's `/metrics` and `/healthz` (on `server.host`; 0 picks a free one).
    pub metrics_port: u16,
    /// Deprecated: `outbound.timeout_secs` (still read, with a warning).
    pub http_timeout_secs: Option<u64>,
    /// Deprecated: `outbound.connect_timeout_secs` (still read, with a warning).
    pub http_connect_timeout_secs: Option<u64>,
    /// Deprecated: `database.rules_cache_ttl_secs` (still read, with a warning).
    pub rules_cache_ttl_secs: Option<u64>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            prefetch: 256,
            max_attempts: 6,
            metrics_port: 9091,
            http_timeout_secs: None,
            http_connect_timeout_secs: None,
            rules_cache_ttl_secs: None,
        }
    }
}

/// Calls to Jira and Confluence: the worker's actions and the pages' admin check.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundSettings {
    /// Timeout of one call, seconds.
    pub timeout_secs: u64,
    /// Connect timeout of one call, seconds.
    pub connect_timeout_secs: u64,
    /// The worker's steady rate of actions per tenant, per second (per worker process); 0
    /// turns the budget off. Atlassian's rate-limiting guide uses 10 calls a second as an
    /// app's budget on one site.
    pub tenant_calls_per_second: f64,
    /// How many actions a tenant may take at once above that rate.
    pub tenant_call_burst: u32,
}

impl OutboundSettings {
    /// Timeout of one call.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Connect timeout of one call.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
}

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 20,
            connect_timeout_secs: 5,
            tenant_calls_per_second: 10.0,
            tenant_call_burst: 20,
        }
    }
}

/// Fair share between tenants (docs/operations.md, "Fair share between tenants").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FairnessSettings {
    /// Events a second each tenant may send to the main lane of the work queue, per ingress
    /// process; what it sends above that waits in its overflow lane. 0 turns the lanes off
    /// (one first-come, first-served queue).
    pub tenant_events_per_second: f64,
    /// How many events a tenant may send at once above that rate and still be in the main lane
    /// (a bulk edit of this many issues is not a flood).
    pub tenant_event_burst: u32,
}

impl Default for FairnessSettings {
    fn default() -> Self {
        Self {
            tenant_events_per_second: 20.0,
            tenant_event_burst: 200,
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `hookline=debug,info` (`RUST_LOG` wins when set).
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_passwords_of_the_database_and_broker_urls() {
        let database = DatabaseSettings {
            url: Some("postgres://app:db-pass@db.internal:5432/hookline".into()),
            ..DatabaseSettings::default()
        };
        let amqp = AmqpSettings {
            url: Some("amqp://app:mq-pass@mq.internal:5672/%2f".into()),
            ..AmqpSettings::default()
        };
        let debug = format!("{database:?} {amqp:?}");
        assert!(
            !debug.contains("db-pass") && !debug.contains("mq-pass"),
            "{debug}"
        );
        assert!(
            debug.contains("postgres://app:***@db.internal:5432/hookline"),
            "{debug}"
        );
        assert!(
            debug.contains("amqp://app:***@mq.internal:5672/%2f"),
            "{debug}"
        );
        let sqlite = DatabaseSettings {
            url: Some("sqlite://data/hookline.db?mode=rwc".into()),
            ..DatabaseSettings::default()
        };
        assert!(format!("{sqlite:?}").contains("sqlite://data/hookline.db?mode=rwc"));
    }
}

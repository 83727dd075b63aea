//! The sections of [`super::Settings`], each with defaults for the embedded mode.
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::tenant::ProductType;

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
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            tenant_cache_ttl_secs: 60,
        }
    }
}

/// The RabbitMQ broker. `Debug` hides the URL's password.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:pass@host:5672/vhost`; absent means the in-process queue.
    pub url: Option<String>,
    /// Prefix of every exchange and queue name.
    pub prefix: String,
    /// How long the ingress waits for a publisher confirm before answering 503, ms.
    pub confirm_timeout_ms: u64,
    /// Delays of the retry queues, seconds, in order.
    pub retry_delays_secs: Vec<u64>,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: None,
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
            .finish()
    }
}

impl fmt::Debug for AmqpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpSettings")
            .field("url", &self.url.as_deref().map(without_password))
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

/// The app's identity, as its descriptor presents it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AppSettings {
    /// The app key (`key` in the descriptor, `iss` of app tokens).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Description shown to admins.
    pub description: String,
    /// The public URL Atlassian reaches the app at.
    pub base_url: String,
    /// Vendor name and URL.
    pub vendor_name: String,
    /// Vendor URL.
    pub vendor_url: String,
    /// Descriptor scopes.
    pub scopes: Vec<String>,
    /// Subscribed webhooks as `product:event` (`jira:jira:issue_created`, `confluence:page_created`).
    pub webhooks: Vec<String>,
    /// Whether installs use signed-install (RS256); `false` is the legacy mode.
    pub signed_install: bool,
    /// Where signed-install public keys are fetched from (`{url}/{kid}`).
    pub install_keys_url: String,
    /// Hosts a tenant's `baseUrl` may have (`*.atlassian.net` matches any subdomain).
    pub allowed_base_url_hosts: Vec<String>,
    /// Atlassian's `all.js`, the first script of every page shown inside Jira or Confluence.
    pub all_js_url: String,
    /// Who may frame the app's pages (the CSP `frame-ancestors` sources).
    pub frame_ancestors: Vec<String>,
    /// The Jira descriptor's own key and name, when they differ from `key` and `name`.
    pub jira: ProductIdentity,
    /// The Confluence descriptor's own key and name, when they differ from `key` and `name`.
    pub confluence: ProductIdentity,
}

/// A product descriptor's identity: a Connect descriptor is installed into one product, so
/// each product has its own (a Marketplace listing needs a key of its own per product).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProductIdentity {
    /// The app key in this product (default: `app.key`).
    pub key: Option<String>,
    /// The app name in this product (default: `app.name`).
    pub name: Option<String>,
}

impl AppSettings {
    /// The products this deployment serves: those `webhooks` subscribes for, Jira first.
    pub fn products(&self) -> Vec<ProductType> {
        [ProductType::Jira, ProductType::Confluence]
            .into_iter()
            .filter(|product| {
                self.webhooks.iter().any(|webhook| {
                    webhook.split_once(':').map(|(p, _)| p) == Some(product.as_str())
                })
            })
            .collect()
    }

    /// The events `webhooks` subscribes for in `product`.
    pub fn events(&self, product: ProductType) -> impl Iterator<Item = &str> {
        self.webhooks.iter().filter_map(move |webhook| {
            let (of, event) = webhook.split_once(':')?;
            (of == product.as_str()).then_some(event)
        })
    }

    fn identity(&self, product: ProductType) -> &ProductIdentity {
        match product {
            ProductType::Jira => &self.jira,
            ProductType::Confluence => &self.confluence,
        }
    }

    /// The app key of `product`'s descriptor.
    pub fn key_for(&self, product: ProductType) -> &str {
        self.identity(product).key.as_deref().unwrap_or(&self.key)
    }

    /// The app name of `product`'s descriptor.
    pub fn name_for(&self, product: ProductType) -> &str {
        self.identity(product).name.as_deref().unwrap_or(&self.name)
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        let webhooks = [
            "jira:jira:issue_created",
            "jira:jira:issue_updated",
            "jira:comment_created",
            "jira:comment_updated",
            "confluence:page_created",
            "confluence:page_updated",
            "confluence:blog_created",
            "confluence:comment_created",
        ];
        Self {
            key: "hookline".into(),
            name: "hookline".into(),
            description: "Rules that act on Jira and Confluence events.".into(),
            base_url: "http://localhost:8080".into(),
            vendor_name: "hookline".into(),
            vendor_url: "https://github.com/hookline/hookline".into(),
            scopes: vec!["READ".into(), "WRITE".into()],
            webhooks: webhooks.map(String::from).to_vec(),
            signed_install: true,
            install_keys_url: "https://connect-install-keys.atlassian.com".into(),
            allowed_base_url_hosts: vec![
                "*.atlassian.net".into(),
                "*.jira.com".into(),
                "*.jira-dev.com".into(),
            ],
            all_js_url: "https://connect-cdn.atl-paas.net/all.js".into(),
            frame_ancestors: vec![
                "https://*.atlassian.net".into(),
                "https://*.jira.com".into(),
                "https://*.jira-dev.com".into(),
            ],
            jira: ProductIdentity::default(),
            confluence: ProductIdentity::default(),
        }
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
    /// Timeout of one call to Jira or Confluence, seconds.
    pub http_timeout_secs: u64,
    /// Connect timeout of calls to Jira or Confluence, seconds.
    pub http_connect_timeout_secs: u64,
    /// Port of the worker's `/metrics` and `/healthz` (on `server.host`; 0 picks a free one).
    pub metrics_port: u16,
    /// How long a tenant's rules stay cached, seconds (changes made elsewhere show up within it).
    pub rules_cache_ttl_secs: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            prefetch: 256,
            max_attempts: 6,
            http_timeout_secs: 20,
            http_connect_timeout_secs: 5,
            metrics_port: 9091,
            rules_cache_ttl_secs: 30,
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

//! Test support shared by every crate's integration tests (feature `test-support`): a fresh
//! PostgreSQL database or SQLite file per test, a unique broker prefix, and clean-up on drop.
mod proxy;

pub use proxy::Proxy;

use sea_orm::{ConnectionTrait, Database};

use crate::amqp::Topology;

/// The PostgreSQL database used to create and drop one database per test.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Overrides [`DEFAULT_ADMIN_URL`].
pub const ADMIN_URL_VAR: &str = "HOOKLINE_TEST_DATABASE_URL";
/// The broker of the test suite.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Overrides [`DEFAULT_AMQP_URL`].
pub const AMQP_URL_VAR: &str = "HOOKLINE_TEST_AMQP_URL";

fn env_or(var: &str, default: &str) -> String {
    value_or(std::env::var(var).ok(), default)
}

/// `value` unless it is absent or blank, else `default`.
fn value_or(value: Option<String>, default: &str) -> String {
    value
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The admin URL of this test run.
pub fn admin_url() -> String {
    env_or(ADMIN_URL_VAR, DEFAULT_ADMIN_URL)
}

/// The broker URL of this test run.
pub fn amqp_url() -> String {
    env_or(AMQP_URL_VAR, DEFAULT_AMQP_URL)
}

/// A prefix no other test uses, for queue and exchange names.
pub fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Runs `rabbitmqctl` with `args` and returns its output (panics with the output on failure).
pub async fn rabbitmqctl(args: &[&str]) -> String {
    let output = tokio::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .await
        .expect("rabbitmqctl runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The pids of the broker connections whose client named them `name` (`close_connection`
/// takes a pid on RabbitMQ 3.10, not the `peer -> broker` connection name).
pub async fn broker_connections_named(name: &str) -> Vec<String> {
    let listing = rabbitmqctl(&[
        "-q",
        "--no-table-headers",
        "list_connections",
        "pid",
        "client_properties",
    ])
    .await;
    let quoted = format!("\"{name}\"");
    listing
        .lines()
        .filter(|line| line.contains(&quoted) || line.contains(&format!("<<{quoted}>>")))
        .filter_map(|line| line.split('\t').next())
        .map(str::to_owned)
        .collect()
}

/// Closes one broker connection from the broker's side, as a broker restart would.
pub async fn close_broker_connection(pid: &str) {
    rabbitmqctl(&["close_connection", pid, "closed by a hookline test"]).await;
}

/// A database that exists for one test: dropped (PostgreSQL) or deleted (SQLite) on drop,
/// even when the test panics.
pub struct TestDatabase {
    /// The URL to connect to.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres { admin_url: String, name: String },
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
}

impl TestDatabase {
    /// A fresh, empty PostgreSQL database.
    pub async fn postgres() -> Self {
        let admin_url = admin_url();
        let name = format!("hookline_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url.as_str())
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {admin_url} is reachable ({e}); run scripts/test")
            });
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("the admin URL parses");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("hookline.db").display()
        );
        Self {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return;
        };
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        let admin_url = admin_url.clone();
        let outcome = block_on_thread(async move {
            let admin = Database::connect(admin_url.as_str()).await?;
            admin.execute_unprepared(&sql).await?;
            admin.close().await
        });
        if let Some(Err(error)) = outcome {
            eprintln!("could not drop test database {name}: {error}");
        }
    }
}

/// Deletes a test's exchanges and queues on drop.
pub struct BrokerCleanup {
    /// The topology to delete.
    pub topology: Topology,
}

impl Drop for BrokerCleanup {
    fn drop(&mut self) {
        let topology = self.topology.clone();
        let outcome = block_on_thread(async move {
            let connection = crate::amqp::connect(&amqp_url(), "hookline-test-cleanup").await?;
            let channel = connection.create_channel().await?;
            topology.delete(&channel).await?;
            connection.close(200, "cleanup").await
        });
        if let Some(Err(error)) = outcome {
            eprintln!("could not delete the test topology: {error}");
        }
    }
}

/// Runs `future` to completion on a new thread with its own runtime: drop handlers may run
/// while a test's runtime unwinds, where blocking on it is not allowed.
fn block_on_thread<F>(future: F) -> Option<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
            .map(|runtime| runtime.block_on(future))
    })
    .join()
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_url_defaults_to_the_local_test_database_unless_overridden() {
        assert_eq!(value_or(None, DEFAULT_ADMIN_URL), DEFAULT_ADMIN_URL);
        assert_eq!(
            value_or(Some("  ".into()), DEFAULT_ADMIN_URL),
            DEFAULT_ADMIN_URL
        );
        let custom = "postgres://someone@db.internal:5433/admin";
        assert_eq!(value_or(Some(custom.into()), DEFAULT_ADMIN_URL), custom);
    }

    #[test]
    fn unique_prefixes_differ_and_are_valid_amqp_prefixes() {
        let (a, b) = (unique_prefix(), unique_prefix());
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}

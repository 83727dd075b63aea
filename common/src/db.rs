//! Connecting to the database (PostgreSQL or SQLite) and applying migrations.
use std::str::FromStr;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sea_orm::sqlx::ConnectOptions as _;
/// The database's error, for crates that do not depend on sea-orm themselves.
pub use sea_orm::DbErr;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, RuntimeErr, SqlxSqliteConnector};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
const SQLITE_MAX_CONNECTIONS: u32 = 4;
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a connection pool for `url`.
///
/// Accepts `postgres://user@host:port/db`, `sqlite://path/to/file.db` (created if missing, WAL
/// journal) and `sqlite::memory:` (one connection that is never recycled, since the database
/// lives only as long as it). SQLite connections enforce foreign keys.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, POSTGRES_MAX_CONNECTIONS).await
}

/// [`connect`] with a PostgreSQL pool of at most `max_connections` (`database.max_connections`).
pub async fn connect_with(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    if url.starts_with("sqlite:") {
        connect_sqlite(url).await
    } else {
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(max_connections.max(1))
            .connect_timeout(CONNECT_TIMEOUT)
            .sqlx_logging(false);
        Database::connect(options).await
    }
}

/// Opens the database the settings name (pool of `database.max_connections`) and applies
/// every pending migration: what each service does at start-up.
pub async fn open(settings: &crate::config::Settings) -> Result<DatabaseConnection, DbErr> {
    let db = connect_with(&settings.database_url(), settings.database.max_connections).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Applies every pending migration of the `migrations` crate.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

async fn connect_sqlite(url: &str) -> Result<DatabaseConnection, DbErr> {
    let in_memory = is_in_memory(url);
    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(conn_err)?
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .disable_statement_logging();
    let pool = if in_memory {
        // Closing the only connection would drop the database: keep it for the pool's lifetime.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS)
    };
    let pool = pool
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(conn_err)?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// Whether a `sqlite:` URL names an in-memory database (`sqlite::memory:`, `mode=memory`, ...).
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    path.is_empty() || path == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

fn conn_err(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement};

    #[test]
    fn in_memory_urls_are_recognised() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
        ] {
            assert!(is_in_memory(url), "{url}");
        }
        for url in ["sqlite://data/hookline.db", "sqlite://x.db?mode=rwc"] {
            assert!(!is_in_memory(url), "{url}");
        }
    }

    #[tokio::test]
    async fn an_in_memory_database_keeps_its_schema_across_queries() {
        let db = connect("sqlite::memory:").await.unwrap();
        migrate(&db).await.unwrap();
        let backend = db.get_database_backend();
        let count = Statement::from_string(backend, "SELECT COUNT(*) FROM tenants");
        db.query_one(count.clone()).await.unwrap();
        db.query_one(count).await.unwrap();
    }

    #[tokio::test]
    async fn a_sqlite_file_is_created_with_foreign_keys_and_wal() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new.db").display());
        let db = connect(&url).await.unwrap();
        let backend = db.get_database_backend();
        let row = db
            .query_one(Statement::from_string(backend, "PRAGMA foreign_keys"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i32>(0).unwrap(), 1);
        let row = db
            .query_one(Statement::from_string(backend, "PRAGMA journal_mode"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "wal");
        assert!(dir.path().join("new.db").exists());
    }
}

//! What one test owns outside its process and must give back: a PostgreSQL database and broker
//! queues (broker mode), or a scratch data directory (embedded mode). Each is released on
//! drop, so a failing test cleans up too.
use std::path::{Path, PathBuf};

use common::amqp::Topology;
use common::testing::{unique_prefix, BrokerCleanup, TestDatabase};

/// The retry delays of every test pipeline, seconds (short, so retries show up quickly).
pub const RETRY_DELAYS_SECS: [u64; 3] = [1, 2, 4];

/// The external state of one test.
pub enum Resources {
    /// A fresh database and a unique broker prefix whose topology is deleted on drop.
    Broker {
        /// Dropped with `WITH (FORCE)`.
        database: TestDatabase,
        /// The prefix of every exchange and queue of this test.
        prefix: String,
        /// Deletes them.
        broker: BrokerCleanup,
    },
    /// A data directory holding the SQLite database and the local queue.
    Embedded {
        /// Removed on drop.
        data_dir: ScratchDir,
    },
}

impl Resources {
    /// Creates a fresh database and picks a broker prefix.
    pub async fn broker() -> Self {
        let prefix = unique_prefix();
        Self::Broker {
            database: TestDatabase::postgres().await,
            broker: BrokerCleanup {
                topology: Topology::new(&prefix, &RETRY_DELAYS_SECS),
            },
            prefix,
        }
    }

    /// Creates an empty data directory.
    pub fn embedded() -> Self {
        Self::Embedded {
            data_dir: ScratchDir::create(),
        }
    }
}

/// A directory under the system's temporary directory, removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `hookline-e2e-{uuid}`.
    ///
    /// # Panics
    /// If the directory cannot be created.
    pub fn create() -> Self {
        let path = std::env::temp_dir().join(format!("hookline-e2e-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Self(path)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0) {
            eprintln!("could not remove {}: {error}", self.0.display());
        }
    }
}

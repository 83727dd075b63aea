//! The read-through tenant cache, safe against a lookup racing a lifecycle write.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::{ClientKey, Tenant};

/// Tenants by client key, with a write generation so that a lookup that read the database
/// before a concurrent write cannot leave the stale record cached.
#[derive(Clone)]
pub(super) struct TenantCache {
    entries: Cache<String, Tenant>,
    generation: Arc<AtomicU64>,
}

impl TenantCache {
    pub(super) fn new(ttl: Duration, max_capacity: u64) -> Self {
        Self {
            entries: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(max_capacity)
                .build(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(super) async fn get(&self, client_key: &ClientKey) -> Option<Tenant> {
        self.entries.get(client_key.as_str()).await
    }

    /// Taken before reading the database; passed back to [`TenantCache::insert_read`].
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a tenant read from the database while the generation was `seen`.
    ///
    /// Insert first, then re-check: if a write bumped the generation meanwhile, its invalidation
    /// may have run before our insert, so we remove the entry ourselves.
    pub(super) async fn insert_read(&self, tenant: Tenant, seen: u64) {
        let key = tenant.client_key.as_str().to_owned();
        self.entries.insert(key.clone(), tenant).await;
        if self.generation() != seen {
            self.entries.invalidate(&key).await;
        }
    }

    /// Drops a tenant's entry; call after every write to its row.
    pub(super) async fn invalidate(&self, client_key: &ClientKey) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(client_key.as_str()).await;
    }
}

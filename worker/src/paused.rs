//! Which tenants are paused, as this worker process knows it: the client keys of every paused
//! tenant, read with one query ([`TenantStore::paused_client_keys`]) at most once per
//! [`REFRESH`], never per event.
//!
//! **Propagation.** A pause or a resume (`hookline tenants pause`, the admin pages, in any
//! process) is seen by every worker within [`REFRESH`] (1 s) of the next event it handles,
//! plus one query's time; while one dispatch reads the set again, the others go on with the
//! set they have if it is at most [`STALE_LIMIT`] old. An event handled just before a pause
//! took effect is acted on; one held just before a resume took effect is released by the
//! releaser moments later. A set that cannot be read (the database is down) is not guessed
//! at: the event is deferred, as for any store outage.
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::tenant::{ClientKey, StoreError, TenantStore};

/// How long a read of the paused tenants is used before it is read again.
pub const REFRESH: Duration = Duration::from_secs(1);
/// How old a read may be for dispatches that do not wait for the one reading it again.
pub const STALE_LIMIT: Duration = Duration::from_secs(2);

/// The paused tenants, read again at most once per [`REFRESH`]; cheap to clone.
#[derive(Clone)]
pub struct PausedTenants {
    tenants: TenantStore,
    read: Arc<Mutex<Option<Read>>>,
    reading: Arc<tokio::sync::Mutex<()>>,
}

/// One read of the paused tenants.
#[derive(Clone)]
struct Read {
    keys: Arc<HashSet<ClientKey>>,
    at: Instant,
}

impl PausedTenants {
    /// Nothing read yet: the first dispatch reads it.
    pub fn new(tenants: TenantStore) -> Self {
        Self {
            tenants,
            read: Arc::new(Mutex::new(None)),
            reading: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Whether the tenant `client_key` (the tenant record's key) is paused, as of at most
    /// [`REFRESH`] ago (at most [`STALE_LIMIT`] while another dispatch reads it again).
    pub async fn contains(&self, client_key: &ClientKey) -> Result<bool, StoreError> {
        if let Some(keys) = self.younger_than(REFRESH) {
            return Ok(keys.contains(client_key));
        }
        let keys = match self.reading.try_lock() {
            Ok(_reading) => self.read_now().await?,
            Err(_) => match self.younger_than(STALE_LIMIT) {
                Some(keys) => keys,
                None => {
                    let _reading = self.reading.lock().await;
                    match self.younger_than(REFRESH) {
                        Some(keys) => keys,
                        None => self.read_now().await?,
                    }
                }
            },
        };
        Ok(keys.contains(client_key))
    }

    /// The last read if it is younger than `age`.
    fn younger_than(&self, age: Duration) -> Option<Arc<HashSet<ClientKey>>> {
        let read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        read.as_ref()
            .filter(|read| read.at.elapsed() < age)
            .map(|read| read.keys.clone())
    }

    async fn read_now(&self) -> Result<Arc<HashSet<ClientKey>>, StoreError> {
        let at = Instant::now();
        let keys = Arc::new(self.tenants.paused_client_keys().await?);
        let mut read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        *read = Some(Read {
            keys: keys.clone(),
            at,
        });
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pause_is_seen_within_the_refresh_without_a_query_per_event() {
        let db = common::db::connect("sqlite::memory:").await.unwrap();
        common::db::migrate(&db).await.unwrap();
        let keyring =
            common::crypto::Keyring::from_spec("k1=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
                .unwrap();
        let tenants = TenantStore::new(db, Arc::new(keyring), Duration::from_secs(60));
        let install = serde_json::json!({
            "key": "hookline", "clientKey": "site-a", "sharedSecret": "s",
            "baseUrl": "https://site-a.atlassian.net", "productType": "jira",
            "eventType": "installed"
        });
        tenants
            .save_install(&serde_json::from_value(install).unwrap())
            .await
            .unwrap();
        let a = ClientKey::parse("site-a").unwrap();
        let paused = PausedTenants::new(tenants.clone());
        assert!(!paused.contains(&a).await.unwrap());

        tenants.pause(&a).await.unwrap();
        assert!(
            !paused.contains(&a).await.unwrap(),
            "the read of a moment ago is used"
        );
        tokio::time::sleep(REFRESH).await;
        assert!(paused.contains(&a).await.unwrap(), "seen within REFRESH");
        tenants.resume(&a).await.unwrap();
        tokio::time::sleep(REFRESH).await;
        assert!(!paused.contains(&a).await.unwrap());
    }
}

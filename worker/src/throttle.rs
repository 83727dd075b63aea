//! Per-tenant back-off: a 429 or 503 with `Retry-After` pauses that tenant only. Its events
//! go to a delay queue at once (freeing the worker's slots) while other tenants keep flowing.
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::tenant::ClientKey;
use moka::sync::Cache;

/// Longest pause honoured; a larger `Retry-After` is clamped.
pub const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// Paused tenants and until when.
#[derive(Clone)]
pub struct Throttle {
    until: Arc<Cache<ClientKey, Instant>>,
}

impl Throttle {
    /// No tenant paused.
    pub fn new() -> Self {
        Self {
            until: Arc::new(
                Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(MAX_PAUSE)
                    .build(),
            ),
        }
    }

    /// Pauses `client_key` for `delay` (extending, never shortening, a current pause).
    pub fn pause(&self, client_key: &ClientKey, delay: Duration) {
        let until = Instant::now() + delay.min(MAX_PAUSE);
        let current = self.until.get(client_key);
        if current.is_none_or(|current| current < until) {
            self.until.insert(client_key.clone(), until);
        }
    }

    /// How long `client_key` stays paused, if it is.
    pub fn remaining(&self, client_key: &ClientKey) -> Option<Duration> {
        let until = self.until.get(client_key)?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_applies_to_one_tenant_only_and_never_shrinks() {
        let throttle = Throttle::new();
        let (a, b) = (
            ClientKey::parse("a").unwrap(),
            ClientKey::parse("b").unwrap(),
        );
        throttle.pause(&a, Duration::from_secs(30));
        throttle.pause(&a, Duration::from_secs(1));
        assert!(throttle
            .remaining(&a)
            .is_some_and(|d| d > Duration::from_secs(20)));
        assert!(throttle.remaining(&b).is_none());
    }
}

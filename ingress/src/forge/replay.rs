//! Each Forge Invocation Token is good for one call. A FIT does not sign the body, so a token
//! seen on the wire could carry another body to the same route while it lives: the `jti` of
//! every accepted token is kept until the token expires (plus the leeway), and a second call
//! with it is refused. Forge itself never repeats a token: each retry brings a new one.
//!
//! The memory is this process's: behind several ingress replicas, a replay that reaches
//! another replica within the token's life (25 s for Forge's) is not caught here.
use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::Expiry;

/// Tokens remembered at most (about 100 bytes each); beyond it the oldest are forgotten first.
const CAPACITY: u64 = 1_000_000;
/// The longest a token is remembered, whatever its `exp` says.
const LONGEST: Duration = Duration::from_secs(3600);

/// The ids of the tokens already used; cheap to clone.
#[derive(Clone)]
pub struct UsedTokens {
    seen: Cache<String, Duration>,
}

/// An entry lives as long as it was told to at insertion.
struct UntilExpired;

impl Expiry<String, Duration> for UntilExpired {
    fn expire_after_create(&self, _: &String, keep: &Duration, _: Instant) -> Option<Duration> {
        Some(*keep)
    }
}

impl UsedTokens {
    /// An empty memory.
    pub fn new() -> Self {
        Self {
            seen: Cache::builder()
                .max_capacity(CAPACITY)
                .expire_after(UntilExpired)
                .build(),
        }
    }

    /// Whether this is the first call with the token `jti`, which is good until `expires_at`
    /// (epoch seconds) give or take `leeway_secs`; it is remembered from now on.
    pub fn first_use(&self, jti: &str, expires_at: i64, now: i64, leeway_secs: i64) -> bool {
        let left = expires_at.saturating_add(leeway_secs).saturating_sub(now);
        let keep = Duration::from_secs(u64::try_from(left.max(1)).unwrap_or(1)).min(LONGEST);
        self.seen.entry(jti.to_owned()).or_insert(keep).is_fresh()
    }
}

impl Default for UsedTokens {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_once_and_tokens_are_told_apart() {
        let used = UsedTokens::new();
        assert!(used.first_use("a", 1_025, 1_000, 60));
        assert!(!used.first_use("a", 1_025, 1_001, 60));
        assert!(used.first_use("b", 1_025, 1_001, 60));
    }

    #[test]
    fn a_token_is_forgotten_once_it_has_expired() {
        let used = UsedTokens::new();
        // Already past its exp and leeway: kept for the minimum (1 s) only.
        assert!(used.first_use("old", 100, 1_000, 0));
        std::thread::sleep(Duration::from_millis(1_100));
        used.seen.run_pending_tasks();
        assert!(used.first_use("old", 100, 1_000, 0));
    }
}

//! A steady rate with bursts for each of many keys (tenants): `governor`'s keyed GCRA, a few
//! dozen bytes per key seen, with idle (full) keys forgotten every [`SWEEP_EVERY`] checks so
//! that 10,000 tenants seen once do not stay in memory. The ingress uses it to pick a tenant's
//! queue lane ([`crate::queue::lane`]), the worker for each tenant's call budget.
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// How many checks between two sweeps of the idle keys.
pub const SWEEP_EVERY: u64 = 4096;

/// `per_second` a second for each key, up to `burst` at once; no limit when the rate is 0.
/// Clones share the state.
pub struct KeyedRate<K: Hash + Eq + Clone> {
    limiter: Option<Arc<DefaultKeyedRateLimiter<K>>>,
    clock: DefaultClock,
    checks: Arc<AtomicU64>,
}

impl<K: Hash + Eq + Clone> Clone for KeyedRate<K> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
            clock: self.clock.clone(),
            checks: self.checks.clone(),
        }
    }
}

impl<K: Hash + Eq + Clone> KeyedRate<K> {
    /// `per_second` a second per key (0 or less: no limit), up to `burst` (at least 1) at once.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let quota = (per_second > 0.0 && per_second.is_finite())
            .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / per_second)))
            .flatten()
            .map(|quota| quota.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)));
        Self {
            limiter: quota.map(|quota| Arc::new(DefaultKeyedRateLimiter::keyed(quota))),
            clock: DefaultClock::default(),
            checks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether there is a limit at all.
    pub fn is_limited(&self) -> bool {
        self.limiter.is_some()
    }

    /// Takes one from `key`'s allowance, or says how long until one is there.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets the keys that have not been used lately (their allowance is full again).
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
        }
    }

    /// How many keys are remembered.
    pub fn keys(&self) -> usize {
        self.limiter.as_ref().map_or(0, |limiter| limiter.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_while_others_go_on() {
        let rate = KeyedRate::new(2.0, 3);
        for call in 0..3 {
            assert_eq!(rate.take(&"busy"), Ok(()), "call {call} of the burst");
        }
        let wait = rate.take(&"busy").expect_err("the allowance is used up");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "one comes back every 500 ms: {wait:?}"
        );
        assert_eq!(rate.take(&"quiet"), Ok(()), "another key");
        assert_eq!(rate.keys(), 2);
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let rate = KeyedRate::new(0.0, 0);
        assert!(!rate.is_limited());
        assert!((0..10_000).all(|_| rate.take(&"site").is_ok()));
        assert_eq!(rate.keys(), 0);
    }
}

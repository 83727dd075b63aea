//! Bounded waiting: tests poll for an effect instead of sleeping a guessed time, and fail with
//! a message naming what never happened.
use std::fmt::Display;
use std::time::Duration;

use tokio::time::Instant;

/// The longest a test waits for an effect.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The pause between two looks.
pub const POLL: Duration = Duration::from_millis(50);
/// How long a test keeps watching after the expected effect, so that a duplicate arriving
/// just behind it is caught.
pub const SETTLE: Duration = Duration::from_millis(500);

/// A deadline for one wait.
pub struct Patience {
    started: Instant,
}

impl Patience {
    /// Starts the clock.
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    /// Sleeps one poll interval.
    ///
    /// # Panics
    /// When [`PATIENCE`] ran out, with `waiting_for` and `state` (what was seen instead).
    pub async fn pause(&self, waiting_for: impl Display, state: impl Display) {
        let waited = self.started.elapsed();
        assert!(
            waited < PATIENCE,
            "gave up after {waited:?} waiting for {waiting_for}; last seen: {state}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Lets the pipeline run a little longer (see [`SETTLE`]).
pub async fn settle() {
    tokio::time::sleep(SETTLE).await;
}

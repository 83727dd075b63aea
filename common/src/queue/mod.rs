//! The event queue as the services see it: the producer trait the ingress publishes through
//! (RabbitMQ in production, [`local::LocalQueue`] in the embedded mode) and the retry steps
//! both backends share.
pub mod lane;
pub mod local;

use std::time::Duration;

use futures::future::BoxFuture;
use thiserror::Error;

use crate::envelope::EventEnvelope;

/// Why an event could not be handed to the queue; the ingress answers 503 so Jira retries.
#[derive(Debug, Error)]
pub enum PublishError {
    /// No broker connection right now.
    #[error("the broker is unavailable")]
    Unavailable,
    /// The broker refused the message (nack) or could not route it.
    #[error("the broker did not accept the event: {0}")]
    Rejected(&'static str),
    /// No confirm arrived within the deadline.
    #[error("the broker did not confirm the event in time")]
    Timeout,
    /// The channel failed while publishing.
    #[error("publishing failed: {0}")]
    Channel(String),
}

impl PublishError {
    /// A short, stable code for metrics and error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable => "broker_unavailable",
            Self::Rejected(_) => "broker_rejected",
            Self::Timeout => "confirm_timeout",
            Self::Channel(_) => "channel_error",
        }
    }
}

/// Hands events to the queue, returning only once the queue has made them durable.
pub trait EventPublisher: Send + Sync {
    /// Publishes `event` persistently and waits for the confirm.
    fn publish_confirmed<'a>(
        &'a self,
        event: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), PublishError>>;

    /// Whether publishing can succeed right now (for readiness checks).
    fn is_ready(&self) -> bool;
}

/// Which delay step a retry uses: the attempt's own step (delays grow with attempts), or a
/// later one when the wanted delay (a tenant's `Retry-After`) is longer. Returns the index
/// into `delays_secs` (clamped to the last) and its delay.
pub fn retry_step(delays_secs: &[u64], attempt: u32, wanted: Duration) -> (usize, Duration) {
    let last = delays_secs.len().saturating_sub(1);
    let own = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    let covering = delays_secs
        .iter()
        .position(|d| Duration::from_secs(*d) >= wanted)
        .unwrap_or(last);
    let index = own.max(covering).min(last);
    (
        index,
        Duration::from_secs(delays_secs.get(index).copied().unwrap_or(0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_step_up_with_attempts_and_cover_a_requested_delay() {
        let delays = [5, 30, 120];
        assert_eq!(
            retry_step(&delays, 1, Duration::ZERO),
            (0, Duration::from_secs(5))
        );
        assert_eq!(
            retry_step(&delays, 2, Duration::ZERO),
            (1, Duration::from_secs(30))
        );
        assert_eq!(
            retry_step(&delays, 9, Duration::ZERO),
            (2, Duration::from_secs(120))
        );
        assert_eq!(
            retry_step(&delays, 1, Duration::from_secs(20)),
            (1, Duration::from_secs(30))
        );
        assert_eq!(
            retry_step(&delays, 1, Duration::from_secs(999)),
            (2, Duration::from_secs(120))
        );
    }
}

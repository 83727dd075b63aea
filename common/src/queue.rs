//! The producer side of the event queue, as the ingress sees it: RabbitMQ in production, the
//! in-process queue in the embedded mode.
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

//! Reading request bodies: with or without `Content-Length` (a chunked body is read as a
//! stream), cut off at `server.body_limit_bytes`, within `server.read_timeout_secs`, and with
//! at most `server.large_bodies_at_once` bodies above `server.large_body_bytes` in memory at
//! once, so that a burst of large webhooks cannot exhaust memory.
//!
//! - Over the limit: 413 (announced by `Content-Length`: at once, without reading the body).
//! - Stalled (slow loris): 408 once the read timeout has passed.
//! - Every large-body slot taken for the whole read timeout: 503 with `Retry-After`, which
//!   Jira and Forge retry (a 413 they would not).
//!
//! An answer that leaves the body unread closes the connection ([`crate::connection`]).
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Filter, Rejection};

use crate::errors::ApiError;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit: `size` is the announced length, or the bytes read when the
    /// limit was passed.
    TooLarge {
        /// Bytes announced or read so far (at least the limit plus one).
        size: u64,
    },
    /// The body did not arrive within the read timeout.
    Timeout,
    /// The connection failed while the body was read.
    Unreadable,
    /// Every large-body slot stayed taken for the whole read timeout.
    Busy,
}

impl Reject for BodyError {}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than this server accepts",
            ),
            BodyError::Timeout => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            ),
            BodyError::Unreadable => {
                ApiError::bad_request("body_unreadable", "the request body could not be read")
            }
            BodyError::Busy => ApiError::unavailable(
                "large_bodies_busy",
                "too many large request bodies are being read; retry later",
            ),
        }
    }
}

/// A body not read yet: its stream and the length its `Content-Length` announced, if any.
pub struct PendingBody {
    announced: Option<u64>,
    chunks: Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>,
}

impl PendingBody {
    /// The length announced by `Content-Length` (none for a chunked body).
    pub fn announced(&self) -> Option<u64> {
        self.announced
    }
}

/// A body read whole. A large one keeps its slot until it is dropped.
pub struct Body {
    bytes: Bytes,
    slot: Slot,
}

/// A large body's slot: held for as long as the body (or what it became) is in memory.
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Body {
    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The bytes, without a copy when nothing else holds them, and the slot to keep while
    /// they (or what they are turned into) are held.
    pub fn into_parts(self) -> (Vec<u8>, Slot) {
        (Vec::from(self.bytes), self.slot)
    }
}

/// The limits every body is read under; cheap to clone (the slots are shared).
#[derive(Clone, Debug)]
pub struct BodyLimits {
    limit: u64,
    timeout: Duration,
    large: u64,
    slots: Arc<Semaphore>,
}

impl BodyLimits {
    /// Bodies of at most `limit` bytes, read within `timeout`; at most `large_at_once` bodies
    /// above `large` bytes are held at once.
    pub fn new(limit: u64, timeout: Duration, large: u64, large_at_once: usize) -> Self {
        Self {
            limit,
            timeout,
            large,
            slots: Arc::new(Semaphore::new(large_at_once.max(1))),
        }
    }

    /// The same limits with a smaller size limit (the pages' API).
    pub fn with_limit(&self, limit: u64) -> Self {
        Self {
            limit: limit.min(self.limit),
            ..self.clone()
        }
    }

    /// The size limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Reads `body` whole, or says why not.
    pub async fn read(&self, body: PendingBody) -> Result<Body, BodyError> {
        if let Some(size) = body.announced.filter(|size| *size > self.limit) {
            return Err(BodyError::TooLarge { size });
        }
        let deadline = Instant::now() + self.timeout;
        match tokio::time::timeout_at(deadline, self.collect(body, deadline)).await {
            Ok(result) => result,
            Err(_) => Err(BodyError::Timeout),
        }
    }

    async fn collect(&self, body: PendingBody, deadline: Instant) -> Result<Body, BodyError> {
        let PendingBody {
            announced,
            mut chunks,
        } = body;
        let mut slot = None;
        if announced.is_some_and(|size| size > self.large) {
            slot = Some(self.large_slot(deadline).await?);
        }
        let capacity = announced.unwrap_or(0).min(self.limit);
        let mut bytes = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
            let size = (bytes.len() + chunk.len()) as u64;
            if size > self.limit {
                return Err(BodyError::TooLarge { size });
            }
            if slot.is_none() && size > self.large {
                slot = Some(self.large_slot(deadline).await?);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Body {
            bytes: bytes.freeze(),
            slot: Slot { _permit: slot },
        })
    }

    async fn large_slot(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, BodyError> {
        match tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(BodyError::Busy),
        }
    }
}

/// The request's body, not read yet (never rejects).
pub fn pending() -> impl Filter<Extract = (PendingBody,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .map(|announced: Option<u64>, chunks| PendingBody {
            announced,
            chunks: Box::pin(into_bytes(chunks)),
        })
}

/// The whole body under `limits`; a body that cannot be read rejects with its [`BodyError`].
pub fn read(limits: BodyLimits) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    pending().and_then(move |body| {
        let limits = limits.clone();
        async move {
            limits
                .read(body)
                .await
                .map(|body| body.bytes)
                .map_err(warp::reject::custom)
        }
    })
}

fn into_bytes<S, B>(chunks: S) -> impl Stream<Item = Result<Bytes, warp::Error>> + Send
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    chunks.map(|chunk| chunk.map(|mut chunk| chunk.copy_to_bytes(chunk.remaining())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(announced: Option<u64>, chunks: Vec<&'static [u8]>) -> PendingBody {
        let chunks = futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c))));
        PendingBody {
            announced,
            chunks: Box::pin(chunks),
        }
    }

    fn limits(limit: u64, large: u64, at_once: usize) -> BodyLimits {
        BodyLimits::new(limit, Duration::from_millis(200), large, at_once)
    }

    #[tokio::test]
    async fn a_chunked_body_is_read_whole_up_to_the_limit() {
        let read = limits(10, 100, 1)
            .read(body(None, vec![b"hello", b" ", b"word"]))
            .await
            .unwrap();
        assert_eq!(read.bytes().as_ref(), b"hello word");
    }

    #[tokio::test]
    async fn a_chunked_body_past_the_limit_is_cut_off_with_its_size_so_far() {
        let error = limits(8, 100, 1)
            .read(body(None, vec![b"hello", b" world"]))
            .await
            .err();
        assert_eq!(error, Some(BodyError::TooLarge { size: 11 }));
    }

    #[tokio::test]
    async fn an_announced_length_over_the_limit_is_refused_before_reading() {
        let error = limits(8, 100, 1)
            .read(body(Some(9_000), vec![]))
            .await
            .err();
        assert_eq!(error, Some(BodyError::TooLarge { size: 9_000 }));
    }

    #[tokio::test]
    async fn a_large_body_waits_for_a_slot_and_gives_up_with_busy() {
        let limits = limits(100, 4, 1);
        let held = limits.read(body(Some(6), vec![b"123456"])).await.unwrap();
        let waiting = limits.read(body(None, vec![b"1234", b"56"])).await.err();
        assert_eq!(waiting, Some(BodyError::Busy));
        drop(held);
        assert!(limits.read(body(None, vec![b"1234", b"56"])).await.is_ok());
        let small = limits.read(body(None, vec![b"1234"])).await;
        assert!(small.is_ok(), "small bodies need no slot");
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let stalled = PendingBody {
            announced: Some(5),
            chunks: Box::pin(futures::stream::pending()),
        };
        let error = limits(10, 100, 1).read(stalled).await.err();
        assert_eq!(error, Some(BodyError::Timeout));
    }
}

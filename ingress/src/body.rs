//! Reading request bodies with a deadline: a client that announces a body and then stalls
//! (slow loris) is answered 408 once `server.read_timeout_secs` has passed, instead of
//! holding its connection and its slot forever.
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, TryStreamExt};
use warp::reject::Reject;
use warp::{Filter, Rejection};

/// The body did not arrive within the deadline.
#[derive(Debug)]
pub struct BodyTimeout;

impl Reject for BodyTimeout {}

/// The connection failed while the body was read.
#[derive(Debug)]
pub struct BodyUnreadable;

impl Reject for BodyUnreadable {}

/// The whole body, at most `limit` bytes as announced by `Content-Length` (413 beyond, 411
/// without), read within `timeout` (408 after it).
pub fn bytes_within(
    limit: u64,
    timeout: Duration,
) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::body::content_length_limit(limit)
        .and(warp::body::stream())
        .and_then(move |chunks| async move {
            match tokio::time::timeout(timeout, collect(chunks)).await {
                Ok(Ok(body)) => Ok(body),
                Ok(Err(_)) => Err(warp::reject::custom(BodyUnreadable)),
                Err(_) => Err(warp::reject::custom(BodyTimeout)),
            }
        })
}

async fn collect<S, B>(chunks: S) -> Result<Bytes, warp::Error>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    chunks
        .try_fold(BytesMut::new(), |mut body, mut chunk| async move {
            while chunk.has_remaining() {
                let part = chunk.chunk();
                let len = part.len();
                body.extend_from_slice(part);
                chunk.advance(len);
            }
            Ok(body)
        })
        .await
        .map(BytesMut::freeze)
}

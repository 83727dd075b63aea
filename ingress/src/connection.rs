//! Keep-alive done right: an answer given before the request's body was read whole says
//! `Connection: close`.
//!
//! hyper 0.14 closes such a connection after answering (the unread rest of the body is still
//! on the wire), but without saying so. A keep-alive client — Node's default agent, a proxy's
//! upstream pool — then sends its next request on a socket that is being closed and gets a
//! reset, which a proxy turns into a 502 for an unrelated webhook. Saying `Connection: close`
//! makes the client open a new connection instead. This covers every early answer: 413 on an
//! announced length, 401 before the body, 404 and 405, 408.
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use warp::http::header::{HeaderValue, CONNECTION};
use warp::http::{Request, Response};
use warp::hyper::body::HttpBody;
use warp::hyper::service::Service;
use warp::hyper::Body;

/// Calls `service` with `request`, adding `Connection: close` to the answer when the body was
/// not read to its end.
pub async fn close_when_body_unread<S>(
    mut service: S,
    request: Request<Body>,
) -> Result<Response<Body>, Infallible>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    if request.body().is_end_stream() {
        return service.call(request).await;
    }
    let (parts, body) = request.into_parts();
    let finished = Arc::new(AtomicBool::new(false));
    let body = Body::wrap_stream(UntilEnd {
        body,
        finished: finished.clone(),
    });
    let mut response = service.call(Request::from_parts(parts, body)).await?;
    if !finished.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}

/// A body that records when it was read to its end.
struct UntilEnd {
    body: Body,
    finished: Arc<AtomicBool>,
}

impl Stream for UntilEnd {
    type Item = Result<Bytes, warp::hyper::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.body).poll_data(cx);
        if let Poll::Ready(None) = polled {
            self.finished.store(true, Ordering::Release);
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

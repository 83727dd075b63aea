//! Serving a warp filter on a local port, with one thing plain `warp::serve` cannot do: drop a
//! connection without answering, so that a client observes a connection error as it would
//! when a product's load balancer resets it.
//!
//! The filter runs as a hyper 0.14 service (warp's own `hyper`). A reply that carries the
//! [`DropConnection`] extension makes the service fail instead of answering, and hyper then
//! closes the connection without writing a response (the client sees an incomplete message).
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;

use tokio::task::JoinHandle;
use warp::filters::BoxedFilter;
use warp::hyper::service::{make_service_fn, service_fn, Service};
use warp::hyper::{Body, Request, Server};
use warp::reply::Response;

/// Put into a reply's extensions to close the connection instead of sending the reply.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// A reply that closes the connection without answering.
pub fn dropped_connection() -> Response {
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(DropConnection);
    response
}

/// The error that makes hyper close the connection.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the connection was dropped on purpose (fault injection)")
    }
}

impl std::error::Error for Dropped {}

/// A server running in a background task; it stops accepting connections when dropped.
#[derive(Debug)]
pub struct RunningServer {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:0` and serves `filter` (HTTP/1.1) in a spawned task.
///
/// # Panics
/// If no local port can be bound: the simulator is test support and cannot work without one.
pub fn serve(filter: BoxedFilter<(Response,)>) -> RunningServer {
    let make_service = make_service_fn(move |_connection| {
        let service = warp::service(filter.clone());
        async move {
            Ok::<_, Infallible>(service_fn(move |request: Request<Body>| {
                let mut service = service.clone();
                async move {
                    let response = match service.call(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    if response.extensions().get::<DropConnection>().is_some() {
                        Err(Dropped)
                    } else {
                        Ok(response)
                    }
                }
            }))
        }
    });
    let server = Server::try_bind(&SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("the simulator binds a local port")
        .http1_only(true)
        .serve(make_service);
    let address = server.local_addr();
    let task = tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::warn!(%error, "the simulator's server stopped");
        }
    });
    RunningServer { address, task }
}

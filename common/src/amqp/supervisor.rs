//! A broker link that reconnects by itself: one task owns the connection, publishes the
//! current handle (or its absence) through a watch channel, and rebuilds it after any error.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use lapin::{Channel, Connection};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::Brokers;

/// How long a stopping link waits for the broker to acknowledge its goodbyes.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle a [`Link`] can hand out: closed before its connection when the link stops, so a
/// clean shutdown leaves no channel half-open (lapin logs that at ERROR).
pub trait LinkHandle: Clone + Send + Sync + 'static {
    /// Closes the handle.
    fn close(&self) -> BoxFuture<'_, ()>;
}

impl LinkHandle for Channel {
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.status().connected() {
                let _ = Channel::close(self, 200, "closing").await;
            }
        })
    }
}

/// The first retry comes fast (a broker restart takes seconds); later ones back off to this.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Whether the link currently has a usable handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Connected and set up.
    Up,
    /// Connecting, or waiting to reconnect.
    Down,
}

/// A supervised handle `T` built on a broker connection (a confirm channel, for instance).
#[derive(Clone)]
pub struct Link<T> {
    current: watch::Receiver<Option<T>>,
    broken: Arc<Notify>,
    stopped: CancellationToken,
}

impl<T: LinkHandle> Link<T> {
    /// Spawns the supervising task: connect to one of `brokers` as `name`, run `setup` on the
    /// connection, publish its result, and start over whenever the connection fails or a user
    /// reports the handle broken, until `shutdown` fires. After a failure it tries the next
    /// node first, so that a process leaves a node that went away.
    pub fn spawn<F, Fut>(
        brokers: Brokers,
        name: String,
        setup: F,
        shutdown: CancellationToken,
    ) -> Self
    where
        F: Fn(Arc<Connection>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, lapin::Error>> + Send + 'static,
    {
        let (sender, current) = watch::channel(None);
        let broken = Arc::new(Notify::new());
        let stopped = CancellationToken::new();
        let link = Self {
            current,
            broken: broken.clone(),
            stopped: stopped.clone(),
        };
        let supervisor = Supervisor {
            brokers,
            name,
            sender,
            broken,
            shutdown,
        };
        tokio::spawn(async move {
            supervisor.run(setup).await;
            stopped.cancel();
        });
        link
    }

    /// Waits until the link stopped (after its `shutdown` fired) and closed its handle and
    /// connection: a process waits for this before it exits, so the broker client is not cut
    /// off mid-goodbye by the runtime shutting down.
    pub async fn stopped(&self) {
        self.stopped.cancelled().await;
    }

    /// The current handle, if the link is up.
    pub fn current(&self) -> Option<T> {
        self.current.borrow().clone()
    }

    /// Up or down.
    pub fn state(&self) -> LinkState {
        if self.current.borrow().is_some() {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    /// Calls `on_change` with the link's state now and after every change, until the link
    /// stops: a gauge kept this way follows the link whichever way it went down.
    pub fn on_state_change(&self, on_change: impl Fn(LinkState) + Send + 'static) {
        let mut current = self.current.clone();
        tokio::spawn(async move {
            loop {
                let state = if current.borrow_and_update().is_some() {
                    LinkState::Up
                } else {
                    LinkState::Down
                };
                on_change(state);
                if current.changed().await.is_err() {
                    break;
                }
            }
        });
    }

    /// Waits until the link is up (or `timeout` passes) and returns the handle.
    pub async fn wait_up(&self, timeout: Duration) -> Option<T> {
        let mut current = self.current.clone();
        let up = tokio::time::timeout(timeout, current.wait_for(Option::is_some)).await;
        match up {
            Ok(Ok(handle)) => handle.clone(),
            _ => None,
        }
    }

    /// Tells the supervisor the handle failed (for example a publish hit a closed channel).
    pub fn report_broken(&self) {
        self.broken.notify_one();
    }
}

/// Closes `connection` and waits for lapin's I/O thread to end: that thread uses the runtime,
/// so a process that exits right after a close would otherwise cut it off mid-goodbye (lapin
/// logs that at ERROR). Only after a close the broker confirmed: the thread then ends at once.
async fn close(connection: Arc<Connection>, reason: &str) {
    let closed = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, reason)).await;
    if !matches!(closed, Ok(Ok(()))) {
        return;
    }
    if let Ok(connection) = Arc::try_unwrap(connection) {
        let io_loop = tokio::task::spawn_blocking(move || connection.run());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, io_loop).await;
    }
}

/// The task that owns the connection.
struct Supervisor<T> {
    brokers: Brokers,
    name: String,
    sender: watch::Sender<Option<T>>,
    broken: Arc<Notify>,
    shutdown: CancellationToken,
}

impl<T: LinkHandle> Supervisor<T> {
    async fn run<F, Fut>(self, setup: F)
    where
        F: Fn(Arc<Connection>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, lapin::Error>> + Send + 'static,
    {
        let Self { brokers, name, .. } = &self;
        let mut backoff = FIRST_BACKOFF;
        let mut next = brokers.first_choice();
        while !self.shutdown.is_cancelled() {
            match brokers.connect(next, name).await {
                Ok((connection, node)) => {
                    // Whatever ends this connection, the next attempt starts at another node.
                    next = node + 1;
                    let connection = Arc::new(connection);
                    match setup(connection.clone()).await {
                        Ok(handle) => {
                            backoff = FIRST_BACKOFF;
                            self.hold(&connection, handle, &brokers.node(node)).await;
                        }
                        Err(error) => {
                            tracing::warn!(link = %name, node = %brokers.node(node), %error, "broker set-up failed");
                        }
                    }
                    let reason = if self.shutdown.is_cancelled() {
                        "shutting down"
                    } else {
                        "reconnecting"
                    };
                    close(connection, reason).await;
                }
                Err(error) => {
                    tracing::warn!(link = %name, nodes = brokers.len(), %error, "cannot connect to any broker node");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.shutdown.cancelled() => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.sender.send_replace(None);
    }

    /// Publishes `handle` until the connection fails, a user reports it broken, or shutdown;
    /// then withdraws it and closes it.
    async fn hold(&self, connection: &Connection, handle: T, node: &str) {
        let failed = Arc::new(Notify::new());
        let on_error = failed.clone();
        connection.on_error(move |_| on_error.notify_one());
        tracing::info!(link = %self.name, %node, "broker link up");
        self.sender.send_replace(Some(handle.clone()));
        tokio::select! {
            () = failed.notified() => tracing::warn!(link = %self.name, %node, "broker connection failed"),
            () = self.broken.notified() => tracing::warn!(link = %self.name, %node, "broker handle reported broken"),
            () = self.shutdown.cancelled() => {}
        }
        self.sender.send_replace(None);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, handle.close()).await;
    }
}

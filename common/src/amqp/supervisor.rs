//! A broker link that reconnects by itself: one task owns the connection, publishes the
//! current handle (or its absence) through a watch channel, and rebuilds it after any error.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lapin::Connection;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

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
}

impl<T: Clone + Send + Sync + 'static> Link<T> {
    /// Spawns the supervising task: connect to `url` as `name`, run `setup` on the connection,
    /// publish its result, and start over whenever the connection fails or a user reports the
    /// handle broken, until `shutdown` fires.
    pub fn spawn<F, Fut>(url: String, name: String, setup: F, shutdown: CancellationToken) -> Self
    where
        F: Fn(Arc<Connection>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, lapin::Error>> + Send + 'static,
    {
        let (sender, current) = watch::channel(None);
        let broken = Arc::new(Notify::new());
        let link = Self {
            current,
            broken: broken.clone(),
        };
        tokio::spawn(supervise(url, name, setup, sender, broken, shutdown));
        link
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

async fn supervise<T, F, Fut>(
    url: String,
    name: String,
    setup: F,
    sender: watch::Sender<Option<T>>,
    broken: Arc<Notify>,
    shutdown: CancellationToken,
) where
    T: Clone + Send + Sync + 'static,
    F: Fn(Arc<Connection>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, lapin::Error>> + Send + 'static,
{
    let mut backoff = FIRST_BACKOFF;
    while !shutdown.is_cancelled() {
        match super::connect(&url, &name).await {
            Ok(connection) => {
                let failed = Arc::new(Notify::new());
                let on_error = failed.clone();
                connection.on_error(move |_| on_error.notify_one());
                let connection = Arc::new(connection);
                match setup(connection.clone()).await {
                    Ok(handle) => {
                        tracing::info!(link = %name, "broker link up");
                        sender.send_replace(Some(handle));
                        backoff = FIRST_BACKOFF;
                        tokio::select! {
                            () = failed.notified() => tracing::warn!(link = %name, "broker connection failed"),
                            () = broken.notified() => tracing::warn!(link = %name, "broker handle reported broken"),
                            () = shutdown.cancelled() => {}
                        }
                        sender.send_replace(None);
                    }
                    Err(error) => tracing::warn!(link = %name, %error, "broker set-up failed"),
                }
                let _ = connection.close(200, "reconnecting").await;
            }
            Err(error) => tracing::warn!(link = %name, %error, "cannot connect to the broker"),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    sender.send_replace(None);
}

//! A TCP proxy in front of the test broker that a test can cut and restore, to play a network
//! outage to one app without touching the broker every other test shares.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A cuttable TCP proxy (see the module docs).
pub struct Proxy {
    address: SocketAddr,
    link: Arc<Mutex<Link>>,
    accept: JoinHandle<()>,
}

/// Whether new connections are forwarded, the token that ends every current one, and how many
/// connections were turned away while cut.
struct Link {
    open: bool,
    cut: CancellationToken,
    turned_away: usize,
}

impl Proxy {
    /// Listens on a free local port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let link = Arc::new(Mutex::new(Link {
            open: true,
            cut: CancellationToken::new(),
            turned_away: 0,
        }));
        let accept = tokio::spawn(accept_loop(listener, upstream, link.clone()));
        Self {
            address,
            link,
            accept,
        }
    }

    /// A proxy to the server of `url` (`amqp://…`, `postgres://…`), and `url` rewritten to
    /// go through it.
    pub async fn in_front_of(url: &str, default_port: u16) -> (Self, String) {
        let mut parsed = url::Url::parse(url).expect("the URL parses");
        let host = parsed.host_str().expect("the URL has a host").to_owned();
        let port = parsed.port().unwrap_or(default_port);
        let proxy = Self::start(format!("{host}:{port}")).await;
        parsed.set_ip_host(proxy.address.ip()).expect("an IP host");
        parsed.set_port(Some(proxy.address.port())).expect("a port");
        (proxy, parsed.to_string())
    }

    /// A proxy to the test broker (`HOOKLINE_TEST_AMQP_URL` or the local one).
    pub async fn to_test_broker() -> Self {
        Self::in_front_of(&super::amqp_url(), 5672).await.0
    }

    /// The test broker's URL with its address replaced by the proxy's.
    pub fn amqp_url(&self) -> String {
        let mut url = url::Url::parse(&super::amqp_url()).expect("the broker URL parses");
        url.set_ip_host(self.address.ip()).expect("an IP host");
        url.set_port(Some(self.address.port())).expect("a port");
        url.to_string()
    }

    /// Drops every forwarded connection and closes new ones as soon as they are accepted.
    pub fn cut(&self) {
        let mut link = self.link.lock().expect("lock");
        link.open = false;
        link.cut.cancel();
    }

    /// How many connections were closed on arrival while cut (reconnect attempts).
    pub fn turned_away(&self) -> usize {
        self.link.lock().expect("lock").turned_away
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        let mut link = self.link.lock().expect("lock");
        link.open = true;
        link.cut = CancellationToken::new();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: String, link: Arc<Mutex<Link>>) {
    while let Ok((client, _)) = listener.accept().await {
        let cut = {
            let mut link = link.lock().expect("lock");
            if !link.open {
                link.turned_away += 1;
            }
            link.open.then(|| link.cut.clone())
        };
        // While cut, an accepted connection is dropped at once: the peer sees it closed.
        if let Some(cut) = cut {
            tokio::spawn(forward(client, upstream.clone(), cut));
        }
    }
}

async fn forward(mut client: TcpStream, upstream: String, cut: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    // Biased: once cut, not one more byte is forwarded.
    tokio::select! {
        biased;
        () = cut.cancelled() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}

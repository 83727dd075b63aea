//! A stand-in for Atlassian's signed-install key server: `GET /{kid}` → PEM.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use warp::http::StatusCode;
use warp::Filter;

pub struct KeyServer {
    address: SocketAddr,
    keys: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<u32>>,
}

impl KeyServer {
    pub async fn start(keys: HashMap<String, Vec<u8>>) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let hits = Arc::new(Mutex::new(0));
        let (served, counted) = (keys.clone(), hits.clone());
        let route = warp::path::param::<String>()
            .and(warp::get())
            .map(move |kid: String| {
                *counted.lock().expect("lock") += 1;
                match served.lock().expect("lock").get(&kid) {
                    Some(pem) => warp::http::Response::builder()
                        .status(StatusCode::OK)
                        .body(pem.clone()),
                    None => warp::http::Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(Vec::new()),
                }
                .expect("response")
            });
        let (address, server) = warp::serve(route).bind_ephemeral(([127, 0, 0, 1], 0));
        tokio::spawn(server);
        Self {
            address,
            keys,
            hits,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many key fetches it has answered.
    pub fn hits(&self) -> u32 {
        *self.hits.lock().expect("lock")
    }
}

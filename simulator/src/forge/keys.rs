//! The simulator's stand-in for Forge's JWKS
//! (`https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json`): the RS256 keys that sign
//! Forge Invocation Tokens, served as a JWKS, with rotation, a settable `Cache-Control` and an
//! outage switch.
//!
//! RSA key generation is slow in debug builds (seconds per 2048-bit key), so keys come from a
//! process-wide pool: every [`ForgeSim`](super::ForgeSim) starts with the pool's first key and
//! its n-th rotation uses the pool's key n, each generated once per process, under a kid of
//! its own. A key no simulator ever serves ([`foreign_encoding_key`]) is there to sign tokens
//! that must fail the signature check.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::EncodingKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use warp::http::header::{HeaderValue, CACHE_CONTROL};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::lock;
use crate::server::{serve, RunningServer};

/// Every kid starts so, as Forge's do (`forge/invocation-token/wf-<uuid>`).
pub const KID_PREFIX: &str = "forge/invocation-token/wf-";
/// The `Cache-Control: max-age` of the JWKS unless [`ForgeSim::set_jwks_max_age`] says
/// otherwise.
///
/// [`ForgeSim::set_jwks_max_age`]: super::ForgeSim::set_jwks_max_age
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(300);
/// The bits of every generated key (Forge's are 2048-bit).
const KEY_BITS: usize = 2048;

/// An RSA key pair: the signing half and the JWKS parameters of the public half.
pub(crate) struct KeyMaterial {
    encoding: EncodingKey,
    /// The modulus, base64url without padding.
    n: String,
    /// The public exponent, base64url without padding.
    e: String,
}

impl KeyMaterial {
    fn generate() -> Self {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS)
            .expect("a 2048-bit RSA key can be generated");
        let der = private
            .to_pkcs1_der()
            .expect("a generated RSA key encodes as PKCS#1");
        Self {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            n: URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        }
    }
}

/// Keys generated once per process, handed out by index.
struct KeyPool(Mutex<Vec<Arc<KeyMaterial>>>);

/// The keys simulators serve: index 0 first, index n after n rotations.
static SERVED: KeyPool = KeyPool(Mutex::new(Vec::new()));
/// The one key no simulator serves.
static FOREIGN: KeyPool = KeyPool(Mutex::new(Vec::new()));

impl KeyPool {
    /// The key at `index`, generating the missing ones (off the async runtime's threads).
    async fn get(&'static self, index: usize) -> Arc<KeyMaterial> {
        tokio::task::spawn_blocking(move || {
            let mut keys = lock(&self.0);
            while keys.len() <= index {
                keys.push(Arc::new(KeyMaterial::generate()));
            }
            keys[index].clone()
        })
        .await
        .expect("generating an RSA key does not panic")
    }
}

/// A signing key of a simulator under its kid.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub kid: String,
    material: Arc<KeyMaterial>,
}

impl SigningKey {
    fn new(material: Arc<KeyMaterial>) -> Self {
        let kid = format!("{KID_PREFIX}{}", uuid::Uuid::new_v4());
        Self { kid, material }
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.material.encoding
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": self.material.n,
            "e": self.material.e,
        })
    }
}

/// An RS256 key that no simulator ever serves in its JWKS, to sign tokens that must fail the
/// signature check (generated on first use, once per process).
pub async fn foreign_encoding_key() -> EncodingKey {
    FOREIGN.get(0).await.encoding.clone()
}

/// What the JWKS server serves and the simulator signs with.
struct JwksState {
    current: SigningKey,
    /// Keys rotated out, newest last: no longer served, still usable to sign test tokens.
    retired: Vec<SigningKey>,
    available: bool,
    max_age: Duration,
}

/// The running JWKS server and the keys behind it.
pub(crate) struct Jwks {
    state: Arc<Mutex<JwksState>>,
    fetches: Arc<AtomicUsize>,
    server: RunningServer,
}

impl Jwks {
    /// Serves `GET /.well-known/jwks.json` on `127.0.0.1:0` with the pool's first key.
    pub(crate) async fn start() -> Self {
        let state = Arc::new(Mutex::new(JwksState {
            current: SigningKey::new(SERVED.get(0).await),
            retired: Vec::new(),
            available: true,
            max_age: DEFAULT_JWKS_MAX_AGE,
        }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (shared, counted) = (state.clone(), fetches.clone());
        let route = warp::path!(".well-known" / "jwks.json")
            .and(warp::get())
            .map(move || {
                counted.fetch_add(1, Ordering::Relaxed);
                jwks_response(&lock(&shared))
            })
            .boxed();
        Self {
            state,
            fetches,
            server: serve(route),
        }
    }

    /// `http://127.0.0.1:{port}/.well-known/jwks.json`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.server.address())
    }

    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::Relaxed)
    }

    pub(crate) fn set_available(&self, available: bool) {
        lock(&self.state).available = available;
    }

    pub(crate) fn set_max_age(&self, max_age: Duration) {
        lock(&self.state).max_age = max_age;
    }

    /// The key tokens are signed with now.
    pub(crate) fn current(&self) -> SigningKey {
        lock(&self.state).current.clone()
    }

    /// The current or a retired key named `kid`.
    pub(crate) fn by_kid(&self, kid: &str) -> Option<SigningKey> {
        let state = lock(&self.state);
        let mut keys = std::iter::once(&state.current).chain(state.retired.iter().rev());
        keys.find(|key| key.kid == kid).cloned()
    }

    /// Makes a new key current under a new kid; the JWKS serves only it from now on.
    pub(crate) async fn rotate(&self) -> String {
        let rotations = lock(&self.state).retired.len() + 1;
        let key = SigningKey::new(SERVED.get(rotations).await);
        let kid = key.kid.clone();
        let mut state = lock(&self.state);
        let previous = std::mem::replace(&mut state.current, key);
        state.retired.push(previous);
        kid
    }
}

fn jwks_response(state: &JwksState) -> Response {
    if !state.available {
        let body = json!({ "message": "The JWKS is unavailable (simulated outage)." });
        return json_reply(StatusCode::SERVICE_UNAVAILABLE, &body);
    }
    let body = json!({ "keys": [state.current.jwk()] });
    let mut response = json_reply(StatusCode::OK, &body);
    let cache_control = format!("max-age={}", state.max_age.as_secs());
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_jwks_serves_the_current_key_only_and_can_be_down() {
        let jwks = Jwks::start().await;
        let first = jwks.current().kid;
        assert!(first.starts_with(KID_PREFIX));

        let answer = reqwest::get(jwks.url()).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["cache-control"], "max-age=300");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["keys"].as_array().unwrap().len(), 1);
        assert_eq!(body["keys"][0]["kid"], first.as_str());
        assert_eq!(body["keys"][0]["e"], "AQAB");

        jwks.set_available(false);
        assert_eq!(reqwest::get(jwks.url()).await.unwrap().status(), 503);
        assert_eq!(jwks.fetches(), 2);
        assert!(jwks.by_kid(&first).is_some());
        assert!(jwks.by_kid("forge/invocation-token/wf-other").is_none());
    }
}

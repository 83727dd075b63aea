//! The simulator's stand-in for `https://connect-install-keys.atlassian.com`: `GET /{kid}`
//! answers the PEM public key of the RS256 key pair that signs `installed` and `uninstalled`
//! (docs/protocol.md §1), and the signing side of that key pair.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::connect::{CanonicalRequest, Claims};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::hyper::Body;
use warp::reply::Response;
use warp::Filter;

use crate::server::{serve, RunningServer};

/// The `kid` of the simulator's signed-install tokens.
pub const INSTALL_KEY_ID: &str = "hookline-sim-1";

/// The PEM public key served for [`INSTALL_KEY_ID`].
///
/// TEST-ONLY: this key pair is committed in `fixtures/keys/` and must never be trusted by a
/// production deployment.
pub const INSTALL_PUBLIC_KEY_PEM: &[u8] =
    include_bytes!("../../../fixtures/keys/install-public.pem");

/// TEST-ONLY private half of [`INSTALL_PUBLIC_KEY_PEM`] (committed in `fixtures/keys/`).
const INSTALL_PRIVATE_KEY_PEM: &[u8] = include_bytes!("../../../fixtures/keys/install-private.pem");

/// Lifetime of lifecycle tokens, as Atlassian issues them.
pub(crate) const TOKEN_TTL_SECS: i64 = 180;

/// The running key server and the private key it vouches for.
pub(crate) struct KeyServer {
    server: RunningServer,
    fetches: Arc<AtomicUsize>,
    signing_key: EncodingKey,
}

impl KeyServer {
    /// Serves the public key on `127.0.0.1:0`.
    ///
    /// # Panics
    /// If the embedded private key does not parse (a broken checkout) or no port can be bound.
    pub(crate) fn start() -> Self {
        let signing_key = EncodingKey::from_rsa_pem(INSTALL_PRIVATE_KEY_PEM)
            .expect("the embedded test-only install key is an RSA PEM");
        let fetches = Arc::new(AtomicUsize::new(0));
        let counted = fetches.clone();
        let route = warp::path::param::<String>()
            .and(warp::path::end())
            .and(warp::get())
            .map(move |kid: String| {
                counted.fetch_add(1, Ordering::Relaxed);
                key_response(&kid)
            })
            .boxed();
        Self {
            server: serve(route),
            fetches,
            signing_key,
        }
    }

    /// `http://127.0.0.1:{port}`: keys are at `{url}/{kid}`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.server.address())
    }

    /// How many key requests the server has answered (any `kid`).
    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::Relaxed)
    }

    /// An RS256 signed-install token for `request` (relative to the app's base URL):
    /// header `kid`, `iss` = clientKey, `aud` = [app baseUrl], `qsh`, `iat`, `exp` = iat + 180.
    pub(crate) fn install_token(
        &self,
        client_key: &str,
        app_base_url: &str,
        request: &CanonicalRequest,
        now: i64,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            iss: Some(client_key.to_owned()),
            iat: Some(now),
            exp: Some(now + TOKEN_TTL_SECS),
            qsh: Some(request.qsh().as_str().to_owned()),
            aud: vec![app_base_url.to_owned()],
            ..Claims::default()
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(INSTALL_KEY_ID.to_owned());
        Ok(jsonwebtoken::encode(&header, &claims, &self.signing_key)?)
    }
}

fn key_response(kid: &str) -> Response {
    let mut response = Response::new(Body::empty());
    if kid == INSTALL_KEY_ID {
        *response.body_mut() = Body::from(INSTALL_PUBLIC_KEY_PEM);
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-pem-file"),
        );
    } else {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

#[cfg(test)]
mod tests {
    use common::connect::install::{key_id, verify_install, InstallExpectations};

    use super::*;

    #[tokio::test]
    async fn an_install_token_verifies_with_the_served_public_key() {
        let server = KeyServer::start();
        let request = CanonicalRequest::new("POST", "/installed", "");
        let now = chrono::Utc::now().timestamp();
        let token = server
            .install_token("ck-1", "http://127.0.0.1:9", &request, now)
            .unwrap();

        assert_eq!(key_id(&token).unwrap(), INSTALL_KEY_ID);
        let served = reqwest::get(format!("{}/{INSTALL_KEY_ID}", server.url()))
            .await
            .unwrap();
        assert_eq!(served.status(), 200);
        let pem = served.bytes().await.unwrap();
        let expected = InstallExpectations {
            app_base_url: "http://127.0.0.1:9/",
            client_key: "ck-1",
            request: &request,
            now,
            leeway_secs: 0,
        };
        let claims = verify_install(&token, &pem, &expected).unwrap();
        assert_eq!(claims.exp, Some(now + 180));
        assert_eq!(server.fetches(), 1);
    }

    #[tokio::test]
    async fn an_unknown_key_id_is_not_found() {
        let server = KeyServer::start();
        let answer = reqwest::get(format!("{}/other-key", server.url()))
            .await
            .unwrap();
        assert_eq!(answer.status(), 404);
    }
}

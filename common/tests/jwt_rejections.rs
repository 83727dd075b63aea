//! Every way a Connect JWT can be wrong produces its own typed error.
use std::collections::HashMap;
use std::convert::Infallible;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::connect::install::{key_id, verify_install, InstallExpectations};
use common::connect::sign::{app_token, product_token, sign_hs256};
use common::connect::{
    CanonicalRequest, Claims, HasSharedSecret, JwtError, QshRule, SharedSecret, TenantLookup,
    Verifier,
};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

const NOW: i64 = 1_800_000_000;
const CLIENT_KEY: &str = "tenant-a";

#[derive(Debug)]
struct Tenant(SharedSecret);

impl HasSharedSecret for Tenant {
    fn shared_secret(&self) -> Option<&SharedSecret> {
        Some(&self.0)
    }
}

struct Tenants(HashMap<&'static str, &'static str>);

impl TenantLookup for Tenants {
    type Tenant = Tenant;
    type Error = Infallible;

    async fn find_tenant(&self, client_key: &str) -> Result<Option<Tenant>, Infallible> {
        Ok(self
            .0
            .get(client_key)
            .map(|s| Tenant(SharedSecret::new(*s))))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("database unavailable")]
struct Down;

struct BrokenStore;

impl TenantLookup for BrokenStore {
    type Tenant = Tenant;
    type Error = Down;

    async fn find_tenant(&self, _: &str) -> Result<Option<Tenant>, Down> {
        Err(Down)
    }
}

fn tenants() -> Tenants {
    Tenants(HashMap::from([
        (CLIENT_KEY, "secret-a"),
        ("tenant-b", "secret-b"),
    ]))
}

fn webhook() -> CanonicalRequest {
    CanonicalRequest::new("POST", "/webhooks/jira/jira:issue_created", "")
}

fn claims() -> Claims {
    Claims {
        iss: Some(CLIENT_KEY.into()),
        iat: Some(NOW),
        exp: Some(NOW + 180),
        qsh: Some(webhook().qsh().as_str().into()),
        ..Claims::default()
    }
}

fn signed(claims: &Claims) -> String {
    sign_hs256(claims, &SharedSecret::new("secret-a")).expect("signs")
}

fn with_header(header: &str, claims: &Claims, signature: &str) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("json"));
    format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(header))
}

async fn verify(token: &str, rule: QshRule) -> Result<Claims, JwtError> {
    Verifier::new(30)
        .at(NOW)
        .verify(token, &webhook(), rule, &tenants())
        .await
        .map(|v| v.claims)
}

#[tokio::test]
async fn a_good_token_verifies_and_returns_its_tenant() {
    let verified = Verifier::new(30)
        .at(NOW)
        .verify(&signed(&claims()), &webhook(), QshRule::Request, &tenants())
        .await
        .expect("verifies");
    assert_eq!(verified.tenant.0.expose(), "secret-a");
    assert_eq!(verified.claims.iss.as_deref(), Some(CLIENT_KEY));
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let token = with_header(r#"{"alg":"none","typ":"JWT"}"#, &claims(), "");
    let error = verify(&token, QshRule::Request).await.unwrap_err();
    assert!(
        matches!(error, JwtError::Algorithm { ref found, .. } if found == "none"),
        "{error:?}"
    );
}

#[tokio::test]
async fn hs512_is_rejected() {
    let key = EncodingKey::from_secret(b"secret-a");
    let token = encode(&Header::new(Algorithm::HS512), &claims(), &key).expect("signs");
    let error = verify(&token, QshRule::Request).await.unwrap_err();
    assert!(
        matches!(error, JwtError::Algorithm { ref found, .. } if found == "HS512"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_rs256_token_is_rejected_on_the_hs256_path() {
    let pem = include_bytes!("../../fixtures/keys/install-private.pem");
    let key = EncodingKey::from_rsa_pem(pem).expect("pem");
    let token = encode(&Header::new(Algorithm::RS256), &claims(), &key).expect("signs");
    let error = verify(&token, QshRule::Request).await.unwrap_err();
    assert!(matches!(error, JwtError::Algorithm { .. }), "{error:?}");
}

#[tokio::test]
async fn an_expired_token_is_rejected_but_the_leeway_is_honoured() {
    let mut expired = claims();
    expired.exp = Some(NOW - 31);
    assert!(matches!(
        verify(&signed(&expired), QshRule::Request).await,
        Err(JwtError::Expired)
    ));
    expired.exp = Some(NOW - 29);
    assert!(verify(&signed(&expired), QshRule::Request).await.is_ok());
}

#[tokio::test]
async fn a_token_without_exp_is_rejected() {
    let mut no_exp = claims();
    no_exp.exp = None;
    let error = verify(&signed(&no_exp), QshRule::Request)
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::MissingExpiry), "{error:?}");
}

#[tokio::test]
async fn a_token_issued_in_the_far_future_is_rejected() {
    let mut future = claims();
    future.iat = Some(NOW + 3600);
    future.exp = Some(NOW + 3780);
    let error = verify(&signed(&future), QshRule::Request)
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::IssuedInFuture), "{error:?}");
}

#[tokio::test]
async fn a_token_without_qsh_is_rejected() {
    let mut no_qsh = claims();
    no_qsh.qsh = None;
    let error = verify(&signed(&no_qsh), QshRule::Request)
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::MissingQsh), "{error:?}");
}

#[tokio::test]
async fn a_token_for_another_request_is_rejected() {
    let mut other = claims();
    other.qsh = Some(
        CanonicalRequest::new("POST", "/webhooks/jira/comment_created", "")
            .qsh()
            .to_string(),
    );
    let error = verify(&signed(&other), QshRule::Request).await.unwrap_err();
    assert!(matches!(error, JwtError::QshMismatch), "{error:?}");
}

#[tokio::test]
async fn context_qsh_is_rejected_unless_the_caller_allows_it() {
    let mut context = claims();
    context.qsh = Some("context-qsh".into());
    let token = signed(&context);
    let error = verify(&token, QshRule::Request).await.unwrap_err();
    assert!(matches!(error, JwtError::ContextQshNotAllowed), "{error:?}");
    assert!(verify(&token, QshRule::RequestOrContext).await.is_ok());
}

#[tokio::test]
async fn an_unknown_issuer_is_rejected() {
    let mut stranger = claims();
    stranger.iss = Some("nobody".into());
    let error = verify(&signed(&stranger), QshRule::Request)
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::UnknownIssuer), "{error:?}");
}

#[tokio::test]
async fn a_token_without_issuer_is_rejected() {
    let mut anonymous = claims();
    anonymous.iss = None;
    let error = verify(&signed(&anonymous), QshRule::Request)
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::MissingIssuer), "{error:?}");
}

#[tokio::test]
async fn a_token_signed_with_another_tenants_secret_is_rejected() {
    let forged = sign_hs256(&claims(), &SharedSecret::new("secret-b")).expect("signs");
    let error = verify(&forged, QshRule::Request).await.unwrap_err();
    assert!(matches!(error, JwtError::BadSignature), "{error:?}");
}

#[tokio::test]
async fn garbage_is_malformed_not_a_panic() {
    for garbage in [
        "x",
        "a.b",
        "a.b.c",
        "!!!.???.###",
        "e30.e30.e30.e30",
        "e30.bm90IGpzb24.sig",
    ] {
        let error = verify(garbage, QshRule::Request).await.unwrap_err();
        assert!(
            matches!(error, JwtError::Malformed(_)),
            "{garbage}: {error:?}"
        );
    }
    let error = verify("", QshRule::Request).await.unwrap_err();
    assert!(matches!(error, JwtError::Missing), "{error:?}");
}

#[tokio::test]
async fn a_header_or_claims_that_are_json_lists_are_malformed_even_when_signed() {
    // serde would read `["HS256"]` as `{"alg": "HS256"}` by position; JOSE requires objects.
    let claims = serde_json::to_vec(&claims()).expect("json");
    let list_claims = serde_json::to_vec(&serde_json::json!([
        CLIENT_KEY,
        NOW,
        NOW + 180,
        webhook().qsh().as_str()
    ]))
    .expect("json");
    for (header, payload) in [
        (&br#"["HS256"]"#[..], &claims[..]),
        (&br#"{"alg":"HS256","typ":"JWT"}"#[..], &list_claims[..]),
    ] {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(b"secret-a"),
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("signs");
        let token = format!("{signing_input}.{signature}");
        let error = verify(&token, QshRule::Request).await.unwrap_err();
        assert!(
            matches!(error, JwtError::Malformed(_)),
            "{}: {error:?}",
            String::from_utf8_lossy(header)
        );
    }
}

#[tokio::test]
async fn a_ten_megabyte_token_is_refused_before_decoding() {
    let huge = "a".repeat(10 * 1024 * 1024);
    let error = verify(&huge, QshRule::Request).await.unwrap_err();
    assert!(
        matches!(error, JwtError::TooLarge(n) if n == huge.len()),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_failing_lookup_is_an_internal_error_not_a_rejection() {
    let error = Verifier::new(30)
        .at(NOW)
        .verify(
            &signed(&claims()),
            &webhook(),
            QshRule::Request,
            &BrokenStore,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, JwtError::Lookup(_)) && error.is_internal(),
        "{error:?}"
    );
}

#[test]
fn error_messages_never_echo_the_token_or_secret() {
    let token = signed(&claims());
    let error = Verifier::new(30)
        .at(NOW)
        .verify_with_secret(
            &token,
            &SharedSecret::new("secret-b"),
            &webhook(),
            QshRule::Request,
        )
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains(&token) && !shown.contains("secret-b"),
        "{shown}"
    );
}

#[test]
fn an_app_token_carries_the_protocol_claims_and_verifies() {
    let secret = SharedSecret::new("secret-a");
    let request = CanonicalRequest::new("POST", "/wiki/api/v2/footer-comments", "/wiki");
    let token = app_token("hookline", CLIENT_KEY, &secret, &request, NOW).expect("signs");
    let claims = Verifier::new(0)
        .at(NOW)
        .verify_with_secret(&token, &secret, &request, QshRule::Request)
        .expect("verifies");
    assert_eq!(claims.iss.as_deref(), Some("hookline"));
    assert_eq!(claims.aud, vec![CLIENT_KEY.to_owned()]);
    assert_eq!(claims.exp, Some(NOW + 180));
    assert_eq!(claims.iat, Some(NOW));
}

#[test]
fn a_product_token_verifies_for_its_request() {
    let secret = SharedSecret::new("secret-a");
    let token = product_token(CLIENT_KEY, &secret, &webhook(), NOW, 180).expect("signs");
    assert!(Verifier::new(0)
        .at(NOW)
        .verify_with_secret(&token, &secret, &webhook(), QshRule::Request)
        .is_ok());
}

mod signed_install {
    use super::*;

    const APP_BASE_URL: &str = "https://hookline.example.com";

    fn install_claims() -> Claims {
        Claims {
            iss: Some(CLIENT_KEY.into()),
            iat: Some(NOW),
            exp: Some(NOW + 180),
            aud: vec![format!("{APP_BASE_URL}/")],
            qsh: Some(installed().qsh().to_string()),
            ..Claims::default()
        }
    }

    fn installed() -> CanonicalRequest {
        CanonicalRequest::new("POST", "/installed", "")
    }

    fn rs256(claims: &Claims, private_pem: &[u8]) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("key-2026-01".into());
        let key = EncodingKey::from_rsa_pem(private_pem).expect("pem");
        encode(&header, claims, &key).expect("signs")
    }

    fn check(token: &str) -> Result<Claims, JwtError> {
        let request = installed();
        let expected = InstallExpectations {
            app_base_url: APP_BASE_URL,
            client_key: CLIENT_KEY,
            request: &request,
            now: NOW,
            leeway_secs: 30,
        };
        verify_install(
            token,
            include_bytes!("../../fixtures/keys/install-public.pem"),
            &expected,
        )
    }

    #[test]
    fn a_good_install_token_verifies_and_names_its_key() {
        let token = rs256(
            &install_claims(),
            include_bytes!("../../fixtures/keys/install-private.pem"),
        );
        assert_eq!(key_id(&token).expect("kid"), "key-2026-01");
        assert!(check(&token).is_ok());
    }

    #[test]
    fn a_token_signed_by_another_key_is_rejected() {
        let token = rs256(
            &install_claims(),
            include_bytes!("../../fixtures/keys/other-private.pem"),
        );
        assert!(matches!(check(&token), Err(JwtError::BadSignature)));
    }

    #[test]
    fn the_wrong_audience_is_rejected() {
        let mut claims = install_claims();
        claims.aud = vec!["https://evil.example.com".into()];
        let token = rs256(
            &claims,
            include_bytes!("../../fixtures/keys/install-private.pem"),
        );
        assert!(matches!(check(&token), Err(JwtError::WrongAudience)));
    }

    #[test]
    fn the_wrong_issuer_is_rejected() {
        let mut claims = install_claims();
        claims.iss = Some("tenant-b".into());
        let token = rs256(
            &claims,
            include_bytes!("../../fixtures/keys/install-private.pem"),
        );
        assert!(matches!(check(&token), Err(JwtError::WrongIssuer)));
    }

    #[test]
    fn a_wrong_qsh_is_rejected() {
        let mut claims = install_claims();
        claims.qsh = Some(
            CanonicalRequest::new("POST", "/uninstalled", "")
                .qsh()
                .to_string(),
        );
        let token = rs256(
            &claims,
            include_bytes!("../../fixtures/keys/install-private.pem"),
        );
        assert!(matches!(check(&token), Err(JwtError::QshMismatch)));
    }

    #[test]
    fn an_hs256_token_signed_with_the_public_key_is_rejected() {
        // The classic algorithm-confusion attack: HMAC keyed with the public PEM.
        let key =
            EncodingKey::from_secret(include_bytes!("../../fixtures/keys/install-public.pem"));
        let token = encode(&Header::new(Algorithm::HS256), &install_claims(), &key).expect("signs");
        assert!(matches!(check(&token), Err(JwtError::Algorithm { .. })));
    }

    #[test]
    fn an_unsafe_kid_is_refused() {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("../../etc/passwd".into());
        let key =
            EncodingKey::from_rsa_pem(include_bytes!("../../fixtures/keys/install-private.pem"))
                .expect("pem");
        let token = encode(&header, &install_claims(), &key).expect("signs");
        assert!(matches!(key_id(&token), Err(JwtError::Malformed(_))));
    }
}

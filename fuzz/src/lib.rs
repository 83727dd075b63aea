//! Helpers shared by the fuzz targets: the fixed tenants, clock and request the JWT targets
//! verify against, an HS256 signer written independently of the code under test (the oracle),
//! and a poll-once executor for the verifier's lookup, which is always ready here.
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use common::connect::{HasSharedSecret, SharedSecret, TenantLookup};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The secret and issuer of the HS256 vectors in `fixtures/jwt-signed-urls.json`.
pub const TENANT_KEY: &str = "jira:1234-5678-9000";
/// The fixtures' shared secret.
pub const TENANT_SECRET: &str = "s0m3-sh@r3d-s3cr37";
/// A second installed tenant: its tokens must never verify as the first one's.
pub const OTHER_KEY: &str = "other-tenant";
/// The second tenant's secret.
pub const OTHER_SECRET: &str = "an0ther-s3cret-entirely";
/// A time inside every fixture token's `iat..exp` window (epoch seconds).
pub const NOW: i64 = 1_392_204_500;
/// The default `security.jwt_leeway_secs`.
pub const LEEWAY: i64 = 30;
/// The request the fixture vector "Simple" is bound to.
pub const METHOD: &str = "GET";
/// The target of that request.
pub const TARGET: &str = "/test?param=value";

/// A tenant record as the lookup returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedTenant {
    /// Its clientKey.
    pub key: &'static str,
    secret: SharedSecret,
}

impl HasSharedSecret for FixedTenant {
    fn shared_secret(&self) -> Option<&SharedSecret> {
        Some(&self.secret)
    }
}

/// The in-memory tenant store: [`TENANT_KEY`] and [`OTHER_KEY`].
pub struct FixedTenants;

/// Never returned: the fixed lookup cannot fail.
#[derive(Debug)]
pub struct LookupNeverFails;

impl std::fmt::Display for LookupNeverFails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unreachable")
    }
}

impl std::error::Error for LookupNeverFails {}

/// The secret of a fixed tenant, by clientKey.
pub fn secret_of(client_key: &str) -> Option<&'static str> {
    match client_key {
        TENANT_KEY => Some(TENANT_SECRET),
        OTHER_KEY => Some(OTHER_SECRET),
        _ => None,
    }
}

impl TenantLookup for FixedTenants {
    type Tenant = FixedTenant;
    type Error = LookupNeverFails;

    async fn find_tenant(&self, client_key: &str) -> Result<Option<FixedTenant>, Self::Error> {
        let key = [TENANT_KEY, OTHER_KEY]
            .into_iter()
            .find(|key| *key == client_key);
        Ok(key.map(|key| FixedTenant {
            key,
            secret: SharedSecret::new(secret_of(key).unwrap_or_default()),
        }))
    }
}

/// Runs a future that never waits (the fixed lookup is immediately ready).
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a fixed-lookup verification never waits"),
    }
}

/// HMAC-SHA256 of `input` under `key`.
pub fn hs256(key: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

/// Base64url without padding, as JWS uses.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Base64url accepting padding and non-zero trailing bits: the oracle asks whether the bytes
/// are the MAC, not whether their encoding is canonical.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Whether `token` is `header.claims.signature` with a signature that really is the HS256 MAC
/// of `header.claims` under `secret` (checked here, independently of `common`).
pub fn is_really_signed(token: &str, secret: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(signature) = LENIENT.decode(signature) else {
        return false;
    };
    let expected = hs256(secret.as_bytes(), format!("{header}.{claims}").as_bytes());
    !secret.is_empty() && signature == expected
}

/// One base64url segment of a token read as `T` (with the trailing `=` the verifier tolerates).
pub fn segment<T: serde::de::DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

//! Arbitrary bytes as a signed-install (RS256) token, through what the ingress does with one:
//! `key_id` (the `kid` becomes part of a key-server URL), then `verify_install` with the test
//! public key of `fixtures/keys/`.
//!
//! Beyond "never panics": a `kid` returned is safe in a URL path, and an `Ok` is checked against
//! an oracle written here (the `rsa` crate verifies the PKCS#1 v1.5 SHA-256 signature with the
//! install key, and `alg`, `iss`, `aud`, `exp`, `iat` and `qsh` hold), so a token signed with
//! the other test key, or not at all, is never accepted.
#![no_main]

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use common::connect::install::{key_id, verify_install, InstallExpectations};
use common::connect::{CanonicalRequest, Claims, Header};
use hookline_fuzz::segment;
use libfuzzer_sys::fuzz_target;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier as _;
use rsa::RsaPublicKey;
use sha2::Sha256;

const INSTALL_PUBLIC: &[u8] = include_bytes!("../../fixtures/keys/install-public.pem");
/// The claims `scripts/fuzz` signs its seed tokens with.
const APP_BASE_URL: &str = "https://hookline.example.com";
const CLIENT_KEY: &str = "ck-fuzz";
const NOW: i64 = 1_700_000_060;
const LEEWAY: i64 = 30;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(kid) = key_id(token) {
        let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        assert!(
            (1..=128).contains(&kid.len()) && kid.bytes().all(safe),
            "kid {kid:?}"
        );
        assert!(kid != "." && kid != "..", "kid {kid:?}");
    }
    let request = CanonicalRequest::new("POST", "/installed", "");
    let expected = InstallExpectations {
        app_base_url: APP_BASE_URL,
        client_key: CLIENT_KEY,
        request: &request,
        now: NOW,
        leeway_secs: LEEWAY,
    };
    match verify_install(token, INSTALL_PUBLIC, &expected) {
        Ok(claims) => assert_genuine(token, &claims, &request),
        Err(error) => assert!(!error.is_internal(), "the key is a valid PEM: {error}"),
    }
});

fn assert_genuine(token: &str, claims: &Claims, request: &CanonicalRequest) {
    let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
    let lenient = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let signature = lenient.decode(signature).expect("base64url signature");
    let key = RsaPublicKey::from_public_key_pem(std::str::from_utf8(INSTALL_PUBLIC).unwrap())
        .expect("the install public key");
    let valid = Signature::try_from(signature.as_slice()).is_ok_and(|signature| {
        VerifyingKey::<Sha256>::new(key)
            .verify(signing_input.as_bytes(), &signature)
            .is_ok()
    });
    assert!(
        valid,
        "accepted without the install key's signature: {token:?}"
    );
    let (header, body) = signing_input.split_once('.').expect("three segments");
    let header: Header = segment(header).expect("a JOSE header");
    assert_eq!(header.alg, "RS256");
    let decoded: Claims = segment(body).expect("Connect claims");
    assert_eq!(&decoded, claims, "the claims returned are the ones signed");
    assert_eq!(claims.iss.as_deref(), Some(CLIENT_KEY));
    let aud = claims.aud.first().expect("an audience");
    assert_eq!(aud.trim_end_matches('/'), APP_BASE_URL);
    let exp = claims.exp.expect("exp is required");
    assert!(
        i128::from(NOW) <= i128::from(exp) + i128::from(LEEWAY),
        "expired"
    );
    assert!(
        claims.iat.is_none_or(|iat| iat <= NOW + LEEWAY),
        "issued in the future"
    );
    assert_eq!(claims.qsh.as_deref(), Some(request.qsh().as_str()));
}

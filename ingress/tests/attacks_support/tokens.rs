//! Building tokens by hand: any header, any claims, any bytes, signed under any algorithm, and
//! the valid token of tenant A for `POST ISSUE_CREATED` with one thing changed.
use common::connect::CanonicalRequest;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Map, Value};

use super::{ISSUE_CREATED, SECRET_A, TENANT_A};
use crate::support::now;

/// Base64url without padding (RFC 7515), written out so any bytes can be encoded.
pub fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// `header.claims.signature` from raw segment bytes, signed under `alg` with `secret`.
pub fn sign_raw(header: &[u8], claims: &[u8], secret: &str, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64url(header), b64url(claims));
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        alg,
    )
    .expect("signs");
    format!("{input}.{signature}")
}

/// A token with this header and these claims, signed under `alg` with `secret`.
pub fn forge(header: &Value, claims: &Value, secret: &str, alg: Algorithm) -> String {
    sign_raw(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        secret,
        alg,
    )
}

/// The header Jira sends.
pub fn hs256_header() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

pub fn qsh(method: &str, target: &str) -> String {
    CanonicalRequest::new(method, target, "").qsh().to_string()
}

/// The claims Jira signs for `POST ISSUE_CREATED` from tenant A.
pub fn valid_claims() -> Map<String, Value> {
    let now = now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(TENANT_A));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 180));
    claims.insert("qsh".into(), json!(qsh("POST", ISSUE_CREATED)));
    claims
}

/// A valid token of tenant A for `POST ISSUE_CREATED`, built by hand.
pub fn valid_token() -> String {
    claims_with(|_| {})
}

/// The valid claims changed by `change`, under the HS256 header, signed with A's secret.
pub fn claims_with(change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = valid_claims();
    change(&mut claims);
    forge(
        &hs256_header(),
        &Value::Object(claims),
        SECRET_A,
        Algorithm::HS256,
    )
}

/// The valid claims under another header (as JSON text, for duplicate keys), signed under
/// `alg` with A's secret.
pub fn header_with(header: &str, alg: Algorithm) -> String {
    let claims = Value::Object(valid_claims()).to_string();
    sign_raw(header.as_bytes(), claims.as_bytes(), SECRET_A, alg)
}

/// The header text `{"alg":"<alg>","typ":"JWT"}`.
pub fn alg_header(alg: &str) -> String {
    json!({"alg": alg, "typ": "JWT"}).to_string()
}

/// The valid token's header and claims segments under another signature segment.
pub fn with_signature(signature: &str) -> String {
    let token = valid_token();
    let (input, _) = token.rsplit_once('.').expect("three segments");
    format!("{input}.{signature}")
}

/// The valid token with claim `name` set to `value`.
pub fn set(name: &str, value: Value) -> String {
    claims_with(|c| {
        c.insert(name.to_owned(), value);
    })
}

/// The valid token without claim `name`.
pub fn without(name: &str) -> String {
    claims_with(|c| {
        c.remove(name);
    })
}

/// A token of this exact claims text (duplicate keys, not JSON, ...) under the HS256 header,
/// signed with A's secret.
pub fn raw_claims(claims: &str) -> String {
    sign_raw(
        hs256_header().to_string().as_bytes(),
        claims.as_bytes(),
        SECRET_A,
        Algorithm::HS256,
    )
}

//! Reading a token without trusting it, and the claim checks every path shares.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Deserializer, Serialize};

use super::{CanonicalRequest, JwtError, Qsh};

/// Longer tokens are refused before any decoding (Connect tokens are a few hundred bytes).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The JOSE header fields Connect uses.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Header {
    /// The signing algorithm, e.g. `HS256`.
    pub alg: String,
    /// `JWT`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The signing key's id (signed-install tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// The claims of a Connect JWT.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Claims {
    /// Issuer: the tenant's clientKey (product tokens) or the app key (app tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Issued at, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expiry, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The query string hash binding the token to one request, or `context-qsh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qsh: Option<String>,
    /// The user's accountId, when a user is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience; a string or an array on the wire, always a list here.
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    /// The product context (user, issue, ...), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::One(aud)) => vec![aud],
        Some(OneOrMany::Many(aud)) => aud,
    })
}

/// A token split and decoded, signature not yet checked.
#[derive(Debug)]
pub struct Unverified<'t> {
    /// The decoded header.
    pub header: Header,
    /// The decoded claims.
    pub claims: Claims,
    signing_input: &'t str,
    signature: &'t str,
}

impl<'t> Unverified<'t> {
    /// Splits and decodes a compact JWS without trusting anything in it.
    pub fn decode(token: &'t str) -> Result<Self, JwtError> {
        if token.is_empty() {
            return Err(JwtError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::TooLarge(token.len()));
        }
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| malformed("it does not have three segments"))?;
        let (header, claims) = signing_input
            .split_once('.')
            .ok_or_else(|| malformed("it does not have three segments"))?;
        if claims.contains('.') {
            return Err(malformed("it has more than three segments"));
        }
        Ok(Self {
            header: decode_segment(header, "header")?,
            claims: decode_segment(claims, "claims")?,
            signing_input,
            signature,
        })
    }

    /// Fails unless the header names exactly `expected`.
    pub fn require_algorithm(&self, expected: Algorithm) -> Result<(), JwtError> {
        let name = algorithm_name(expected);
        if self.header.alg == name {
            Ok(())
        } else {
            Err(JwtError::Algorithm {
                found: self.header.alg.chars().take(16).collect(),
                expected: name,
            })
        }
    }

    /// Checks the signature with `key` under `algorithm` (which the caller has required).
    pub fn verify_signature(
        &self,
        key: &DecodingKey,
        algorithm: Algorithm,
    ) -> Result<(), JwtError> {
        match jsonwebtoken::crypto::verify(
            self.signature,
            self.signing_input.as_bytes(),
            key,
            algorithm,
        ) {
            Ok(true) => Ok(()),
            Ok(false) => Err(JwtError::BadSignature),
            Err(error) => match error.kind() {
                jsonwebtoken::errors::ErrorKind::Base64(_) => {
                    Err(malformed("bad signature encoding"))
                }
                _ => Err(JwtError::BadSignature),
            },
        }
    }
}

/// Checks `exp` (required) and `iat` (when present) against `now`, with `leeway` seconds.
pub fn check_times(claims: &Claims, now: i64, leeway: i64) -> Result<(), JwtError> {
    let exp = claims.exp.ok_or(JwtError::MissingExpiry)?;
    if now > exp.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    match claims.iat {
        Some(iat) if iat > now.saturating_add(leeway) => Err(JwtError::IssuedInFuture),
        _ => Ok(()),
    }
}

/// How a path treats `qsh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QshRule {
    /// `qsh` must be the hash of this exact request (webhooks, lifecycle, page loads).
    Request,
    /// `qsh` may also be exactly `context-qsh` (front-end API calls with context tokens).
    RequestOrContext,
}

/// Checks the claimed `qsh` against the request under `rule`.
pub fn check_qsh(
    claims: &Claims,
    request: &CanonicalRequest,
    rule: QshRule,
) -> Result<(), JwtError> {
    let claimed = claims.qsh.as_deref().ok_or(JwtError::MissingQsh)?;
    if claimed == Qsh::CONTEXT {
        return match rule {
            QshRule::RequestOrContext => Ok(()),
            QshRule::Request => Err(JwtError::ContextQshNotAllowed),
        };
    }
    if request.qsh().matches(claimed) {
        Ok(())
    } else {
        Err(JwtError::QshMismatch)
    }
}

fn decode_segment<T: serde::de::DeserializeOwned>(
    segment: &str,
    what: &str,
) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| malformed(&format!("the {what} is not base64url")))?;
    // A JOSE header and a claims set are JSON objects (RFC 7515 §4, RFC 7519 §7.2); serde would
    // also fill the fields from a list, by position, which Atlassian's libraries refuse.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(malformed(&format!("the {what} is not a JSON object")));
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| malformed(&format!("the {what} is not the expected JSON")))
}

fn malformed(reason: &str) -> JwtError {
    JwtError::Malformed(reason.to_owned())
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        _ => "unsupported",
    }
}

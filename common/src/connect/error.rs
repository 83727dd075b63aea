use thiserror::Error;

/// Why a Connect JWT was refused. Messages name the failed check, never the token or secret.
#[derive(Debug, Error)]
pub enum JwtError {
    /// No token was presented.
    #[error("no JWT was presented")]
    Missing,
    /// The token is longer than any Connect token can be.
    #[error("the JWT is {0} bytes long, more than the {max} allowed", max = super::verify::MAX_TOKEN_BYTES)]
    TooLarge(usize),
    /// The token is not three base64url segments of JSON.
    #[error("the JWT is malformed: {0}")]
    Malformed(String),
    /// The header names an algorithm this endpoint does not accept.
    #[error("the JWT algorithm {found} is not accepted here (expected {expected})")]
    Algorithm {
        /// The `alg` in the token's header.
        found: String,
        /// The one algorithm this path accepts.
        expected: &'static str,
    },
    /// The token has no `iss` claim.
    #[error("the JWT has no iss claim")]
    MissingIssuer,
    /// No tenant is installed under the token's `iss`.
    #[error("no tenant is installed with the clientKey named by iss")]
    UnknownIssuer,
    /// `iss` is not what this endpoint expects.
    #[error("the JWT iss does not match the expected issuer")]
    WrongIssuer,
    /// `aud` is missing or not what this endpoint expects.
    #[error("the JWT aud does not match this app")]
    WrongAudience,
    /// The signature does not verify with the key.
    #[error("the JWT signature does not verify")]
    BadSignature,
    /// `exp` is missing.
    #[error("the JWT has no exp claim")]
    MissingExpiry,
    /// `exp` has passed (beyond the leeway).
    #[error("the JWT expired")]
    Expired,
    /// `iat` lies in the future (beyond the leeway).
    #[error("the JWT was issued in the future")]
    IssuedInFuture,
    /// The token has no `qsh` claim.
    #[error("the JWT has no qsh claim")]
    MissingQsh,
    /// `qsh` does not match the request.
    #[error("the JWT qsh does not match this request")]
    QshMismatch,
    /// A `context-qsh` token was used where a request-bound token is required.
    #[error("a context-qsh token is not accepted here")]
    ContextQshNotAllowed,
    /// The key used to verify is unusable (bad PEM, empty secret).
    #[error("the verification key is unusable: {0}")]
    Key(String),
    /// Looking up the tenant failed (for example the database is down); not the caller's fault.
    #[error("the tenant lookup failed")]
    Lookup(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl JwtError {
    /// A short, stable code for JSON error bodies and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "jwt_missing",
            Self::TooLarge(_) => "jwt_too_large",
            Self::Malformed(_) => "jwt_malformed",
            Self::Algorithm { .. } => "jwt_algorithm",
            Self::MissingIssuer => "jwt_missing_iss",
            Self::UnknownIssuer => "jwt_unknown_iss",
            Self::WrongIssuer => "jwt_wrong_iss",
            Self::WrongAudience => "jwt_wrong_aud",
            Self::BadSignature => "jwt_bad_signature",
            Self::MissingExpiry => "jwt_missing_exp",
            Self::Expired => "jwt_expired",
            Self::IssuedInFuture => "jwt_iat_future",
            Self::MissingQsh => "jwt_missing_qsh",
            Self::QshMismatch => "jwt_qsh_mismatch",
            Self::ContextQshNotAllowed => "jwt_context_qsh",
            Self::Key(_) => "jwt_key",
            Self::Lookup(_) => "tenant_lookup_failed",
        }
    }

    /// Whether the failure is ours (lookup or key trouble), not a bad token: answer 5xx/503.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Lookup(_) | Self::Key(_))
    }
}

//! The Atlassian Connect JWT core, shared by ingress and worker.
//!
//! - [`qsh`]: the canonical request and its query string hash (docs/protocol.md §3).
//! - [`verify`]: verifying product-issued HS256 tokens bound to a request.
//! - [`install`]: verifying RS256 signed-install tokens.
//! - [`sign`]: signing app-issued tokens for calls to the product.

mod error;
pub mod install;
pub mod qsh;
mod secret;
pub mod sign;
mod token;
pub mod verify;

pub use error::JwtError;
pub use qsh::{CanonicalRequest, Qsh};
pub use secret::SharedSecret;
pub use token::{Claims, Header, QshRule, Unverified};
pub use verify::{HasSharedSecret, TenantLookup, Verified, Verifier};

use std::fmt;

/// A tenant's `sharedSecret`: the HS256 key of its Connect JWTs.
///
/// It never appears in `Debug` or `Display` output, so it cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedSecret(String);

impl SharedSecret {
    /// Wraps a secret received in an install payload or decrypted from the store.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for signing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for SharedSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secret = SharedSecret::new("hunter2-very-secret");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}

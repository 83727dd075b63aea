//! The ids a Forge installation is known by: its installation ARI (changes on reinstall, not on
//! upgrade) and its cloud id (the site; stable across reinstalls).
use std::fmt;

use serde::{Deserialize, Serialize};

/// The prefix of installation ARIs; the `installed` event may give the bare UUID.
const INSTALLATION_ARI: &str = "ari:cloud:ecosystem::installation/";
/// The prefix of app ARIs.
pub(crate) const APP_ARI: &str = "ari:cloud:ecosystem::app/";

/// Why an id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct IdError {
    what: &'static str,
    reason: &'static str,
}

/// A Forge installation, as its ARI `ari:cloud:ecosystem::installation/<uuid>` (a bare UUID
/// is taken as that ARI).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstallationId(String);

impl InstallationId {
    /// Parses an installation ARI or bare UUID.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let id = raw.strip_prefix(INSTALLATION_ARI).unwrap_or(raw);
        if !is_id(id) {
            return Err(IdError {
                what: "installation id",
                reason: "not an installation ARI or UUID",
            });
        }
        Ok(Self(format!("{INSTALLATION_ARI}{id}")))
    }

    /// The ARI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A site's cloud id (a UUID), stable across reinstalls.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CloudId(String);

impl CloudId {
    /// Parses a cloud id.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if !is_id(raw) {
            return Err(IdError {
                what: "cloud id",
                reason: "not a UUID-like id",
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// UUIDs and the like: 1 to 64 characters of `[0-9A-Za-z-]`.
fn is_id(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(InstallationId);
string_newtype!(CloudId);

/// The app ARI of `raw` (an ARI or a bare UUID), if it is one.
pub fn app_ari(raw: &str) -> Option<String> {
    let id = raw.strip_prefix(APP_ARI).unwrap_or(raw);
    is_id(id).then(|| format!("{APP_ARI}{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installation_is_its_ari_whether_given_as_ari_or_uuid() {
        let uuid = "0a3a7799-1f2e-4b5c-9d8e-7f6a5b4c3d2e";
        let ari = format!("{INSTALLATION_ARI}{uuid}");
        assert_eq!(InstallationId::parse(uuid).unwrap().as_str(), ari);
        assert_eq!(InstallationId::parse(&ari).unwrap().as_str(), ari);
        for bad in ["", "a/b", "ari:cloud:ecosystem::installation/", "x y"] {
            assert!(InstallationId::parse(bad).is_err(), "{bad}");
        }
        assert!(CloudId::parse("d0d52620-3a8f").is_ok());
        assert!(CloudId::parse("../etc").is_err());
        assert_eq!(
            app_ari("8db33809-aaaa").as_deref(),
            Some("ari:cloud:ecosystem::app/8db33809-aaaa")
        );
    }
}

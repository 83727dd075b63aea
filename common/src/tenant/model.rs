//! The tenant domain types: client key, product, lifecycle state and the decrypted record.
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TenantError;
use crate::connect::verify::HasSharedSecret;
use crate::connect::SharedSecret;
use crate::forge::{CloudId, InstallationId, SystemToken};

const MAX_CLIENT_KEY_LEN: usize = 255;

/// A tenant's `clientKey`: the id of one installed Jira or Confluence site.
///
/// Non-empty, at most 255 bytes, no control characters; otherwise kept exactly as sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct ClientKey(String);

impl ClientKey {
    /// Validates a client key received from a product or read from a token's `iss`.
    pub fn parse(raw: &str) -> Result<Self, TenantError> {
        let reason = if raw.is_empty() {
            "empty"
        } else if raw.len() > MAX_CLIENT_KEY_LEN {
            "longer than 255 bytes"
        } else if raw.chars().any(char::is_control) {
            "contains control characters"
        } else {
            return Ok(Self(raw.to_owned()));
        };
        Err(TenantError::InvalidClientKey(reason))
    }

    /// The client key as sent by the product.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientKey {
    type Error = TenantError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Atlassian product a tenant runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductType {
    /// Jira (any flavour); `baseUrl` has no path.
    Jira,
    /// Confluence; `baseUrl` ends with `/wiki`.
    Confluence,
}

impl ProductType {
    /// The wire and database spelling: `jira` or `confluence`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jira => "jira",
            Self::Confluence => "confluence",
        }
    }

    /// Parses the wire and database spelling.
    pub fn parse(raw: &str) -> Result<Self, TenantError> {
        match raw {
            "jira" => Ok(Self::Jira),
            "confluence" => Ok(Self::Confluence),
            other => Err(TenantError::UnknownProductType(other.to_owned())),
        }
    }
}

impl fmt::Display for ProductType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a tenant is in the install lifecycle (the last lifecycle event stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantState {
    /// `installed` received; Atlassian normally sends `enabled` right after.
    Installed,
    /// `enabled` received: events are processed.
    Enabled,
    /// `disabled` received: events are ignored until `enabled`.
    Disabled,
    /// `uninstalled` received: events are ignored; data is kept until a retention period ends.
    Uninstalled,
}

impl TenantState {
    /// The database spelling: `installed`, `enabled`, `disabled` or `uninstalled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::Uninstalled => "uninstalled",
        }
    }

    /// Parses the database spelling.
    pub fn parse(raw: &str) -> Result<Self, TenantError> {
        match raw {
            "installed" => Ok(Self::Installed),
            "enabled" => Ok(Self::Enabled),
            "disabled" => Ok(Self::Disabled),
            "uninstalled" => Ok(Self::Uninstalled),
            other => Err(TenantError::UnknownState(other.to_owned())),
        }
    }
}

impl fmt::Display for TenantState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two ways hookline talks to a product: Atlassian Connect or Forge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Connect JWTs (HS256, the tenant's sharedSecret) to the site's baseUrl.
    Connect,
    /// The app system token to the installation's apiBaseUrl.
    Forge,
}

impl Protocol {
    /// `connect` or `forge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Forge => "forge",
        }
    }

    /// Parses `connect` or `forge`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "connect" => Ok(Self::Connect),
            "forge" => Ok(Self::Forge),
            other => Err(format!("{other:?} is neither connect nor forge")),
        }
    }
}

/// An installed site as the rest of hookline sees it, with its secrets decrypted.
///
/// A tenant is known by its Connect identity (`clientKey`, `sharedSecret`), its Forge
/// installation, or both (a Connect app on Forge): one record, one set of rules and one
/// ledger, partitioned by `client_key` (for a tenant known only through Forge, a key of its
/// own, `forge:{cloudId}:{product}`).
///
/// `Debug` is safe to log: [`SharedSecret`] and the system token redact themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The site's `clientKey`: the key every row of the tenant is partitioned by.
    pub client_key: ClientKey,
    /// Our app's key as the site installed it.
    pub app_key: String,
    /// Key of the site's HS256 tokens and of the tokens we send it; none for a tenant known
    /// only through Forge.
    pub shared_secret: Option<SharedSecret>,
    /// The site's Forge installation, once it called.
    pub forge: Option<ForgeIdentity>,
    /// How to call a tenant with both identities; `None`: the default (see
    /// [`Tenant::calls_with`]).
    pub calls_with: Option<Protocol>,
    /// The site's base URL; Connect calls go only here (a Forge-only tenant: its apiBaseUrl).
    pub base_url: String,
    /// The URL users see, if the product sent one.
    pub display_url: Option<String>,
    /// Jira or Confluence.
    pub product_type: ProductType,
    /// Free-form description sent by the product.
    pub description: Option<String>,
    /// OAuth client id used to act as a user (docs/protocol.md §6).
    pub oauth_client_id: Option<String>,
    /// Installation id of the app on the site.
    pub installation_id: Option<String>,
    /// Marketplace entitlement number.
    pub service_entitlement_number: Option<String>,
    /// Product server version.
    pub server_version: Option<String>,
    /// Connect plugins version.
    pub plugins_version: Option<String>,
    /// Lifecycle state.
    pub state: TenantState,
    /// When the last install was stored.
    pub installed_at: DateTime<Utc>,
    /// When the last `enabled` was stored.
    pub enabled_at: Option<DateTime<Utc>>,
    /// When the last `disabled` was stored.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When the last `uninstalled` was stored (cleared by a re-install).
    pub uninstalled_at: Option<DateTime<Utc>>,
    /// Since when the tenant is paused (`hookline tenants pause`, the admin pages): its
    /// webhooks are still accepted, and the workers hold its events until it is resumed.
    pub paused_at: Option<DateTime<Utc>>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    /// Whether the tenant's events should be processed: `installed` or `enabled`.
    ///
    /// `installed` counts because Atlassian sends `enabled` right after it, and events may
    /// arrive in between.
    pub fn is_active(&self) -> bool {
        matches!(self.state, TenantState::Installed | TenantState::Enabled)
    }

    /// The path of `base_url` without a trailing `/`: `"/wiki"` for Confluence, `""` for Jira.
    ///
    /// This is the prefix removed from request paths before computing a qsh. An unparsable
    /// `base_url` yields `""`.
    pub fn base_path(&self) -> String {
        url::Url::parse(&self.base_url)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }

    /// Whether the tenant is paused: its events are held, neither acted on nor refused.
    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }

    /// Whether the tenant can be called the Connect way (it has a sharedSecret).
    pub fn has_connect(&self) -> bool {
        self.shared_secret.is_some()
    }

    /// How the worker calls the tenant first: as set, else Connect when it has a sharedSecret
    /// (the way it was called before it had a Forge installation), else Forge. The other way
    /// is the fallback when this one cannot be used.
    pub fn calls_with(&self) -> Protocol {
        self.calls_with.unwrap_or(if self.has_connect() {
            Protocol::Connect
        } else {
            Protocol::Forge
        })
    }

    /// The URL and `Authorization` value of a call from the app to this tenant's product,
    /// signed as the app key the site installed (`iss`): `path` (with its query) is relative to
    /// the baseUrl, and the app token's qsh is computed without the baseUrl's path (`/wiki` for
    /// Confluence).
    pub fn signed_call(
        &self,
        method: &str,
        path: &str,
        now: i64,
    ) -> Result<SignedCall, crate::connect::JwtError> {
        let base_path = self.base_path();
        let request = crate::connect::CanonicalRequest::new(
            method,
            &format!("{base_path}{path}"),
            &base_path,
        );
        let secret = self.shared_secret.as_ref().ok_or_else(|| {
            crate::connect::JwtError::Key("the tenant has no Connect secret".into())
        })?;
        let token = crate::connect::sign::app_token(
            &self.app_key,
            self.client_key.as_str(),
            secret,
            &request,
            now,
        )?;
        Ok(SignedCall {
            url: format!("{}{path}", self.base_url.trim_end_matches('/')),
            authorization: format!("JWT {token}"),
        })
    }
}

/// A call to a tenant's product, ready to send (see [`Tenant::signed_call`]).
#[derive(Debug, Clone)]
pub struct SignedCall {
    /// The absolute URL under the tenant's baseUrl.
    pub url: String,
    /// `JWT <token>` for the `Authorization` header.
    pub authorization: String,
}

impl HasSharedSecret for Tenant {
    fn shared_secret(&self) -> Option<&SharedSecret> {
        self.shared_secret.as_ref()
    }
}

/// A tenant's Forge installation, as its last verified call described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeIdentity {
    /// The installation (changes on reinstall).
    pub installation_id: InstallationId,
    /// The site (stable).
    pub cloud_id: CloudId,
    /// Where product REST calls go.
    pub api_base_url: String,
    /// The freshest app system token the installation delivered.
    pub token: Option<SystemToken>,
    /// When the installation first called: its first product calls may meet permissions
    /// that are not granted yet.
    pub installed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(base_url: &str, state: TenantState) -> Tenant {
        Tenant {
            client_key: ClientKey::parse("ck").unwrap(),
            app_key: "app".into(),
            shared_secret: Some(SharedSecret::new("s")),
            forge: None,
            calls_with: None,
            base_url: base_url.into(),
            display_url: None,
            product_type: ProductType::Confluence,
            description: None,
            oauth_client_id: None,
            installation_id: None,
            service_entitlement_number: None,
            server_version: None,
            plugins_version: None,
            state,
            installed_at: Utc::now(),
            enabled_at: None,
            disabled_at: None,
            uninstalled_at: None,
            paused_at: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn client_keys_are_kept_exactly_but_must_be_sane() {
        assert_eq!(ClientKey::parse(" a b ").unwrap().as_str(), " a b ");
        assert!(ClientKey::parse("").is_err());
        assert!(ClientKey::parse("a\nb").is_err());
        assert!(ClientKey::parse(&"x".repeat(256)).is_err());
        assert!(ClientKey::parse(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn products_and_states_round_trip_through_their_spelling() {
        for p in [ProductType::Jira, ProductType::Confluence] {
            assert_eq!(ProductType::parse(p.as_str()).unwrap(), p);
        }
        use TenantState::*;
        for s in [Installed, Enabled, Disabled, Uninstalled] {
            assert_eq!(TenantState::parse(s.as_str()).unwrap(), s);
        }
        assert!(ProductType::parse("bitbucket").is_err());
        assert_eq!(
            serde_json::to_string(&ProductType::Jira).unwrap(),
            "\"jira\""
        );
        let ck = ClientKey::parse("ck-1").unwrap();
        assert_eq!(serde_json::to_string(&ck).unwrap(), "\"ck-1\"");
        assert!(TenantState::parse("INSTALLED").is_err());
    }

    #[test]
    fn the_base_path_is_the_url_path_without_trailing_slash() {
        let t = |url| tenant(url, TenantState::Enabled).base_path();
        assert_eq!(t("https://x.atlassian.net/wiki"), "/wiki");
        assert_eq!(t("https://x.atlassian.net/wiki/"), "/wiki");
        assert_eq!(t("https://x.atlassian.net"), "");
        assert_eq!(t("not a url"), "");
    }

    #[test]
    fn installed_and_enabled_tenants_are_active() {
        use TenantState::*;
        let active = |s| tenant("https://x.atlassian.net", s).is_active();
        assert!(active(Installed) && active(Enabled));
        assert!(!active(Disabled) && !active(Uninstalled));
    }
}

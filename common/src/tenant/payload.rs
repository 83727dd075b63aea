//! The body of the `installed`, `uninstalled`, `enabled` and `disabled` lifecycle callbacks.
use serde::Deserialize;

use super::{ClientKey, ProductType};
use crate::connect::SharedSecret;

/// A lifecycle callback body (docs/protocol.md §1). Unknown fields are accepted and ignored.
///
/// `Debug` is safe to log: the secret is redacted.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallPayload {
    /// Our app's key.
    pub key: String,
    /// The site's `clientKey`.
    pub client_key: ClientKey,
    /// The site's new `sharedSecret`; sent with `installed`, possibly absent otherwise.
    pub shared_secret: Option<SharedSecret>,
    /// The site's base URL (Confluence ends with `/wiki`).
    pub base_url: String,
    /// The URL users see.
    pub display_url: Option<String>,
    /// `jira` or `confluence`.
    pub product_type: ProductType,
    /// Free-form description.
    pub description: Option<String>,
    /// `installed`, `uninstalled`, `enabled` or `disabled`.
    pub event_type: String,
    /// OAuth client id used to act as a user.
    pub oauth_client_id: Option<String>,
    /// Installation id of the app on the site.
    pub installation_id: Option<String>,
    /// Marketplace entitlement number.
    pub service_entitlement_number: Option<String>,
    /// Product server version.
    pub server_version: Option<String>,
    /// Connect plugins version.
    pub plugins_version: Option<String>,
    /// Public key sent by older products.
    pub public_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTALLED: &str = r#"{
        "key": "hookline", "clientKey": "ck-1", "sharedSecret": "s3cret-value",
        "baseUrl": "https://x.atlassian.net/wiki", "displayUrl": "https://x.atlassian.net/wiki",
        "productType": "confluence", "description": "Atlassian Confluence",
        "eventType": "installed", "serverVersion": "6452", "pluginsVersion": "1001.0.0",
        "oauthClientId": "oauth-1", "serviceEntitlementNumber": "SEN-1",
        "installationId": "ari:cloud:ecosystem::installation/1", "somethingNew": {"x": 1}
    }"#;

    #[test]
    fn an_installed_body_parses_with_unknown_fields() {
        let p: InstallPayload = serde_json::from_str(INSTALLED).unwrap();
        assert_eq!(p.client_key.as_str(), "ck-1");
        assert_eq!(p.product_type, ProductType::Confluence);
        assert_eq!(p.shared_secret.unwrap().expose(), "s3cret-value");
        assert_eq!(p.oauth_client_id.as_deref(), Some("oauth-1"));
        assert_eq!(p.public_key, None);
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let p: InstallPayload = serde_json::from_str(INSTALLED).unwrap();
        assert!(!format!("{p:?}").contains("s3cret-value"));
    }

    #[test]
    fn a_minimal_uninstalled_body_parses_without_a_secret() {
        let body = r#"{"key":"a","clientKey":"ck","baseUrl":"https://x.atlassian.net",
            "productType":"jira","eventType":"uninstalled"}"#;
        let p: InstallPayload = serde_json::from_str(body).unwrap();
        assert!(p.shared_secret.is_none());
    }

    #[test]
    fn an_empty_client_key_or_unknown_product_is_rejected() {
        let body = |ck: &str, product: &str| {
            format!(
                r#"{{"key":"a","clientKey":"{ck}","baseUrl":"https://x","productType":"{product}","eventType":"installed"}}"#
            )
        };
        assert!(serde_json::from_str::<InstallPayload>(&body("", "jira")).is_err());
        assert!(serde_json::from_str::<InstallPayload>(&body("ck", "bitbucket")).is_err());
    }
}

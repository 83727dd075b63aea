//! Tenants and the webhooks they send, signed before the clock starts so the load generator
//! only writes bytes.
use anyhow::Context;
use common::connect::sign::product_token;
use common::connect::{CanonicalRequest, SharedSecret};
use common::tenant::InstallPayload;
use hyper::header::HeaderValue;
use serde_json::json;

/// How long a pre-signed token stays valid, from its `iat`.
const TOKEN_TTL_SECS: i64 = 900;
/// `iat` goes back at most this far, so every token outlives a run of five minutes.
const MAX_BACKDATE_SECS: usize = 600;

/// One benchmark tenant: a Jira site with its own shared secret.
#[derive(Debug, Clone)]
pub struct BenchTenant {
    /// The site's clientKey.
    pub client_key: String,
    /// The secret it signs webhooks with.
    pub secret: SharedSecret,
}

impl BenchTenant {
    /// Tenant `n` of a run: `https://tenant-{n}.atlassian.net` with a random secret.
    pub fn numbered(n: usize) -> Self {
        Self {
            client_key: format!("tenant-{n}"),
            secret: SharedSecret::new(format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4())),
        }
    }

    /// The `installed` callback Jira would send for this tenant.
    pub fn install_payload(&self) -> anyhow::Result<InstallPayload> {
        serde_json::from_value(self.install_json())
            .with_context(|| format!("building the install payload of {}", self.client_key))
    }

    /// That callback's JSON body, as any Connect framework stores it.
    pub fn install_json(&self) -> serde_json::Value {
        let base_url = format!("https://{}.atlassian.net", self.client_key);
        json!({
            "key": "hookline",
            "clientKey": self.client_key,
            "sharedSecret": self.secret.expose(),
            "baseUrl": base_url,
            "displayUrl": base_url,
            "productType": "jira",
            "description": "Atlassian JIRA at ".to_owned() + &base_url,
            "eventType": "installed",
            "serverVersion": "100254",
            "pluginsVersion": "1001.0.0-SNAPSHOT"
        })
    }
}

/// The per-request headers of one webhook: its token and its delivery id.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// `JWT <token>`.
    pub authorization: HeaderValue,
    /// `X-Atlassian-Webhook-Identifier`, unique within the run.
    pub webhook_id: HeaderValue,
    /// `x-forge-oauth-system`: the app system token a Forge call brings.
    pub system_token: Option<HeaderValue>,
}

/// `count` webhooks for `path`, from the tenants in turn, each with its own token and id.
///
/// Tokens of one tenant differ by their `iat`, one second apart going back from `now` (as
/// if Jira had signed them over the last minutes); ids are `{run}-{index}`.
pub fn sign_webhooks(
    tenants: &[BenchTenant],
    count: usize,
    path: &str,
    run: &str,
    now: i64,
) -> anyhow::Result<Vec<SignedWebhook>> {
    anyhow::ensure!(!tenants.is_empty(), "at least one tenant is needed");
    let request = CanonicalRequest::new("POST", path, "");
    (0..count)
        .map(|index| {
            let tenant = &tenants[index % tenants.len()];
            let issued_at = issued_at(now, index / tenants.len());
            let token = product_token(
                &tenant.client_key,
                &tenant.secret,
                &request,
                issued_at,
                TOKEN_TTL_SECS,
            )
            .with_context(|| format!("signing a token of {}", tenant.client_key))?;
            Ok(SignedWebhook {
                authorization: HeaderValue::try_from(format!("JWT {token}"))?,
                webhook_id: HeaderValue::try_from(format!("{run}-{index}"))?,
                system_token: None,
            })
        })
        .collect()
}

/// The `iat` of a tenant's `round`-th token.
fn issued_at(now: i64, round: usize) -> i64 {
    now - (round % MAX_BACKDATE_SECS) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::connect::{QshRule, Verifier};
    use std::collections::HashSet;

    #[test]
    fn every_webhook_has_its_own_token_and_id() {
        let tenants: Vec<_> = (0..3).map(BenchTenant::numbered).collect();
        let signed = sign_webhooks(&tenants, 30, "/webhooks/jira/x", "run", 1_800_000_000).unwrap();
        let tokens: HashSet<_> = signed.iter().map(|s| s.authorization.clone()).collect();
        let ids: HashSet<_> = signed.iter().map(|s| s.webhook_id.clone()).collect();
        assert_eq!((tokens.len(), ids.len()), (30, 30));
    }

    #[test]
    fn backdated_tokens_still_outlive_a_long_run() {
        let now = 1_800_000_000;
        for round in [0, 1, 599, 600, 10_000] {
            let iat = issued_at(now, round);
            assert!(
                iat <= now && iat + TOKEN_TTL_SECS >= now + 300,
                "round {round}"
            );
        }
    }

    #[tokio::test]
    async fn tokens_verify_for_the_request_they_were_signed_for() {
        struct One(BenchTenant);
        impl common::connect::TenantLookup for One {
            type Tenant = Holder;
            type Error = std::convert::Infallible;
            async fn find_tenant(&self, _: &str) -> Result<Option<Holder>, Self::Error> {
                Ok(Some(Holder(self.0.secret.clone())))
            }
        }
        struct Holder(SharedSecret);
        impl common::connect::HasSharedSecret for Holder {
            fn shared_secret(&self) -> Option<&SharedSecret> {
                Some(&self.0)
            }
        }
        let tenant = BenchTenant::numbered(7);
        let now = chrono::Utc::now().timestamp();
        let path = "/webhooks/jira/jira:issue_created";
        let signed = sign_webhooks(std::slice::from_ref(&tenant), 2, path, "r", now).unwrap();
        let token = signed[1]
            .authorization
            .to_str()
            .unwrap()
            .strip_prefix("JWT ")
            .unwrap();
        let request = CanonicalRequest::new("POST", path, "");
        let verified = Verifier::new(30)
            .verify(token, &request, QshRule::Request, &One(tenant))
            .await
            .unwrap();
        assert_eq!(verified.claims.iss.as_deref(), Some("tenant-7"));
    }

    #[test]
    fn the_install_payload_names_the_tenants_site() {
        let payload = BenchTenant::numbered(3).install_payload().unwrap();
        assert_eq!(payload.base_url, "https://tenant-3.atlassian.net");
        assert_eq!(payload.client_key.as_str(), "tenant-3");
    }
}

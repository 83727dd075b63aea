//! Whether a user may change a tenant's rules: a site administrator, as the product itself says.
//!
//! **Connect** tenants are asked with the app's JWT (as the worker signs its calls): Jira
//! answers `POST /rest/api/3/permissions/check` for the global `ADMINISTER` permission;
//! Confluence lists the user's groups (`GET /rest/api/user/memberof`), and members of
//! `site-admins`, `confluence-admins` or `administrators` are admins.
//!
//! **Forge** installations are asked at the verified invocation token's `apiBaseUrl` with a
//! bearer token ([`AdminCheck::is_forge_admin`]): with the user's own token
//! (`x-forge-oauth-user`), Jira answers `GET /rest/api/3/mypermissions?permissions=ADMINISTER`
//! about that user; with the app system token, the same accountId questions as for Connect.
//! Confluence has no "my permissions" call, so either token asks for the user's groups.
//!
//! Verdicts are cached per (clientKey, accountId) for a minute, so a page full of clicks costs
//! one call; failures are never cached.
use std::time::Duration;

use common::base_url::BaseUrlPolicy;
use common::tenant::{ClientKey, ProductType, Tenant};
use moka::future::Cache;
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

/// How long a verdict is trusted: a user demoted in the product loses rights within it.
pub const VERDICT_TTL: Duration = Duration::from_secs(60);
/// Confluence groups whose members administer the site.
pub const CONFLUENCE_ADMIN_GROUPS: [&str; 3] =
    ["site-admins", "confluence-admins", "administrators"];
/// The Jira global permission of administrators.
pub const JIRA_ADMIN_PERMISSION: &str = "ADMINISTER";

/// The bearer token a Forge admin check is sent with.
#[derive(Clone, Copy)]
pub enum ForgeCredential<'a> {
    /// The user's own token (`x-forge-oauth-user`): the product answers about its holder.
    User(&'a str),
    /// The app system token: the product is asked about the accountId.
    System(&'a str),
}

/// One Forge admin question: is `account_id` an admin of the installation's site?
pub struct ForgeAsk<'a> {
    /// The installation's tenant (the verdict cache's key, with the user).
    pub client_key: &'a ClientKey,
    /// Jira or Confluence.
    pub product: ProductType,
    /// The verified invocation token's `apiBaseUrl` (its host already allowed).
    pub api_base_url: &'a str,
    /// The invocation token's `principal`.
    pub account_id: &'a str,
    /// How to ask.
    pub credential: ForgeCredential<'a>,
}

/// Why a verdict could not be had (the caller answers 503: the user may be an admin).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminCheckError {
    /// The tenant's `baseUrl` is not in the allow-list (any more).
    #[error("the site's baseUrl is not allowed: {0}")]
    BaseUrl(String),
    /// The app token could not be signed.
    #[error("the admin check could not be signed: {0}")]
    Sign(String),
    /// The product did not answer.
    #[error("the product could not be reached for the admin check")]
    Unreachable,
    /// The product answered with an error status.
    #[error("the product answered {0} to the admin check")]
    Status(u16),
}

/// Asks products who their administrators are; cheap to clone.
#[derive(Clone)]
pub struct AdminCheck {
    http: reqwest::Client,
    base_urls: BaseUrlPolicy,
    verdicts: Cache<(String, String), bool>,
}

impl AdminCheck {
    /// A checker calling only `baseUrl`s allowed by `base_urls`, signing as the app key each
    /// site installed.
    pub fn new(
        base_urls: BaseUrlPolicy,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            // A redirect would leave the tenant's baseUrl and drop the qsh binding.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base_urls,
            verdicts: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(VERDICT_TTL)
                .build(),
        })
    }

    /// Whether `account_id` administers `tenant`'s site (cached per tenant and user).
    pub async fn is_admin(
        &self,
        tenant: &Tenant,
        account_id: &str,
    ) -> Result<bool, AdminCheckError> {
        let key = (tenant.client_key.as_str().to_owned(), account_id.to_owned());
        self.verdicts
            .try_get_with(key, self.ask(tenant, account_id))
            .await
            .map_err(|error| (*error).clone())
    }

    /// Whether the user of a Forge UI call administers its installation's site (cached per
    /// tenant and user, like [`AdminCheck::is_admin`]).
    pub async fn is_forge_admin(&self, ask: &ForgeAsk<'_>) -> Result<bool, AdminCheckError> {
        let key = (
            ask.client_key.as_str().to_owned(),
            ask.account_id.to_owned(),
        );
        self.verdicts
            .try_get_with(key, self.ask_forge(ask))
            .await
            .map_err(|error| (*error).clone())
    }

    #[tracing::instrument(name = "admin_check_forge", skip_all, fields(client_key = %ask.client_key, product = %ask.product))]
    async fn ask_forge(&self, ask: &ForgeAsk<'_>) -> Result<bool, AdminCheckError> {
        let base = ask.api_base_url.trim_end_matches('/');
        let account = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("accountId", ask.account_id)
            .finish();
        let verdict = match (ask.product, ask.credential) {
            (ProductType::Jira, ForgeCredential::User(token)) => {
                let url =
                    format!("{base}/rest/api/3/mypermissions?permissions={JIRA_ADMIN_PERMISSION}");
                let answer = self
                    .send(self.http.get(url).bearer_auth(token), None)
                    .await?;
                jira_my_permissions_grant_admin(&answer)
            }
            (ProductType::Jira, ForgeCredential::System(token)) => {
                let url = format!("{base}/rest/api/3/permissions/check");
                let body = json!({ "accountId": ask.account_id, "globalPermissions": [JIRA_ADMIN_PERMISSION] });
                let request = self.http.post(url).bearer_auth(token);
                jira_grants_admin(&self.send(request, Some(&body)).await?)
            }
            (
                ProductType::Confluence,
                ForgeCredential::User(token) | ForgeCredential::System(token),
            ) => {
                let url = format!("{base}/wiki/rest/api/user/memberof?{account}");
                let answer = self
                    .send(self.http.get(url).bearer_auth(token), None)
                    .await?;
                confluence_groups_grant_admin(&answer)
            }
        };
        let credential = match ask.credential {
            ForgeCredential::User(_) => "user",
            ForgeCredential::System(_) => "system",
        };
        tracing::info!(admin = verdict, credential, "admin check answered");
        Ok(verdict)
    }

    #[tracing::instrument(name = "admin_check", skip_all, fields(client_key = %tenant.client_key, product = %tenant.product_type))]
    async fn ask(&self, tenant: &Tenant, account_id: &str) -> Result<bool, AdminCheckError> {
        let verdict = match tenant.product_type {
            ProductType::Jira => {
                let body = json!({ "accountId": account_id, "globalPermissions": [JIRA_ADMIN_PERMISSION] });
                let answer = self
                    .call(
                        tenant,
                        Method::POST,
                        "/rest/api/3/permissions/check",
                        Some(&body),
                    )
                    .await?;
                jira_grants_admin(&answer)
            }
            ProductType::Confluence => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("accountId", account_id)
                    .finish();
                let path = format!("/rest/api/user/memberof?{query}");
                let answer = self.call(tenant, Method::GET, &path, None).await?;
                confluence_groups_grant_admin(&answer)
            }
        };
        tracing::info!(admin = verdict, "admin check answered");
        Ok(verdict)
    }

    /// Sends one signed request to the tenant's product (`path` relative to its baseUrl).
    async fn call(
        &self,
        tenant: &Tenant,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, AdminCheckError> {
        self.base_urls
            .check(&tenant.base_url)
            .map_err(|error| AdminCheckError::BaseUrl(error.to_string()))?;
        let call = tenant
            .signed_call(method.as_str(), path, chrono::Utc::now().timestamp())
            .map_err(|error| AdminCheckError::Sign(error.to_string()))?;
        let request = self
            .http
            .request(method, call.url)
            .header(AUTHORIZATION, call.authorization);
        self.send(request, body).await
    }

    /// Sends one authorised request; the answer's JSON (`Null` when unreadable).
    async fn send(
        &self,
        mut request: RequestBuilder,
        body: Option<&Value>,
    ) -> Result<Value, AdminCheckError> {
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            tracing::warn!(error = %error, "admin check: the product is unreachable");
            AdminCheckError::Unreachable
        })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), "admin check: the product refused");
            return Err(AdminCheckError::Status(status.as_u16()));
        }
        // An unreadable answer grants nothing.
        Ok(response.json().await.unwrap_or(Value::Null))
    }
}

/// Jira's answer lists the requested global permissions the user holds.
fn jira_grants_admin(answer: &Value) -> bool {
    answer["globalPermissions"]
        .as_array()
        .is_some_and(|granted| granted.iter().any(|p| p == JIRA_ADMIN_PERMISSION))
}

/// Jira's `mypermissions` answer says of each asked permission whether the user has it.
fn jira_my_permissions_grant_admin(answer: &Value) -> bool {
    answer["permissions"][JIRA_ADMIN_PERMISSION]["havePermission"] == Value::Bool(true)
}

/// Confluence's answer lists the user's groups under `results`.
fn confluence_groups_grant_admin(answer: &Value) -> bool {
    answer["results"].as_array().is_some_and(|groups| {
        groups.iter().any(|group| {
            group["name"]
                .as_str()
                .is_some_and(|name| CONFLUENCE_ADMIN_GROUPS.contains(&name))
        })
    })
}

impl std::fmt::Debug for AdminCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCheck").finish_non_exhaustive()
    }
}

/// The answer to a rule change (or a pause) from the product's verdict: nothing for a site admin, 403
/// `not_admin` for anyone else, 503 `admin_check_failed` when the product could not say.
pub(crate) fn require(
    verdict: Result<bool, AdminCheckError>,
) -> Result<(), crate::errors::ApiError> {
    match verdict {
        Ok(true) => Ok(()),
        Ok(false) => Err(crate::errors::ApiError::forbidden(
            "not_admin",
            "only site admins may change rules or pause hookline",
        )),
        Err(error) => {
            tracing::warn!(error = %error, "the admin check failed");
            Err(check_failed())
        }
    }
}

/// 503 `admin_check_failed`: the product could not confirm the user is a site admin.
pub(crate) fn check_failed() -> crate::errors::ApiError {
    crate::errors::ApiError::unavailable(
        "admin_check_failed",
        "could not confirm with the product that you are a site admin; retry later",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_granted_administer_permission_makes_a_jira_admin() {
        assert!(jira_grants_admin(
            &json!({"globalPermissions": ["ADMINISTER"], "projectPermissions": []})
        ));
        assert!(!jira_grants_admin(&json!({"globalPermissions": []})));
        assert!(!jira_grants_admin(
            &json!({"globalPermissions": ["SYSTEM_ADMIN_X"]})
        ));
        assert!(!jira_grants_admin(&Value::Null));
    }

    #[test]
    fn only_a_held_administer_permission_in_mypermissions_makes_a_jira_admin() {
        let answer = |have: Value| json!({"permissions": {"ADMINISTER": {"key": "ADMINISTER", "type": "GLOBAL", "havePermission": have}}});
        assert!(jira_my_permissions_grant_admin(&answer(json!(true))));
        assert!(!jira_my_permissions_grant_admin(&answer(json!(false))));
        assert!(!jira_my_permissions_grant_admin(&answer(json!("true"))));
        assert!(!jira_my_permissions_grant_admin(
            &json!({"permissions": {}})
        ));
        assert!(!jira_my_permissions_grant_admin(&Value::Null));
    }

    #[test]
    fn membership_of_an_admin_group_makes_a_confluence_admin() {
        let groups = |names: &[&str]| json!({"results": names.iter().map(|n| json!({"type": "group", "name": n})).collect::<Vec<_>>()});
        assert!(confluence_groups_grant_admin(&groups(&[
            "confluence-users",
            "site-admins"
        ])));
        assert!(confluence_groups_grant_admin(&groups(&["administrators"])));
        assert!(!confluence_groups_grant_admin(&groups(&[
            "confluence-users",
            "site-admins-x"
        ])));
        assert!(!confluence_groups_grant_admin(
            &json!({"results": "site-admins"})
        ));
    }
}

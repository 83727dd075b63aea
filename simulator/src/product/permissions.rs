//! Who administers a simulated site: the endpoints the ingress asks before a user may change
//! rules. Jira: `POST /rest/api/3/permissions/check` (global permissions held, among those
//! asked). Confluence: `GET /wiki/rest/api/user/memberof?accountId=` (the user's groups; site
//! admins are in `site-admins`). Nobody is an admin until [`ProductSim::set_admins`] says so.
use common::tenant::ProductType;
use serde_json::{json, Value};
use warp::reply::Response;

use super::faults::Endpoint;
use super::reply::{self, confluence_error, error};
use super::state::Tenant;
use super::ProductSim;

/// What every user of a simulated Jira site holds.
const JIRA_USER_PERMISSIONS: [&str; 2] = ["USER_PICKER", "CREATE_SHARED_OBJECTS"];
/// What a simulated Jira admin holds besides.
const JIRA_ADMIN_PERMISSIONS: [&str; 1] = ["ADMINISTER"];

/// An admin-check endpoint.
#[derive(Debug)]
pub(crate) enum Route {
    JiraPermissionsCheck,
    ConfluenceMemberOf,
}

impl Route {
    /// Recognises `method` on `segments` (percent-decoded, `/t/{site}` and `/wiki` removed).
    pub(crate) fn parse(product: ProductType, method: &str, segments: &[&str]) -> Option<Self> {
        match (product, method, segments) {
            (ProductType::Jira, "POST", ["rest", "api", "3" | "2", "permissions", "check"]) => {
                Some(Self::JiraPermissionsCheck)
            }
            (ProductType::Confluence, "GET", ["rest", "api", "user", "memberof"]) => {
                Some(Self::ConfluenceMemberOf)
            }
            _ => None,
        }
    }

    /// The fault family of these endpoints.
    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint::Admin
    }

    /// Handles a verified request.
    pub(crate) fn handle(self, tenant: &mut Tenant, query: &str, body: &[u8]) -> Response {
        match self {
            Self::JiraPermissionsCheck => permissions_check(tenant, body),
            Self::ConfluenceMemberOf => member_of(tenant, query),
        }
    }
}

fn permissions_check(tenant: &Tenant, body: &[u8]) -> Response {
    let request = match reply::parse_body(body) {
        Ok(request) => request,
        Err(message) => return error(400, &message),
    };
    let Some(account_id) = request["accountId"].as_str().filter(|id| !id.is_empty()) else {
        return error(400, "Specify an accountId.");
    };
    let admin = tenant.admins.contains(account_id);
    let held = |permission: &str| {
        JIRA_USER_PERMISSIONS.contains(&permission)
            || (admin && JIRA_ADMIN_PERMISSIONS.contains(&permission))
    };
    let granted: Vec<&str> = request["globalPermissions"]
        .as_array()
        .map(|asked| {
            asked
                .iter()
                .filter_map(Value::as_str)
                .filter(|p| held(p))
                .collect()
        })
        .unwrap_or_default();
    reply::json(
        200,
        &json!({ "globalPermissions": granted, "projectPermissions": [] }),
    )
}

fn member_of(tenant: &Tenant, query: &str) -> Response {
    let account_id = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "accountId")
        .map(|(_, value)| value.into_owned())
        .filter(|id| !id.is_empty());
    let Some(account_id) = account_id else {
        return confluence_error(400, "accountId is required.");
    };
    let mut groups = vec!["confluence-users"];
    if tenant.admins.contains(&account_id) {
        groups.push("site-admins");
    }
    let results: Vec<Value> = groups
        .iter()
        .map(|name| json!({ "type": "group", "name": name, "id": format!("group-{name}") }))
        .collect();
    let size = results.len();
    reply::json(
        200,
        &json!({ "results": results, "start": 0, "limit": 200, "size": size, "_links": {} }),
    )
}

impl ProductSim {
    /// Makes exactly `account_ids` the site admins of a tenant (Jira: global `ADMINISTER`;
    /// Confluence: members of `site-admins`). By default a site has no admins.
    ///
    /// # Panics
    /// If no tenant was added with `client_key`.
    pub fn set_admins(&self, client_key: &str, account_ids: &[&str]) {
        let mut state = self.state.lock();
        let tenant = state
            .by_client_key(client_key)
            .unwrap_or_else(|| panic!("no simulated tenant has the clientKey {client_key}"));
        tenant.admins = account_ids.iter().map(|id| (*id).to_owned()).collect();
    }
}

//! Where a request to the product goes and whether its credentials pass: `/t/{site}/...` is a
//! Connect site (a Connect JWT with the tenant's secret and the request's qsh),
//! `/ex/{product}/{cloudId}/...` a Forge site (a bearer token issued for it).
use common::tenant::ProductType;
use warp::reply::Response;

use super::handler::Incoming;
use super::state::Shared;
use super::{auth, bearer, reply};

/// Where a request goes: the tenant's site, the path relative to it, and how it is
/// authenticated.
pub(crate) struct Address {
    pub site: String,
    /// The path after `/t/{site}/` or `/ex/{product}/{cloudId}/` (Confluence: `wiki/...`).
    pub relative: String,
    pub product: ProductType,
    pub client_key: String,
    pub scheme: Scheme,
}

pub(crate) enum Scheme {
    /// `/t/{site}/...`: a Connect JWT with the tenant's secret and the request's qsh.
    Connect(auth::Credentials),
    /// `/ex/{product}/{cloudId}/...`: a bearer token issued for the Forge site.
    Forge,
}

/// A refused request: the code of the failed check and the answer.
pub(crate) struct Refusal {
    pub code: String,
    pub response: Response,
}

/// Resolves `/t/{site}/...` (Connect sites only) or `/ex/{product}/{cloudId}/...` (Forge
/// sites only).
pub(crate) fn resolve(state: &Shared, path: &str) -> Option<Address> {
    let split = |rest: &'_ str| -> (String, String) {
        let (first, rest) = rest.split_once('/').unwrap_or((rest, ""));
        (first.to_owned(), rest.to_owned())
    };
    let mut state = state.lock();
    let (site, relative, scheme) = if let Some(rest) = path.strip_prefix("/t/") {
        let (site, relative) = split(rest);
        let tenant = state.by_site(&site).filter(|t| t.forge.is_none())?;
        let credentials = tenant.credentials();
        (site, relative, Scheme::Connect(credentials))
    } else {
        let (product, rest) = split(path.strip_prefix("/ex/")?);
        let product = ProductType::parse(&product).ok()?;
        let (cloud_id, relative) = split(&rest);
        (
            state.forge_site(product, &cloud_id)?,
            relative,
            Scheme::Forge,
        )
    };
    let tenant = state.by_site(&site)?;
    Some(Address {
        product: tenant.product,
        client_key: tenant.client_key.clone(),
        site,
        relative,
        scheme,
    })
}

/// Checks the request's credentials for its address.
pub(crate) fn verify(
    state: &Shared,
    address: &Address,
    incoming: &Incoming,
) -> Result<(), Box<Refusal>> {
    let authorization = incoming.authorization.as_deref();
    match &address.scheme {
        Scheme::Connect(credentials) => {
            let target = match incoming.query.as_str() {
                "" => incoming.path.clone(),
                query => format!("{}?{query}", incoming.path),
            };
            let verdict = auth::verify(credentials, &incoming.method, &target, authorization);
            verdict.map_err(|error| {
                Box::new(Refusal {
                    code: error.code().to_owned(),
                    response: auth::unauthorized(&error),
                })
            })
        }
        Scheme::Forge => {
            let now = chrono::Utc::now().timestamp();
            let verdict = state
                .lock()
                .by_site(&address.site)
                .and_then(|tenant| tenant.forge.as_ref())
                .map(|forge| forge.verify(authorization, now));
            match verdict {
                Some(Ok(())) => Ok(()),
                Some(Err(error)) => Err(Box::new(Refusal {
                    code: error.code().to_owned(),
                    response: bearer::unauthorized(error),
                })),
                None => Err(Box::new(Refusal {
                    code: "unknown_site".to_owned(),
                    response: reply::error(404, "No site is registered at this address."),
                })),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forge_site_is_reached_only_at_its_api_base() {
        let state = Shared::default();
        let site = state
            .lock()
            .upsert_forge("forge:jira:acme", ProductType::Jira, "cloud-1");
        let forge = resolve(&state, "/ex/jira/cloud-1/rest/api/2/issue/KAN-1/comment");
        let forge = forge.expect("the API base resolves");
        assert_eq!(forge.relative, "rest/api/2/issue/KAN-1/comment");
        assert!(matches!(forge.scheme, Scheme::Forge));
        assert_eq!(forge.client_key, "forge:jira:acme");
        for path in [
            format!("/t/{site}/rest/api/2/issue/KAN-1/comment"),
            "/ex/confluence/cloud-1/wiki/api/v2/footer-comments".to_owned(),
            "/ex/jira/cloud-2/rest/api/2/issue/KAN-1/comment".to_owned(),
            "/ex/bitbucket/cloud-1/rest".to_owned(),
        ] {
            assert!(resolve(&state, &path).is_none(), "{path}");
        }
    }
}

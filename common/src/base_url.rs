//! Which tenant `baseUrl`s are acceptable: outbound calls only ever go to a tenant's own
//! `baseUrl`, so a forged install must not be able to aim them at internal addresses.
use thiserror::Error;
use url::{Host, Url};

/// Why a `baseUrl` was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BaseUrlError {
    /// Not an absolute URL.
    #[error("the baseUrl is not an absolute URL")]
    NotAUrl,
    /// Not https (plain http only for explicitly allowed loopback hosts).
    #[error("the baseUrl must use https")]
    NotHttps,
    /// Carries a user name or password.
    #[error("the baseUrl must not carry credentials")]
    Credentials,
    /// Has a query, a fragment, or spaces or control characters around it: calls append their
    /// path to the baseUrl as stored, which would then not land under it.
    #[error("the baseUrl must not have a query, a fragment or surrounding spaces")]
    NotABase,
    /// The host matches no allowed pattern.
    #[error("the baseUrl host {0} is not in the allow-list")]
    HostNotAllowed(String),
}

/// Host patterns: `*.atlassian.net` (any subdomain), `example.com` (exactly), `*` (any host).
#[derive(Debug, Clone)]
pub struct BaseUrlPolicy {
    patterns: Vec<String>,
}

impl BaseUrlPolicy {
    /// A policy allowing hosts that match any of `patterns` (case-insensitive).
    pub fn new(patterns: &[String]) -> Self {
        Self {
            patterns: patterns.iter().map(|p| p.to_ascii_lowercase()).collect(),
        }
    }

    /// Checks `base_url` and returns it parsed.
    pub fn check(&self, base_url: &str) -> Result<Url, BaseUrlError> {
        // The URL parser drops leading and trailing spaces and C0 controls, but a trailing one
        // ends up inside the URL of a call (baseUrl + path), as would the path in a query.
        if base_url.trim_matches(|c: char| c <= ' ') != base_url {
            return Err(BaseUrlError::NotABase);
        }
        let url = Url::parse(base_url).map_err(|_| BaseUrlError::NotAUrl)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BaseUrlError::Credentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::NotABase);
        }
        let host = url.host().ok_or(BaseUrlError::NotAUrl)?;
        let name = host.to_string().to_ascii_lowercase();
        let allowed = self.patterns.iter().any(|pattern| matches(pattern, &name));
        if !allowed {
            return Err(BaseUrlError::HostNotAllowed(name));
        }
        match url.scheme() {
            "https" => Ok(url),
            // The Connect simulator and local development serve plain http on loopback.
            "http" if is_loopback(&host) => Ok(url),
            _ => Err(BaseUrlError::NotHttps),
        }
    }
}

fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == host,
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => *domain == "localhost",
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(patterns: &[&str]) -> BaseUrlPolicy {
        BaseUrlPolicy::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn atlassian_subdomains_are_allowed_by_default_patterns() {
        let policy = policy(&["*.atlassian.net", "*.jira.com"]);
        assert!(policy.check("https://acme.atlassian.net").is_ok());
        assert!(policy.check("https://acme.atlassian.net/wiki").is_ok());
        assert!(policy.check("https://ACME.Jira.com").is_ok());
    }

    #[test]
    fn look_alike_and_internal_hosts_are_refused() {
        let policy = policy(&["*.atlassian.net"]);
        for url in [
            "https://atlassian.net",
            "https://evilatlassian.net",
            "https://atlassian.net.evil.com",
            "https://127.0.0.1",
            "https://169.254.169.254/latest",
            "https://localhost:8080",
        ] {
            assert!(
                matches!(policy.check(url), Err(BaseUrlError::HostNotAllowed(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn plain_http_only_for_allowed_loopback_hosts() {
        assert_eq!(
            policy(&["*.atlassian.net"]).check("http://acme.atlassian.net"),
            Err(BaseUrlError::NotHttps)
        );
        assert!(policy(&["127.0.0.1"])
            .check("http://127.0.0.1:9000/wiki")
            .is_ok());
    }

    #[test]
    fn credentials_and_garbage_are_refused() {
        let policy = policy(&["*"]);
        assert_eq!(
            policy.check("https://user:pw@acme.atlassian.net"),
            Err(BaseUrlError::Credentials)
        );
        assert_eq!(policy.check("not a url"), Err(BaseUrlError::NotAUrl));
    }

    // Found by fuzz/fuzz_targets/lifecycle_payload.rs: calls append their path to the stored
    // baseUrl, so with a query or fragment it lands there instead, and a trailing space (which
    // the URL parser drops at the end) ends up inside the host.
    #[test]
    fn a_base_url_that_a_path_cannot_be_appended_to_is_refused() {
        let policy = policy(&["*.atlassian.net"]);
        for url in [
            "https://acme.atlassian.net?",
            "https://acme.atlassian.net/wiki?x=1",
            "https://acme.atlassian.net#",
            "https://acme.atlassian.net/wiki#/",
            "https://acme.atlassian.net ",
            " https://acme.atlassian.net",
            "https://acme.atlassian.net/wiki\u{1}",
            "https://acme.atlassian.net\n",
        ] {
            assert_eq!(policy.check(url), Err(BaseUrlError::NotABase), "{url:?}");
        }
        assert!(policy.check("https://acme.atlassian.net/wiki/").is_ok());
    }
}

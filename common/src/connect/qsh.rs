//! The canonical request and its query string hash (`qsh`), as in docs/protocol.md §3.
//!
//! Where Atlassian's implementations differ, this follows the Java reference that Jira and
//! Confluence run (and the Python `atlassian-jwt`): query parameters are sorted by their
//! *encoded* name. The npm `atlassian-jwt` sorts by the decoded name, which only differs for
//! names mixing reserved or non-ASCII characters with unreserved ones; the conformance test
//! lists those cases explicitly.
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Everything except the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~` is encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The query parameter that carries the token itself; it is never part of the hash.
const JWT_PARAM: &str = "jwt";

/// `METHOD&canonical_path&canonical_query` for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalRequest(String);

impl CanonicalRequest {
    /// Builds the canonical request from a method, the raw request target as sent on the
    /// wire (`/path?query`, or an absolute URL) and the base path to strip (`""`, `/wiki`).
    pub fn new(method: &str, target: &str, base_path: &str) -> Self {
        let target = strip_scheme_and_authority(target);
        let target = target.split('#').next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self(format!(
            "{}&{}&{}",
            method.to_uppercase(),
            canonical_path(path, base_path),
            canonical_query(query)
        ))
    }

    /// The canonical string, e.g. `GET&/rest/api/2/issue&expand=names`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 hash of this canonical request.
    pub fn qsh(&self) -> Qsh {
        Qsh(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Display for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A query string hash: 64 lower-case hex characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qsh(String);

impl Qsh {
    /// The `qsh` value of context tokens issued to front-end code (not bound to a request).
    pub const CONTEXT: &'static str = "context-qsh";

    /// The qsh of a request (see [`CanonicalRequest::new`] for the arguments).
    pub fn for_request(method: &str, target: &str, base_path: &str) -> Self {
        CanonicalRequest::new(method, target, base_path).qsh()
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a claimed `qsh` equals this one, compared in constant time.
    pub fn matches(&self, claimed: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), claimed.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Display for Qsh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn strip_scheme_and_authority(target: &str) -> &str {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &target[8..]
    } else if lower.starts_with("http://") {
        &target[7..]
    } else {
        return target;
    };
    rest.find(['/', '?', '#']).map_or("", |i| &rest[i..])
}

fn canonical_path(path: &str, base_path: &str) -> String {
    let base_path = base_path.trim_end_matches('/');
    let path = path.strip_prefix(base_path).unwrap_or(path);
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut path = path.replace('&', "%26");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    path
}

fn canonical_query(query: &str) -> String {
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name != JWT_PARAM {
            params
                .entry(encode(&name))
                .or_default()
                .push(value.into_owned());
        }
    }
    params
        .into_iter()
        .map(|(name, mut values)| {
            values.sort_by(|a, b| utf16_order(a, b));
            let values: Vec<String> = values.iter().map(|v| encode(v)).collect();
            format!("{name}={}", values.join(","))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// Java's and JavaScript's string order (UTF-16 code units), which Atlassian's libraries use
/// to sort repeated values.
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_request_has_the_documented_canonical_form() {
        let request = CanonicalRequest::new("get", "/test?param=value", "");
        assert_eq!(request.as_str(), "GET&/test&param=value");
    }

    #[test]
    fn the_base_path_is_stripped_and_the_trailing_slash_removed() {
        let request = CanonicalRequest::new("POST", "/wiki/api/v2/footer-comments/", "/wiki");
        assert_eq!(request.as_str(), "POST&/api/v2/footer-comments&");
    }

    #[test]
    fn an_absolute_url_is_reduced_to_its_request_target() {
        let request = CanonicalRequest::new("GET", "https://x.atlassian.net/wiki?b=2&a=1", "/wiki");
        assert_eq!(request.as_str(), "GET&/&a=1&b=2");
    }

    #[test]
    fn the_jwt_parameter_is_dropped_and_repeated_values_are_joined_sorted() {
        let request = CanonicalRequest::new("GET", "/p?ids=b&jwt=x.y.z&ids=a&flag", "");
        assert_eq!(request.as_str(), "GET&/p&flag=&ids=a,b");
    }

    #[test]
    fn an_ampersand_in_the_path_is_encoded() {
        let request = CanonicalRequest::new("GET", "/a&b", "");
        assert_eq!(request.as_str(), "GET&/a%26b&");
    }

    #[test]
    fn names_are_sorted_by_their_encoded_form_like_the_java_reference() {
        let request = CanonicalRequest::new("GET", "/p?a0=1&a%3A=2", "");
        assert_eq!(request.as_str(), "GET&/p&a%3A=2&a0=1");
    }

    #[test]
    fn qsh_matching_is_exact() {
        let qsh = Qsh::for_request("GET", "/test", "");
        assert!(qsh.matches(qsh.as_str()));
        assert!(!qsh.matches(&qsh.as_str().to_uppercase()));
        assert!(!qsh.matches(""));
    }
}

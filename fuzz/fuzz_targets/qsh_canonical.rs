//! The canonical request and its qsh (docs/protocol.md §3) over arbitrary methods, paths, query
//! parameters, fragments, absolute URLs and base paths.
//!
//! Invariants, each from the definition in `common::connect::qsh`:
//! - deterministic, and the qsh is the lower-case hex SHA-256 of the canonical string;
//! - the shape: `METHOD&/path&query`, the path starting with `/` and without a trailing `/`
//!   (except `/` itself), the query made only of encoded names and values;
//! - parameters are sorted, so any order of the `&`-separated parameters gives the same result;
//! - the `jwt` parameter is never part of it, wherever it stands;
//! - the fragment, the scheme and authority of an absolute URL, the case of an ASCII method
//!   and a stripped base path change nothing.
#![no_main]

use common::connect::{CanonicalRequest, Qsh};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

#[derive(Arbitrary, Debug)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Param {
    /// Name and value form-encoded, as a client builds them.
    Encoded(String, Option<String>),
    /// A piece as it may come on the wire (`&` and `#` removed, since they delimit it).
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: Method,
    https: bool,
    host: String,
    path: String,
    params: Vec<Param>,
    fragment: Option<String>,
    base_path: String,
    jwt: String,
    jwt_at: u8,
    rotate: u8,
    swap: (u8, u8),
}

fuzz_target!(|input: Input| {
    let method = match &input.method {
        Method::Get => "GET",
        Method::Post => "post",
        Method::Put => "Put",
        Method::Delete => "DELETE",
        Method::Other(other) => other,
    };
    let path: String = input
        .path
        .chars()
        .filter(|c| !matches!(c, '?' | '#'))
        .collect();
    let pieces: Vec<String> = input.params.iter().map(piece).collect();
    let target = target_of(&path, &pieces);

    let canonical = CanonicalRequest::new(method, &target, "");
    assert_eq!(canonical, CanonicalRequest::new(method, &target, ""));
    let qsh = canonical.qsh();
    assert_eq!(qsh.as_str(), hex(&Sha256::digest(canonical.as_str())));
    assert_eq!(qsh, Qsh::for_request(method, &target, ""));
    assert!(qsh.matches(qsh.as_str()) && !qsh.matches(Qsh::CONTEXT));
    assert_shape(method, &canonical, &path);

    let same = |other: &str, why: &str| {
        assert_eq!(
            CanonicalRequest::new(method, other, ""),
            canonical,
            "{why}: {target:?} vs {other:?}"
        );
    };
    let mut with_jwt = pieces.clone();
    let jwt = format!("jwt={}", encode(&input.jwt));
    with_jwt.insert(usize::from(input.jwt_at) % (pieces.len() + 1), jwt);
    same(&target_of(&path, &with_jwt), "the jwt parameter counts");

    let mut shuffled = pieces.clone();
    if !shuffled.is_empty() {
        let n = shuffled.len();
        shuffled.rotate_left(usize::from(input.rotate) % n);
        shuffled.swap(usize::from(input.swap.0) % n, usize::from(input.swap.1) % n);
    }
    same(&target_of(&path, &shuffled), "the parameter order counts");

    if let Some(fragment) = &input.fragment {
        same(&format!("{target}#{fragment}"), "the fragment counts");
    }
    if path.is_empty() || path.starts_with('/') {
        let host: String = input
            .host
            .chars()
            .filter(|c| !matches!(c, '/' | '?' | '#'))
            .collect();
        let scheme = if input.https { "HTTPS://" } else { "http://" };
        same(&format!("{scheme}{host}{target}"), "the authority counts");
    }
    assert_eq!(
        CanonicalRequest::new(&method.to_ascii_lowercase(), &target, ""),
        canonical,
        "the method's case counts"
    );

    let base: String = input
        .base_path
        .chars()
        .filter(|c| !matches!(c, '?' | '#'))
        .collect();
    let base = format!("/{}", base.trim_matches('/'));
    if base != "/" && (path.is_empty() || path.starts_with('/')) {
        let prefixed = format!("{base}{target}");
        assert_eq!(
            CanonicalRequest::new(method, &prefixed, &base),
            canonical,
            "the base path {base:?} is not stripped from {prefixed:?}"
        );
    }
});

fn piece(param: &Param) -> String {
    match param {
        Param::Encoded(name, Some(value)) => format!("{}={}", encode(name), encode(value)),
        Param::Encoded(name, None) => encode(name),
        Param::Raw(raw) => raw.chars().filter(|c| !matches!(c, '&' | '#')).collect(),
    }
}

fn target_of(path: &str, pieces: &[String]) -> String {
    if pieces.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", pieces.join("&"))
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `METHOD&/path&query`: checked only for methods without `&`, which HTTP never sends. The
/// path is the raw one with `&` encoded, a leading `/` and one trailing `/` removed, as in
/// Atlassian's references (`/a//` keeps one).
fn assert_shape(method: &str, canonical: &CanonicalRequest, raw_path: &str) {
    let rest = canonical
        .as_str()
        .strip_prefix(&format!("{}&", method.to_uppercase()))
        .expect("starts with the upper-case method");
    if method.contains('&') {
        return;
    }
    let (path, query) = rest.split_once('&').expect("a path and a query");
    let lower = raw_path.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return; // an absolute URL: compared with its request target in the main check
    }
    let mut expected = format!("/{}", raw_path.strip_prefix('/').unwrap_or(raw_path));
    if expected.len() > 1 && expected.ends_with('/') {
        expected.pop();
    }
    assert_eq!(path, expected.replace('&', "%26"), "path of {raw_path:?}");
    let encoded = |c: char| c.is_ascii_alphanumeric() || "-._~%=,&".contains(c);
    assert!(query.chars().all(encoded), "query {query:?}");
    for param in query.split('&').filter(|p| !p.is_empty()) {
        assert!(param.contains('='), "parameter {param:?} has no '='");
    }
}

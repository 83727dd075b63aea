//! Property tests of the canonical request and qsh (docs/protocol.md §3).
//!
//! Invariants checked on generated inputs:
//! - canonicalisation never panics, whatever the method, target and base path (arbitrary
//!   unicode, stray `%`, percent-escapes of arbitrary bytes such as `%ff%00`, `&`, `=`, `?`, `#`);
//! - the qsh is 64 lower-case hex characters and is the SHA-256 of the canonical string;
//! - the canonical string is `METHOD&path&query`: the upper-cased method, a path that starts with
//!   `/` and holds no `&`, and a query made only of `name=value[,value]` pairs joined by `&`,
//!   written with unreserved characters and upper-case `%XX` escapes, never a `jwt` pair;
//! - a `jwt` query parameter (however its name is escaped, wherever it stands) never changes it;
//! - the order of the query parameters never changes it;
//! - the way the query is escaped (`+` or `%20`, escaping unreserved characters, lower-case hex)
//!   never changes it;
//! - a base path in front of the path is the same as no base path at all.

use common::connect::CanonicalRequest;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// Pieces that tend to break parsers, mixed with arbitrary characters.
fn nasty_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u8>().prop_map(|b| format!("%{b:02x}")),
        any::<u8>().prop_map(|b| format!("%{b:02X}")),
        Just("%".to_owned()),
        Just("%z".to_owned()),
        Just("%ff%00".to_owned()),
        Just("%C3%A9".to_owned()),
        Just("%ED%A0%80".to_owned()),
        Just("&".to_owned()),
        Just("&&".to_owned()),
        Just("=".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just("+".to_owned()),
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just("jwt=".to_owned()),
        Just("jwt".to_owned()),
        Just("/wiki".to_owned()),
        Just("https://".to_owned()),
        Just(" ".to_owned()),
        Just("é".to_owned()),
        Just("😀".to_owned()),
        Just("\u{0}".to_owned()),
        "[a-zA-Z0-9._~-]{1,4}",
        any::<char>().prop_map(String::from),
    ]
}

fn nasty_string() -> impl Strategy<Value = String> {
    prop::collection::vec(nasty_piece(), 0..12).prop_map(|pieces| pieces.concat())
}

/// Any string at all, or one built from nasty pieces.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), nasty_string()]
}

fn ascii_method() -> impl Strategy<Value = String> {
    "[A-Za-z]{1,10}"
}

/// A path that starts with `/` and holds no `?` or `#` (it may hold `&`, `%`, unicode, ...).
fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9._~!$'()*+,;=:@-]{1,6}",
            Just("/".to_owned()),
            Just("&".to_owned()),
            Just("%2F".to_owned()),
            Just("%26".to_owned()),
            Just("é".to_owned()),
        ],
        0..8,
    )
    .prop_map(|pieces| format!("/{}", pieces.concat()))
}

/// Decoded query parameters: arbitrary names and values (unicode, `&`, `=`, `+`, spaces, ...).
fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    let text = prop_oneof![
        "[a-zA-Z0-9]{0,4}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
        nasty_string().prop_map(|s| s.chars().take(8).collect()),
    ];
    prop::collection::vec((text.clone(), text), 0..6)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Form-encodes text the usual way: unreserved characters kept, space as `+`.
fn encode_plus(text: &str) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b if is_unreserved(b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encodes every byte, lower-case hex (`a` → `%61`, space → `%20`).
fn encode_every_byte(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02x}")).collect()
}

fn query_of(params: &[(String, String)], encode: fn(&str) -> String) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn target(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

fn canonical(method: &str, target: &str, base_path: &str) -> String {
    CanonicalRequest::new(method, target, base_path)
        .as_str()
        .to_owned()
}

/// Checks the shape `METHOD&/path&query` for a method without `&`.
fn check_shape(method: &str, canonical: &str) -> Result<(), TestCaseError> {
    let prefix = format!("{}&", method.to_uppercase());
    prop_assert!(
        canonical.starts_with(&prefix),
        "{canonical:?} does not start with {prefix:?}"
    );
    let rest = &canonical[prefix.len()..];
    let (path, query) = rest
        .split_once('&')
        .ok_or_else(|| TestCaseError::fail(format!("no '&' after the path in {canonical:?}")))?;
    prop_assert!(
        path.starts_with('/'),
        "path {path:?} does not start with '/'"
    );
    prop_assert!(!path.contains('?'), "path {path:?} holds a '?'");
    if query.is_empty() {
        return Ok(());
    }
    for pair in query.split('&') {
        let (name, values) = pair.split_once('=').ok_or_else(|| {
            TestCaseError::fail(format!("pair {pair:?} has no '=' in {canonical:?}"))
        })?;
        prop_assert!(name != "jwt", "a jwt pair survived in {canonical:?}");
        for part in std::iter::once(name).chain(values.split(',')) {
            let bytes = part.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
                    prop_assert!(
                        hex.len() == 2
                            && hex
                                .iter()
                                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h)),
                        "bad escape in {part:?} of {canonical:?}"
                    );
                    i += 3;
                } else {
                    prop_assert!(
                        is_unreserved(bytes[i]),
                        "unencoded byte {:?} in {part:?} of {canonical:?}",
                        bytes[i] as char
                    );
                    i += 1;
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_qsh_is_sha256_hex(method in any_text(), target in any_text(), base in any_text()) {
        let request = CanonicalRequest::new(&method, &target, &base);
        let qsh = request.qsh();
        let hex = qsh.as_str();
        prop_assert_eq!(hex.len(), 64);
        prop_assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "qsh {:?}", hex);
        let expected = hex::encode(Sha256::digest(request.as_str().as_bytes()));
        prop_assert_eq!(hex, expected.as_str());
        // Deterministic.
        prop_assert_eq!(canonical(&method, &target, &base), request.as_str().to_owned());
    }

    #[test]
    fn canonical_string_has_the_documented_shape(method in ascii_method(), target in any_text(), path in path(), q in nasty_string()) {
        check_shape(&method, &canonical(&method, &target, ""))?;
        check_shape(&method, &canonical(&method, &format!("{path}?{q}"), ""))?;
        check_shape(&method, &canonical(&method, &format!("{path}?{q}"), "/wiki"))?;
    }

    #[test]
    fn method_is_upper_cased(method in ascii_method(), path in path()) {
        let lower = canonical(&method.to_ascii_lowercase(), &path, "");
        let upper = canonical(&method.to_ascii_uppercase(), &path, "");
        prop_assert_eq!(&lower, &upper);
        let prefix = format!("{}&", method.to_ascii_uppercase());
        prop_assert!(upper.starts_with(&prefix));
    }

    #[test]
    fn path_holds_no_raw_ampersand(method in ascii_method(), path in path(), q in nasty_string()) {
        let c = canonical(&method, &format!("{path}?{q}"), "");
        let rest = &c[method.len() + 1..];
        let (canonical_path, _) = rest.split_once('&').unwrap_or((rest, ""));
        let raw_amps = path.matches('&').count();
        prop_assert_eq!(canonical_path.matches("%26").count() >= raw_amps, true, "{:?} from {:?}", canonical_path, path);
    }

    #[test]
    fn jwt_parameter_never_affects_the_result(
        method in ascii_method(),
        path in path(),
        params in params(),
        jwt_value in any_text(),
        jwt_name in prop::sample::select(vec!["jwt", "%6Awt", "j%77t", "%6a%77%74"]),
        positions in prop::collection::vec(any::<prop::sample::Index>(), 1..3),
    ) {
        let without = canonical(&method, &target(&path, &query_of(&params, encode_plus)), "");
        let mut pairs: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode_plus(k), encode_plus(v)))
            .collect();
        for position in &positions {
            let at = position.index(pairs.len() + 1);
            pairs.insert(at, format!("{jwt_name}={}", encode_plus(&jwt_value)));
        }
        let with = canonical(&method, &target(&path, &pairs.join("&")), "");
        prop_assert_eq!(with, without);
    }

    #[test]
    fn parameter_order_never_affects_the_result(
        method in ascii_method(),
        path in path(),
        (params, shuffled) in params().prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle())),
    ) {
        let a = canonical(&method, &target(&path, &query_of(&params, encode_plus)), "");
        let b = canonical(&method, &target(&path, &query_of(&shuffled, encode_plus)), "");
        prop_assert_eq!(a, b);
    }

    #[test]
    fn query_escaping_style_never_affects_the_result(method in ascii_method(), path in path(), params in params()) {
        let minimal = canonical(&method, &target(&path, &query_of(&params, encode_plus)), "");
        let every_byte = canonical(&method, &target(&path, &query_of(&params, encode_every_byte)), "");
        prop_assert_eq!(minimal, every_byte);
    }

    #[test]
    fn base_path_prefix_is_the_same_as_no_base_path(
        method in ascii_method(),
        base in "/[a-z]{1,8}",
        path in path(),
        params in params(),
    ) {
        let query = query_of(&params, encode_plus);
        let under_base = canonical(&method, &target(&format!("{base}{path}"), &query), &base);
        let at_root = canonical(&method, &target(&path, &query), "");
        prop_assert_eq!(under_base, at_root);
    }
}

//! Atlassian's cross-language signing vectors (fixtures/jwt-signed-urls.json): every canonical
//! string must match, and every signed URL's token must verify with the shared secret.
use common::connect::{CanonicalRequest, QshRule, SharedSecret, Unverified, Verifier};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    secret: String,
    tests: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    #[serde(rename = "canonicalUrl")]
    canonical_url: String,
    #[serde(rename = "signedUrl")]
    signed_url: String,
}

impl Vector {
    /// The one vector whose app baseUrl has a path (`https://example.com/base`).
    fn base_path(&self) -> &'static str {
        if self.name.starts_with("Add-on baseUrl contains path") {
            "/base"
        } else {
            ""
        }
    }

    fn target(&self) -> &str {
        let without_scheme = self.signed_url.trim_start_matches("https://");
        &without_scheme[without_scheme.find('/').expect("a path")..]
    }

    fn token(&self) -> String {
        let query = self.target().split_once('?').expect("a query").1;
        form_urlencoded_value(query, "jwt").expect("a jwt parameter")
    }
}

fn form_urlencoded_value(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn vectors() -> Vectors {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/jwt-signed-urls.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

#[test]
fn every_canonical_string_matches_atlassians() {
    let vectors = vectors();
    let mismatches: Vec<String> = vectors
        .tests
        .iter()
        .filter_map(|v| {
            let ours = CanonicalRequest::new("GET", v.target(), v.base_path());
            (ours.as_str() != v.canonical_url).then(|| {
                format!(
                    "{}: ours {:?}, Atlassian's {:?}",
                    v.name,
                    ours.as_str(),
                    v.canonical_url
                )
            })
        })
        .collect();
    assert_eq!(vectors.tests.len(), 79, "the fixture holds 79 vectors");
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn every_signed_url_token_verifies_with_the_shared_secret() {
    let vectors = vectors();
    let secret = SharedSecret::new(vectors.secret.clone());
    let failures: Vec<String> = vectors
        .tests
        .iter()
        .filter_map(|v| {
            let token = v.token();
            let request = CanonicalRequest::new("GET", v.target(), v.base_path());
            // The vectors were signed in 2014: verify each at its own issue time.
            let issued_at = match Unverified::decode(&token).map(|t| t.claims.iat) {
                Ok(Some(iat)) => iat,
                _ => return Some(format!("{}: the token has no readable iat", v.name)),
            };
            let result = Verifier::new(30).at(issued_at).verify_with_secret(
                &token,
                &secret,
                &request,
                QshRule::Request,
            );
            result.err().map(|e| format!("{}: {e}", v.name))
        })
        .collect();
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn a_vector_token_does_not_verify_for_another_request() {
    let vectors = vectors();
    let v = &vectors.tests[0];
    let other = CanonicalRequest::new("GET", "/test?param=other", "");
    let issued_at = Unverified::decode(&v.token()).expect("decodes").claims.iat;
    let result = Verifier::new(30)
        .at(issued_at.expect("iat"))
        .verify_with_secret(
            &v.token(),
            &SharedSecret::new(vectors.secret.clone()),
            &other,
            QshRule::Request,
        );
    assert!(matches!(
        result,
        Err(common::connect::JwtError::QshMismatch)
    ));
}

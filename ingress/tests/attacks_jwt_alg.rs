//! Forged webhook JWTs against the running ingress: `alg none` in several spellings, and
//! algorithm confusion (exactly `HS256` is accepted, its name compared exactly). What every
//! case is and must hold to: `attacks_support/mod.rs`.
//!
//! Why some cases are *accepted* (each follows docs/protocol.md §2 and the verifier in
//! `common/src/connect/verify.rs`):
//! - header fields other than `alg` (`typ`, `kid`, `jku`, ...) are never read on the HS256
//!   path, and the signature covers them, so only the tenant could have put them there.
mod attacks_support;
mod support;

use attacks_support::tokens::{alg_header, b64url, header_with, valid_claims};
use attacks_support::{case, run_cases, unauthorized, Attempt, Case, Expect};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

fn cases() -> Vec<Case> {
    use Expect::Accepted;
    let mut cases = Vec::new();

    // 1. alg none, in several spellings, unsigned or with a signature; the alg is refused
    //    before anything else is looked at.
    for alg in ["none", "None", "NONE", "nOnE"] {
        cases.push(case(
            format!("alg {alg}, empty signature (h.c.)"),
            unauthorized("jwt_algorithm"),
            move || {
                let claims = Value::Object(valid_claims()).to_string();
                let header = alg_header(alg);
                Attempt::jwt(format!(
                    "{}.{}.",
                    b64url(header.as_bytes()),
                    b64url(claims.as_bytes())
                ))
            },
        ));
        cases.push(case(
            format!("alg {alg}, HS256 signature with the right secret"),
            unauthorized("jwt_algorithm"),
            move || Attempt::jwt(header_with(&alg_header(alg), Algorithm::HS256)),
        ));
    }
    cases.push(case(
        "alg none, no signature segment at all (h.c): two segments",
        unauthorized("jwt_malformed"),
        || {
            let claims = Value::Object(valid_claims()).to_string();
            Attempt::jwt(format!(
                "{}.{}",
                b64url(alg_header("none").as_bytes()),
                b64url(claims.as_bytes())
            ))
        },
    ));
    cases.push(case(
        "alg empty, HS256 signature",
        unauthorized("jwt_algorithm"),
        || Attempt::jwt(header_with(&alg_header(""), Algorithm::HS256)),
    ));
    cases.push(case(
        "no alg in the header, HS256 signature",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(header_with(r#"{"typ":"JWT"}"#, Algorithm::HS256)),
    ));

    // 2. Algorithm confusion: exactly HS256 is accepted; the name is compared exactly.
    cases.push(case(
        "alg HS512, signed under HS512 with the right secret",
        unauthorized("jwt_algorithm"),
        || Attempt::jwt(header_with(&alg_header("HS512"), Algorithm::HS512)),
    ));
    cases.push(case(
        "alg HS384, signed under HS384 with the right secret",
        unauthorized("jwt_algorithm"),
        || Attempt::jwt(header_with(&alg_header("HS384"), Algorithm::HS384)),
    ));
    cases.push(case(
        "alg RS256 header with an HS256 HMAC signature of the right secret",
        unauthorized("jwt_algorithm"),
        || Attempt::jwt(header_with(&alg_header("RS256"), Algorithm::HS256)),
    ));
    cases.push(case(
        "alg hs256 (lower case), HS256 signature",
        unauthorized("jwt_algorithm"),
        || Attempt::jwt(header_with(&alg_header("hs256"), Algorithm::HS256)),
    ));
    cases.push(case(
        "alg \"HS256 \" (trailing space), HS256 signature",
        unauthorized("jwt_algorithm"),
        || Attempt::jwt(header_with(&alg_header("HS256 "), Algorithm::HS256)),
    ));
    cases.push(case(
        "alg not a string ([\"HS256\"])",
        unauthorized("jwt_malformed"),
        || {
            Attempt::jwt(header_with(
                r#"{"alg":["HS256"],"typ":"JWT"}"#,
                Algorithm::HS256,
            ))
        },
    ));
    cases.push(case(
        "duplicate alg in the header (none, then HS256)",
        unauthorized("jwt_malformed"),
        || {
            Attempt::jwt(header_with(
                r#"{"alg":"none","alg":"HS256"}"#,
                Algorithm::HS256,
            ))
        },
    ));
    cases.push(case(
        "duplicate alg in the header (HS256, then none)",
        unauthorized("jwt_malformed"),
        || {
            Attempt::jwt(header_with(
                r#"{"alg":"HS256","alg":"none"}"#,
                Algorithm::HS256,
            ))
        },
    ));
    // Only `alg` is read on this path; the rest of the header is covered by the tenant's
    // signature, so junk there is the tenant's own business: accepted.
    cases.push(case(
        "alg HS256 with junk typ, kid, jku and x5u (correctly signed)",
        Accepted,
        || {
            let header = json!({
                "alg": "HS256",
                "typ": "JOSE+junk",
                "kid": "../../../../etc/passwd",
                "jku": "https://attacker.example/jwks.json",
                "x5u": "http://169.254.169.254/latest/meta-data/",
                "crit": ["exp"],
            });
            Attempt::jwt(header_with(&header.to_string(), Algorithm::HS256))
        },
    ));
    cases.push(case(
        "alg HS256 with typ not a string (typ: 1)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(header_with(r#"{"alg":"HS256","typ":1}"#, Algorithm::HS256)),
    ));
    cases
}

#[tokio::test]
async fn alg_none_and_algorithm_confusion_get_their_documented_answer() {
    run_cases("alg", cases()).await;
}

/// The hand-written encoder agrees with a header the other tests spell out.
#[test]
fn the_base64url_encoder_matches_known_values() {
    assert_eq!(
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"
    );
    assert_eq!(b64url(b""), "");
    assert_eq!(b64url(b"f"), "Zg");
    assert_eq!(b64url(b"fo"), "Zm8");
    assert_eq!(b64url(b"foo"), "Zm9v");
    assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
}

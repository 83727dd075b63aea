//! Malformed webhook JWTs and transports against the running ingress: segments, base64 and JSON
//! that are not what a token is made of, a token too large, bad signatures, other schemes, no
//! token, several tokens; and a valid token on a body that is not UTF-8. What every case is and
//! must hold to: `attacks_support/mod.rs`.
//!
//! Why some cases are *accepted* (each follows docs/protocol.md §2 and the verifier in
//! `common/src/connect/verify.rs`):
//! - the token comes from `Authorization: JWT …` first, and the `jwt` query parameter is never
//!   part of the qsh, so a second token in `?jwt=` is ignored when the header has one.
mod attacks_support;
mod support;

use attacks_support::tokens::{
    forge, header_with, hs256_header, raw_claims, set, sign_raw, valid_claims, valid_token,
    with_signature,
};
use attacks_support::{
    case, find, fixture, run_cases, unauthorized, Attempt, Case, Expect, ISSUE_CREATED, SECRET_A,
    SECRET_B,
};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

fn cases() -> Vec<Case> {
    use Expect::Accepted;
    let mut cases = Vec::new();

    // 9. Malformed tokens and transports.
    cases.push(case(
        "two segments (signature dropped with its dot)",
        unauthorized("jwt_malformed"),
        || {
            let token = valid_token();
            let (input, _) = token.rsplit_once('.').expect("three segments");
            Attempt::jwt(input.to_owned())
        },
    ));
    cases.push(case(
        "four segments (a valid token plus .AAAA)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(format!("{}.AAAA", valid_token())),
    ));
    cases.push(case("one segment", unauthorized("jwt_malformed"), || {
        Attempt::jwt("eyJhbGciOiJIUzI1NiJ9".to_owned())
    }));
    cases.push(case(
        "non-base64 characters in the claims segment",
        unauthorized("jwt_malformed"),
        || {
            let token = valid_token();
            let mut parts: Vec<&str> = token.split('.').collect();
            let claims = format!("{}$!*", parts[1]);
            parts[1] = &claims;
            Attempt::jwt(parts.join("."))
        },
    ));
    cases.push(case(
        "base64 header that is not JSON",
        unauthorized("jwt_malformed"),
        || {
            let claims = Value::Object(valid_claims()).to_string();
            Attempt::jwt(sign_raw(
                b"not json",
                claims.as_bytes(),
                SECRET_A,
                Algorithm::HS256,
            ))
        },
    ));
    cases.push(case(
        "base64 claims that are not JSON",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(raw_claims("iss=tenant-a&qsh=x")),
    ));
    cases.push(case(
        "claims JSON that is a list holding the claims object",
        unauthorized("jwt_malformed"),
        || {
            Attempt::jwt(raw_claims(
                &json!([Value::Object(valid_claims())]).to_string(),
            ))
        },
    ));
    cases.push(case(
        "claims JSON that is a string, not an object",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(raw_claims(r#""tenant-a""#)),
    ));
    cases.push(case(
        "claims JSON null",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(raw_claims("null")),
    ));
    // RFC 7515 §4 / RFC 7519 §7.2: the header and the claims set are JSON *objects*. serde
    // would fill the fields from a list by position; this suite found that, and the decoder
    // now refuses anything but an object (as PyJWT and npm atlassian-jwt do).
    cases.push(case(
        "header JSON that is a list, not an object ([\"HS256\"], correctly signed)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(header_with(r#"["HS256"]"#, Algorithm::HS256)),
    ));
    cases.push(case(
        "claims JSON that is a list of the claims in field order, correctly signed",
        unauthorized("jwt_malformed"),
        || {
            let c = valid_claims();
            let positional = json!([c["iss"], c["iat"], c["exp"], c["qsh"]]);
            Attempt::jwt(raw_claims(&positional.to_string()))
        },
    ));
    cases.push(case(
        "a 100 KB token (a correctly signed 100 KB claim)",
        unauthorized("jwt_too_large"),
        || {
            let pad = json!({"pad": "x".repeat(100 * 1024)});
            Attempt::jwt(set("context", pad))
        },
    ));
    cases.push(case(
        "signature segment empty (h.c.)",
        unauthorized("jwt_bad_signature"),
        || Attempt::jwt(with_signature("")),
    ));
    cases.push(case(
        "signature one character short",
        unauthorized("jwt_bad_signature"),
        || {
            let token = valid_token();
            Attempt::jwt(token[..token.len() - 1].to_owned())
        },
    ));
    cases.push(case(
        "signature with base64 padding appended",
        unauthorized("jwt_bad_signature"),
        || Attempt::jwt(format!("{}=", valid_token())),
    ));
    cases.push(case(
        "empty `JWT ` Authorization header",
        unauthorized("jwt_missing"),
        || Attempt::authorization(ISSUE_CREATED, vec!["JWT ".to_owned()]),
    ));
    cases.push(case(
        "`JWT` scheme without a token",
        unauthorized("jwt_missing"),
        || Attempt::authorization(ISSUE_CREATED, vec!["JWT".to_owned()]),
    ));
    cases.push(case(
        "no Authorization header and no jwt parameter",
        unauthorized("jwt_missing"),
        || Attempt::authorization(ISSUE_CREATED, Vec::new()),
    ));
    cases.push(case(
        "valid token under the Bearer scheme",
        unauthorized("jwt_missing"),
        || Attempt::authorization(ISSUE_CREATED, vec![format!("Bearer {}", valid_token())]),
    ));
    cases.push(case(
        "valid token under the scheme `jwt` (lower case)",
        unauthorized("jwt_missing"),
        || Attempt::authorization(ISSUE_CREATED, vec![format!("jwt {}", valid_token())]),
    ));
    // The header wins over `?jwt=`, and `jwt` is never part of the qsh (docs/protocol.md §3).
    cases.push(case(
        "valid header token, a different (garbage) token in ?jwt=",
        Accepted,
        || Attempt::to(&format!("{ISSUE_CREATED}?jwt=a.b.c"), valid_token()),
    ));
    cases.push(case(
        "forged header token (B's secret), a valid token in ?jwt=: no fallback to the query",
        unauthorized("jwt_bad_signature"),
        || {
            let forged = forge(
                &hs256_header(),
                &Value::Object(valid_claims()),
                SECRET_B,
                Algorithm::HS256,
            );
            Attempt::to(&format!("{ISSUE_CREATED}?jwt={}", valid_token()), forged)
        },
    ));
    cases.push(case(
        "two Authorization headers: a forged one, then a valid one",
        unauthorized("jwt_bad_signature"),
        || {
            let forged = forge(
                &hs256_header(),
                &Value::Object(valid_claims()),
                SECRET_B,
                Algorithm::HS256,
            );
            Attempt::authorization(
                ISSUE_CREATED,
                vec![format!("JWT {forged}"), format!("JWT {}", valid_token())],
            )
        },
    ));

    // A valid token on a body that is not UTF-8: a bad request, not a 5xx.
    cases.push(case(
        "valid token, body with invalid UTF-8 inside a string",
        Expect::Refused(400, "invalid_json"),
        || {
            let mut body = fixture();
            let at = find(&body, br#""issue_created""#).expect("the fixture names its event");
            body[at + 1] = 0xff;
            body[at + 2] = 0xfe;
            Attempt {
                body: Some(body),
                ..Attempt::jwt(valid_token())
            }
        },
    ));
    cases
}

#[tokio::test]
async fn malformed_tokens_and_transports_get_their_documented_answer() {
    run_cases("malformed", cases()).await;
}

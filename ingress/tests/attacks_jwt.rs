//! Forged and malformed webhook JWTs against the running ingress, as one table: every case is
//! a valid Jira webhook (the real `jira:issue_created` fixture, a unique
//! `X-Atlassian-Webhook-Identifier`) whose token differs from a valid one in exactly one way.
//! Each case names the status and JSON error `code` the ingress answers (see
//! `common/src/connect/error.rs` for the codes and `ingress/src/errors.rs` for the statuses:
//! every refused token is 401, only lookup or key trouble on our side is 503). A refused case
//! must enqueue nothing, an accepted one exactly its own message; at the end the queue is empty
//! and `/healthz` answers.
//!
//! Why some cases are *accepted* (each follows docs/protocol.md §2 and the verifier in
//! `common/src/connect/verify.rs`):
//! - header fields other than `alg` (`typ`, `kid`, `jku`, ...) are never read on the HS256
//!   path, and the signature covers them, so only the tenant could have put them there;
//! - `aud` is not checked on product-issued tokens ("sometimes aud"; npm `atlassian-jwt`
//!   2.0.3 ignores it and the PyPI one passes the token's own `aud` as the expected audience);
//!   only its shape (a string or a list of strings) is;
//! - `iat` is optional (only `exp` is required); `exp` has a 30 s leeway and no upper bound;
//! - the token comes from `Authorization: JWT …` first, and the `jwt` query parameter is never
//!   part of the qsh, so a second token in `?jwt=` is ignored when the header has one.
//!
//! Tenant isolation of the JSON API with context tokens is covered elsewhere and not repeated:
//! `ui_api.rs::a_token_of_another_tenant_never_reaches_this_tenants_rules` (tenant B's context
//! token lists none of A's rules, PATCH and DELETE of A's rule id → 404 `rule_not_found`, B's
//! secret under A's clientKey → 401 `jwt_bad_signature`) and
//! `ui_activity.rs::activity_shows_only_this_tenants_rows_of_that_issue` (`/api/activity`).
mod support;

use std::time::{Duration, Instant};

use common::amqp::headers;
use common::connect::CanonicalRequest;
use common::envelope::QueueMessage;
use jsonwebtoken::{Algorithm, EncodingKey};
use lapin::types::AMQPValue;
use serde_json::{json, Map, Value};
use support::{hs_token, now, spawn_app, TestApp};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";
const ISSUE_UPDATED: &str = "/webhooks/jira/jira:issue_updated";
const COMMENT_CREATED: &str = "/webhooks/jira/comment_created";
const TENANT_A: &str = "tenant-a";
const SECRET_A: &str = "secret-a-0123456789abcdef";
const TENANT_B: &str = "tenant-b";
const SECRET_B: &str = "secret-b-0123456789abcdef";
/// `security.jwt_leeway_secs` by default.
const LEEWAY_SECS: i64 = 30;

// ---------------------------------------------------------------------------------------------
// Building tokens by hand
// ---------------------------------------------------------------------------------------------

/// Base64url without padding (RFC 7515), written out so any bytes can be encoded.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// `header.claims.signature` from raw segment bytes, signed under `alg` with `secret`.
fn sign_raw(header: &[u8], claims: &[u8], secret: &str, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64url(header), b64url(claims));
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        alg,
    )
    .expect("signs");
    format!("{input}.{signature}")
}

/// A token with this header and these claims, signed under `alg` with `secret`.
fn forge(header: &Value, claims: &Value, secret: &str, alg: Algorithm) -> String {
    sign_raw(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        secret,
        alg,
    )
}

/// The header Jira sends.
fn hs256_header() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn qsh(method: &str, target: &str) -> String {
    CanonicalRequest::new(method, target, "").qsh().to_string()
}

/// The claims Jira signs for `POST ISSUE_CREATED` from tenant A.
fn valid_claims() -> Map<String, Value> {
    let now = now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(TENANT_A));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 180));
    claims.insert("qsh".into(), json!(qsh("POST", ISSUE_CREATED)));
    claims
}

/// A valid token of tenant A for `POST ISSUE_CREATED`, built by hand.
fn valid_token() -> String {
    claims_with(|_| {})
}

/// The valid claims changed by `change`, under the HS256 header, signed with A's secret.
fn claims_with(change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = valid_claims();
    change(&mut claims);
    forge(
        &hs256_header(),
        &Value::Object(claims),
        SECRET_A,
        Algorithm::HS256,
    )
}

/// The valid claims under another header (as JSON text, for duplicate keys), signed under
/// `alg` with A's secret.
fn header_with(header: &str, alg: Algorithm) -> String {
    let claims = Value::Object(valid_claims()).to_string();
    sign_raw(header.as_bytes(), claims.as_bytes(), SECRET_A, alg)
}

/// The header text `{"alg":"<alg>","typ":"JWT"}`.
fn alg_header(alg: &str) -> String {
    json!({"alg": alg, "typ": "JWT"}).to_string()
}

/// The valid token's header and claims segments under another signature segment.
fn with_signature(signature: &str) -> String {
    let token = valid_token();
    let (input, _) = token.rsplit_once('.').expect("three segments");
    format!("{input}.{signature}")
}

/// The valid token with claim `name` set to `value`.
fn set(name: &str, value: Value) -> String {
    claims_with(|c| {
        c.insert(name.to_owned(), value);
    })
}

/// The valid token without claim `name`.
fn without(name: &str) -> String {
    claims_with(|c| {
        c.remove(name);
    })
}

/// A token of this exact claims text (duplicate keys, not JSON, ...) under the HS256 header,
/// signed with A's secret.
fn raw_claims(claims: &str) -> String {
    sign_raw(
        hs256_header().to_string().as_bytes(),
        claims.as_bytes(),
        SECRET_A,
        Algorithm::HS256,
    )
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// One request of a case: where it goes, its `Authorization` values (in order), and its body
/// (`None`: the fixture).
struct Attempt {
    target: String,
    authorization: Vec<String>,
    body: Option<Vec<u8>>,
}

impl Attempt {
    /// `POST ISSUE_CREATED` with `Authorization: JWT <token>`.
    fn jwt(token: String) -> Self {
        Self::to(ISSUE_CREATED, token)
    }

    /// `POST target` with `Authorization: JWT <token>`.
    fn to(target: &str, token: String) -> Self {
        Self::authorization(target, vec![format!("JWT {token}")])
    }

    /// `POST target` with these `Authorization` header values (none, one or several).
    fn authorization(target: &str, values: Vec<String>) -> Self {
        Self {
            target: target.to_owned(),
            authorization: values,
            body: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 202 and exactly this case's message on the work queue.
    Accepted,
    /// This status and JSON error code, and nothing enqueued.
    Refused(u16, &'static str),
}

struct Case {
    name: String,
    build: Box<dyn Fn() -> Attempt>,
    expect: Expect,
}

fn case(name: impl Into<String>, expect: Expect, build: impl Fn() -> Attempt + 'static) -> Case {
    Case {
        name: name.into(),
        build: Box::new(build),
        expect,
    }
}

fn unauthorized(code: &'static str) -> Expect {
    Expect::Refused(401, code)
}

fn cases() -> Vec<Case> {
    use Expect::Accepted;
    let mut cases = Vec::new();

    // 10. Control: the harness can succeed, with our hand-built token and the support one.
    cases.push(case("control: hand-built valid token", Accepted, || {
        Attempt::jwt(valid_token())
    }));
    cases.push(case("control: support::hs_token", Accepted, || {
        Attempt::jwt(hs_token(TENANT_A, SECRET_A, "POST", ISSUE_CREATED))
    }));

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

    // 3. Two installed tenants: neither secret speaks for the other.
    cases.push(case(
        "iss = tenant A, signed with tenant B's secret",
        unauthorized("jwt_bad_signature"),
        || {
            let claims = Value::Object(valid_claims());
            Attempt::jwt(forge(&hs256_header(), &claims, SECRET_B, Algorithm::HS256))
        },
    ));
    cases.push(case(
        "iss = tenant B, signed with tenant A's secret",
        unauthorized("jwt_bad_signature"),
        || Attempt::jwt(set("iss", json!(TENANT_B))),
    ));

    // 4. iss.
    cases.push(case(
        "iss of an unknown tenant",
        unauthorized("jwt_unknown_iss"),
        || Attempt::jwt(set("iss", json!("tenant-x"))),
    ));
    cases.push(case("iss missing", unauthorized("jwt_missing_iss"), || {
        Attempt::jwt(without("iss"))
    }));
    cases.push(case("iss empty", unauthorized("jwt_missing_iss"), || {
        Attempt::jwt(set("iss", json!("")))
    }));
    cases.push(case("iss null", unauthorized("jwt_missing_iss"), || {
        Attempt::jwt(set("iss", Value::Null))
    }));
    cases.push(case(
        "iss not a string (a number)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(set("iss", json!(42))),
    ));
    cases.push(case(
        "iss not a string (a list holding tenant A)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(set("iss", json!([TENANT_A]))),
    ));
    cases.push(case(
        "iss twice (tenant B, then tenant A), signed with A's secret",
        unauthorized("jwt_malformed"),
        || {
            let c = valid_claims();
            Attempt::jwt(raw_claims(&format!(
                r#"{{"iss":"{TENANT_B}","iss":"{TENANT_A}","iat":{},"exp":{},"qsh":"{}"}}"#,
                c["iat"],
                c["exp"],
                c["qsh"].as_str().unwrap_or_default()
            )))
        },
    ));
    cases.push(case(
        "iss = tenant A with a NUL byte appended",
        unauthorized("jwt_unknown_iss"),
        || Attempt::jwt(set("iss", json!("tenant-a\u{0}"))),
    ));
    cases.push(case(
        "iss longer than any client key (300 bytes)",
        unauthorized("jwt_unknown_iss"),
        || Attempt::jwt(set("iss", json!("a".repeat(300)))),
    ));
    cases.push(case(
        "iss with SQL in it",
        unauthorized("jwt_unknown_iss"),
        || {
            let iss = json!("tenant-a' OR '1'='1");
            Attempt::jwt(set("iss", iss))
        },
    ));

    // 5. aud: not checked on product-issued tokens (docs/protocol.md §2), only its shape.
    cases.push(case("aud present and wrong (a string)", Accepted, || {
        let aud = json!("https://attacker.example");
        Attempt::jwt(set("aud", aud))
    }));
    cases.push(case(
        "aud present and wrong (a list naming tenant B)",
        Accepted,
        || Attempt::jwt(set("aud", json!([TENANT_B]))),
    ));
    cases.push(case(
        "aud neither a string nor a list of strings (42)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(set("aud", json!(42))),
    ));

    // 6. Times (leeway 30 s on exp and iat).
    cases.push(case(
        "exp 120 s ago (beyond the leeway)",
        unauthorized("jwt_expired"),
        || Attempt::jwt(set("exp", json!(now() - 120))),
    ));
    cases.push(case(
        "exp one second beyond the leeway",
        unauthorized("jwt_expired"),
        || {
            let exp = json!(now() - LEEWAY_SECS - 1);
            Attempt::jwt(set("exp", exp))
        },
    ));
    cases.push(case("exp 10 s ago (inside the leeway)", Accepted, || {
        Attempt::jwt(set("exp", json!(now() - 10)))
    }));
    cases.push(case("exp 0", unauthorized("jwt_expired"), || {
        Attempt::jwt(set("exp", json!(0)))
    }));
    cases.push(case("exp missing", unauthorized("jwt_missing_exp"), || {
        Attempt::jwt(without("exp"))
    }));
    cases.push(case("exp null", unauthorized("jwt_missing_exp"), || {
        Attempt::jwt(set("exp", Value::Null))
    }));
    cases.push(case(
        "exp a numeric string",
        unauthorized("jwt_malformed"),
        || {
            let exp = json!((now() + 180).to_string());
            Attempt::jwt(set("exp", exp))
        },
    ));
    cases.push(case("exp a float", unauthorized("jwt_malformed"), || {
        let exp = json!(now() as f64 + 180.5);
        Attempt::jwt(set("exp", exp))
    }));
    cases.push(case(
        "exp beyond i64 (u64::MAX)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(set("exp", json!(u64::MAX))),
    ));
    // No arithmetic overflow (saturating), and docs/protocol.md sets no upper bound on exp.
    cases.push(case("exp i64::MAX", Accepted, || {
        Attempt::jwt(set("exp", json!(i64::MAX)))
    }));
    cases.push(case(
        "iat a year in the future",
        unauthorized("jwt_iat_future"),
        || {
            let iat = json!(now() + 365 * 24 * 3600);
            Attempt::jwt(set("iat", iat))
        },
    ));
    cases.push(case(
        "iat 120 s in the future (beyond the leeway)",
        unauthorized("jwt_iat_future"),
        || Attempt::jwt(set("iat", json!(now() + 120))),
    ));
    cases.push(case("iat i64::MAX", unauthorized("jwt_iat_future"), || {
        Attempt::jwt(set("iat", json!(i64::MAX)))
    }));
    // iat is optional: only exp is required (common/src/connect/token.rs `check_times`).
    cases.push(case("iat missing", Accepted, || {
        Attempt::jwt(without("iat"))
    }));

    // 7. qsh.
    cases.push(case("qsh missing", unauthorized("jwt_missing_qsh"), || {
        Attempt::jwt(without("qsh"))
    }));
    cases.push(case("qsh null", unauthorized("jwt_missing_qsh"), || {
        Attempt::jwt(set("qsh", Value::Null))
    }));
    cases.push(case(
        "qsh of another method (GET, same path)",
        unauthorized("jwt_qsh_mismatch"),
        || {
            let other = json!(qsh("GET", ISSUE_CREATED));
            Attempt::jwt(set("qsh", other))
        },
    ));
    cases.push(case(
        "qsh of another path (comment_created)",
        unauthorized("jwt_qsh_mismatch"),
        || {
            let other = json!(qsh("POST", COMMENT_CREATED));
            Attempt::jwt(set("qsh", other))
        },
    ));
    cases.push(case(
        "qsh of another query (?user_id=admin)",
        unauthorized("jwt_qsh_mismatch"),
        || {
            let other = json!(qsh("POST", &format!("{ISSUE_CREATED}?user_id=admin")));
            Attempt::jwt(set("qsh", other))
        },
    ));
    cases.push(case(
        "qsh = context-qsh on a webhook",
        unauthorized("jwt_context_qsh"),
        || Attempt::jwt(set("qsh", json!("context-qsh"))),
    ));
    cases.push(case(
        "qsh right but in upper-case hex",
        unauthorized("jwt_qsh_mismatch"),
        || {
            let upper = json!(qsh("POST", ISSUE_CREATED).to_uppercase());
            Attempt::jwt(set("qsh", upper))
        },
    ));
    cases.push(case(
        "qsh = the canonical request, unhashed",
        unauthorized("jwt_qsh_mismatch"),
        || {
            let canonical = CanonicalRequest::new("POST", ISSUE_CREATED, "").to_string();
            Attempt::jwt(set("qsh", json!(canonical)))
        },
    ));
    cases.push(case("qsh empty", unauthorized("jwt_qsh_mismatch"), || {
        Attempt::jwt(set("qsh", json!("")))
    }));
    cases.push(case(
        "qsh not a string (a number)",
        unauthorized("jwt_malformed"),
        || Attempt::jwt(set("qsh", json!(0))),
    ));

    // 8. Replay of a valid token for POST ISSUE_CREATED elsewhere.
    cases.push(case(
        "replay: valid issue_created token sent to issue_updated",
        unauthorized("jwt_qsh_mismatch"),
        || Attempt::to(ISSUE_UPDATED, valid_token()),
    ));
    cases.push(case(
        "replay: valid issue_created token sent to comment_created",
        unauthorized("jwt_qsh_mismatch"),
        || Attempt::to(COMMENT_CREATED, valid_token()),
    ));
    cases.push(case(
        "replay: valid token with an extra query parameter appended",
        unauthorized("jwt_qsh_mismatch"),
        || Attempt::to(&format!("{ISSUE_CREATED}?extra=1"), valid_token()),
    ));
    cases.push(case(
        "replay: valid token with an empty query parameter appended",
        unauthorized("jwt_qsh_mismatch"),
        || Attempt::to(&format!("{ISSUE_CREATED}?x"), valid_token()),
    ));
    // The handler percent-decodes the event name, the qsh hashes the path as sent.
    cases.push(case(
        "replay: valid token sent to the percent-encoded path (jira%3Aissue_created)",
        unauthorized("jwt_qsh_mismatch"),
        || Attempt::to("/webhooks/jira/jira%3Aissue_created", valid_token()),
    ));

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

// ---------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------

fn fixture() -> Vec<u8> {
    std::fs::read(format!(
        "{}/../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `Err` unless the work queue is empty.
async fn nothing_enqueued(app: &TestApp) -> Result<(), String> {
    match app.drain_work_queue(Duration::from_millis(300)).await.len() {
        0 => Ok(()),
        n => Err(format!("{n} message(s) left on the work queue at the end")),
    }
}

/// `Err` unless `/healthz` answers 200 within 5 s.
async fn healthy(app: &TestApp) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(5), app.get("/healthz")).await {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(response) => Err(format!("/healthz answered {}", response.status())),
        Err(_) => Err("/healthz did not answer within 5 s".to_owned()),
    }
}

fn client_key_header(message: &lapin::message::BasicGetMessage) -> Option<String> {
    let headers = message.properties.headers().as_ref()?;
    match headers.inner().get(headers::CLIENT_KEY) {
        Some(AMQPValue::LongString(value)) => Some(value.to_string()),
        _ => None,
    }
}

/// Sends one case and checks the answer and the queue; `Err` says what went wrong.
async fn run(app: &TestApp, case: &Case, webhook_id: &str) -> Result<String, String> {
    let attempt = (case.build)();
    let mut headers = vec![("X-Atlassian-Webhook-Identifier", webhook_id)];
    headers.extend(
        attempt
            .authorization
            .iter()
            .map(|v| ("Authorization", v.as_str())),
    );
    let body = attempt.body.unwrap_or_else(fixture);
    let response = app.post_bytes(&attempt.target, None, &headers, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = json["code"].as_str().unwrap_or_default().to_owned();
    let observed = format!("{status} {code}");

    for value in &attempt.authorization {
        let token = value.split_once(' ').map_or("", |(_, token)| token.trim());
        if token.len() >= 16 && text.contains(token) {
            return Err(format!("{observed}: the answer echoes the token"));
        }
    }
    match case.expect {
        Expect::Accepted => {
            if status != 202 || json["eventId"].as_str().is_none() {
                return Err(format!(
                    "expected 202 with an eventId, got {status}: {text}"
                ));
            }
            let messages = app.drain_work_queue(Duration::from_secs(5)).await;
            let ids: Vec<Option<String>> = messages
                .iter()
                .map(|m| m.properties.message_id().as_ref().map(|id| id.to_string()))
                .collect();
            if ids != [Some(webhook_id.to_owned())] {
                return Err(format!("accepted, but the queue held {ids:?}"));
            }
            let QueueMessage::EventV1(envelope) = QueueMessage::from_bytes(&messages[0].data)
                .map_err(|e| format!("accepted, but the message is no envelope: {e}"))?;
            let header = client_key_header(&messages[0]);
            if envelope.tenant.to_string() != TENANT_A || header.as_deref() != Some(TENANT_A) {
                return Err(format!(
                    "accepted as {:?} (header {header:?}), not as {TENANT_A}",
                    envelope.tenant
                ));
            }
            Ok("202".to_owned())
        }
        Expect::Refused(want_status, want_code) => {
            // Publishing is confirmed before any 2xx, so a leak is on the queue by now.
            let leaked = app.drain_work_queue(Duration::ZERO).await.len();
            if status != want_status || code != want_code {
                return Err(format!(
                    "expected {want_status} {want_code}, got {status}: {text}{}",
                    if leaked > 0 {
                        format!(" and {leaked} message(s) enqueued")
                    } else {
                        String::new()
                    }
                ));
            }
            if json["message"].as_str().unwrap_or_default().is_empty() {
                return Err(format!("{observed}: the error body has no message: {text}"));
            }
            if leaked > 0 {
                return Err(format!("{observed}, but {leaked} message(s) were enqueued"));
            }
            Ok(observed)
        }
    }
}

#[tokio::test]
async fn forged_and_malformed_webhook_tokens_get_their_documented_answer() {
    let app = spawn_app().await;
    app.install_tenant(TENANT_A, SECRET_A).await;
    app.install_tenant(TENANT_B, SECRET_B).await;

    let started = Instant::now();
    let cases = cases();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let webhook_id = format!("attack-jwt-{i:03}");
        match run(&app, case, &webhook_id).await {
            Ok(observed) => println!("ok   {observed:<28} {}", case.name),
            Err(problem) => {
                println!("FAIL {:<28} {}", "", case.name);
                failures.push(format!("case {i} `{}`: {problem}", case.name));
            }
        }
    }
    println!("{} cases in {:?}", cases.len(), started.elapsed());
    // Checked whatever the cases did, and reported with them.
    for check in [nothing_enqueued(&app).await, healthy(&app).await] {
        if let Err(problem) = check {
            failures.push(format!("after the cases: {problem}"));
        }
    }
    app.stop().await;
    assert!(
        failures.is_empty(),
        "{} problem(s) in {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
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

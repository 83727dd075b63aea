//! Forged webhook JWTs against the running ingress: the claims. A tenant's secret speaks for
//! no other tenant, and `iss`, `aud`, `exp` and `iat` are checked as documented. What every
//! case is and must hold to: `attacks_support/mod.rs`.
//!
//! Why some cases are *accepted* (each follows docs/protocol.md §2 and the verifier in
//! `common/src/connect/verify.rs`):
//! - `aud` is not checked on product-issued tokens ("sometimes aud"; npm `atlassian-jwt`
//!   2.0.3 ignores it and the PyPI one passes the token's own `aud` as the expected audience);
//!   only its shape (a string or a list of strings) is;
//! - `iat` is optional (only `exp` is required); `exp` has a 30 s leeway and no upper bound.
//!
//! Tenant isolation of the JSON API with context tokens is covered elsewhere and not repeated:
//! `ui_api.rs::a_token_of_another_tenant_never_reaches_this_tenants_rules` (tenant B's context
//! token lists none of A's rules, PATCH and DELETE of A's rule id → 404 `rule_not_found`, B's
//! secret under A's clientKey → 401 `jwt_bad_signature`) and
//! `ui_activity.rs::activity_shows_only_this_tenants_rows_of_that_issue` (`/api/activity`).
mod attacks_support;
mod support;

use attacks_support::tokens::{forge, hs256_header, raw_claims, set, valid_claims, without};
use attacks_support::{
    case, run_cases, unauthorized, Attempt, Case, Expect, SECRET_B, TENANT_A, TENANT_B,
};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use support::now;

/// `security.jwt_leeway_secs` by default.
const LEEWAY_SECS: i64 = 30;

fn cases() -> Vec<Case> {
    use Expect::Accepted;
    let mut cases = Vec::new();

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
    cases
}

#[tokio::test]
async fn forged_claims_get_their_documented_answer() {
    run_cases("claims", cases()).await;
}

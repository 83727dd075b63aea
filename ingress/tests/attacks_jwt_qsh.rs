//! Forged webhook JWTs against the running ingress: the query string hash (`qsh`), and a valid
//! token replayed to other targets; with the two controls (a valid token is accepted, so the
//! harness can succeed). What every case is and must hold to: `attacks_support/mod.rs`.
mod attacks_support;
mod support;

use attacks_support::tokens::{qsh, set, valid_token, without};
use attacks_support::{
    case, run_cases, unauthorized, Attempt, Case, Expect, COMMENT_CREATED, ISSUE_CREATED,
    ISSUE_UPDATED, SECRET_A, TENANT_A,
};
use common::connect::CanonicalRequest;
use serde_json::{json, Value};
use support::hs_token;

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
    cases
}

#[tokio::test]
async fn qsh_mismatches_and_replays_get_their_documented_answer() {
    run_cases("qsh", cases()).await;
}

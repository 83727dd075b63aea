//! The product REST side: signed calls are recorded per tenant, anything else is refused.
mod support;

use common::tenant::ProductType;
use serde_json::{json, Value};
use simulator::ProductSim;
use support::{now, TestTenant};

const COMMENT: &str = "/rest/api/2/issue/KAN-1/comment";

#[tokio::test]
async fn a_correctly_signed_jira_comment_is_recorded() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let properties = json!([{ "key": "hookline", "value": { "rule": 7 } }]);
    let body = json!({ "body": "Deployed", "properties": properties });

    let response = jira.send("POST", COMMENT, Some(body.clone())).await;

    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    let comments = sim.comments("jira-1");
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].target, "KAN-1");
    assert_eq!(comments[0].body, body);
    assert_eq!(comments[0].properties, properties);
    assert_eq!(answer["id"], comments[0].id.as_str());
    let requests = sim.requests("jira-1");
    assert_eq!((requests[0].status, requests[0].jwt.clone()), (201, Ok(())));
    assert!(requests[0].path.ends_with(COMMENT));
    assert_eq!(sim.rejected_requests(), 0);
}

#[tokio::test]
async fn a_token_failing_any_check_gets_401_and_records_nothing() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let mut expired = jira.claims("POST", COMMENT);
    (expired.iat, expired.exp) = (Some(now() - 1000), Some(now() - 820));
    let mut wrong_iss = jira.claims("POST", COMMENT);
    wrong_iss.iss = Some("jira-1".to_owned());
    let mut no_aud = jira.claims("POST", COMMENT);
    no_aud.aud.clear();
    let cases = [
        (
            Some(jira.token_with_secret("POST", COMMENT, "wrong")),
            "jwt_bad_signature",
        ),
        (
            Some(jira.token("POST", "/rest/api/2/issue/KAN-2/comment")),
            "jwt_qsh_mismatch",
        ),
        (Some(jira.token("GET", COMMENT)), "jwt_qsh_mismatch"),
        (Some(jira.sign(&expired)), "jwt_expired"),
        (Some(jira.sign(&wrong_iss)), "jwt_wrong_iss"),
        (Some(jira.sign(&no_aud)), "jwt_wrong_aud"),
        (None, "jwt_missing"),
    ];

    for (token, code) in &cases {
        let body = Some(json!({ "body": "nope" }));
        let response = jira
            .send_with("POST", COMMENT, body, token.as_deref())
            .await;
        assert_eq!(response.status(), 401, "{code}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["code"], *code);
    }

    assert!(sim.comments("jira-1").is_empty());
    assert_eq!(sim.rejected_requests(), cases.len());
    let verdicts: Vec<_> = sim
        .requests("jira-1")
        .into_iter()
        .map(|r| (r.status, r.jwt))
        .collect();
    let expected: Vec<_> = cases
        .iter()
        .map(|(_, code)| (401, Err(code.to_string())))
        .collect();
    assert_eq!(verdicts, expected);
}

#[tokio::test]
async fn the_confluence_qsh_is_computed_without_the_wiki_base_path() {
    let sim = ProductSim::start().await;
    let wiki = TestTenant::add(&sim, "wiki-1", ProductType::Confluence);
    assert!(wiki.base_url.ends_with("/wiki"));
    let path = "/api/v2/footer-comments";
    let body =
        json!({ "pageId": "123", "body": { "representation": "storage", "value": "<p>hi</p>" } });
    let site_path = wiki.base_path().trim_end_matches("/wiki").to_owned();
    let with_wiki = common::connect::CanonicalRequest::new(
        "POST",
        &format!("{}{path}", wiki.base_path()),
        &site_path,
    );
    assert!(with_wiki
        .as_str()
        .starts_with("POST&/wiki/api/v2/footer-comments&"));
    let mut claims = wiki.claims("POST", path);
    claims.qsh = Some(with_wiki.qsh().as_str().to_owned());

    let refused = wiki
        .send_with("POST", path, Some(body.clone()), Some(&wiki.sign(&claims)))
        .await;
    let accepted = wiki.send("POST", path, Some(body.clone())).await;

    assert_eq!(refused.status(), 401);
    assert_eq!(accepted.status(), 201);
    let comments = sim.comments("wiki-1");
    assert_eq!(comments.len(), 1);
    assert_eq!(
        (comments[0].target.as_str(), &comments[0].body),
        ("123", &body)
    );
    assert_eq!(
        wiki.canonical("POST", path).as_str(),
        "POST&/api/v2/footer-comments&"
    );
}

#[tokio::test]
async fn two_tenants_with_the_same_issue_key_are_recorded_separately() {
    let sim = ProductSim::start().await;
    let first = TestTenant::add(&sim, "jira-a", ProductType::Jira);
    let second = TestTenant::add(&sim, "jira-b", ProductType::Jira);
    assert_ne!(first.base_url, second.base_url);

    first
        .send("POST", COMMENT, Some(json!({ "body": "for a" })))
        .await;
    second
        .send("POST", COMMENT, Some(json!({ "body": "for b" })))
        .await;
    let from_a_to_b = first.token("POST", COMMENT);
    let crossed = second
        .send_with(
            "POST",
            COMMENT,
            Some(json!({ "body": "x" })),
            Some(&from_a_to_b),
        )
        .await;

    assert_eq!(crossed.status(), 401);
    let bodies = |key| {
        sim.comments(key)
            .into_iter()
            .map(|c| c.body["body"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(bodies("jira-a"), vec![json!("for a")]);
    assert_eq!(bodies("jira-b"), vec![json!("for b")]);
    let listed: Value = first
        .send("GET", &format!("{COMMENT}?expand=properties"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["comments"][0]["body"], "for a");
    assert_eq!(listed["comments"][0]["properties"], json!([]));
}

#[tokio::test]
async fn after_set_secret_the_old_secret_is_refused() {
    let sim = ProductSim::start().await;
    let mut jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let old_token = jira.token("POST", COMMENT);

    sim.set_secret("jira-1", "a-new-secret");
    let refused = jira
        .send_with(
            "POST",
            COMMENT,
            Some(json!({ "body": "old" })),
            Some(&old_token),
        )
        .await;
    jira.secret = "a-new-secret".to_owned();
    let accepted = jira
        .send("POST", COMMENT, Some(json!({ "body": "new" })))
        .await;

    assert_eq!(
        (refused.status().as_u16(), accepted.status().as_u16()),
        (401, 201)
    );
    assert_eq!(sim.comments("jira-1").len(), 1);
}

#[tokio::test]
async fn an_unknown_site_gets_404_and_counts_as_rejected() {
    let sim = ProductSim::start().await;
    let url = format!(
        "http://{}/t/nobody/rest/api/2/issue/KAN-1/comment",
        sim.address()
    );

    let response = reqwest::Client::new()
        .post(url)
        .body("{}")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    assert_eq!(sim.rejected_requests(), 1);
}

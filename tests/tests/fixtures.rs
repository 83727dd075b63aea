//! Every real payload captured in `fixtures/payloads/`, and every documented-shape payload of
//! an event a rule can act on, flows through the whole pipeline to one comment on its subject.
use common::subject::subject_of;
use common::tenant::ProductType;
use serde_json::Value;
use simulator::payloads::{self, DOCUMENTED, FIXTURES};
use tests::{in_both_modes, rules, E2e, Mode};

in_both_modes!(
    every_captured_payload_flows_through_to_one_comment,
    every_documented_payload_flows_through_to_one_comment_on_its_subject,
);

/// The rule that comments on what `payload` is about, and that subject (issue key or page id).
fn comment_rule(product: ProductType, event: &str, payload: &Value) -> (Value, String) {
    match product {
        ProductType::Jira => (
            rules::jira_comment(event, "{{ event }} on {{ issue.key }}"),
            payload["issue"]["key"]
                .as_str()
                .expect("an issue key")
                .to_owned(),
        ),
        ProductType::Confluence => (
            rules::confluence_comment(event, "<p>{{ event }} of {{ page.title }}</p>"),
            payload["page"]["id"].to_string(),
        ),
    }
}

async fn every_captured_payload_flows_through_to_one_comment(mode: Mode) {
    let app = E2e::start(mode).await;
    let mut expected = Vec::new();
    for (index, (file, product, event)) in FIXTURES.iter().enumerate() {
        let product = ProductType::parse(product).expect("a known product");
        let payload = payloads::fixture(file).expect("an embedded capture");
        let tenant = app.install(&format!("fixture-{index}"), product).await;
        let (rule, subject) = comment_rule(product, event, &payload);
        app.add_rule(&tenant, rule).await;
        app.deliver(&tenant, event, &payload).await;
        expected.push((file, tenant, subject));
    }

    for (file, tenant, subject) in expected {
        let comments = app.settled_comments(&tenant, 1).await;
        assert_eq!(comments[0].target, subject, "{file}");
    }
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

/// Confluence comments act on their page or blog post (`comment.parent`), blog posts like
/// pages; `jira:issue_deleted` is left out: no rule may act on a deleted issue.
async fn every_documented_payload_flows_through_to_one_comment_on_its_subject(mode: Mode) {
    let app = E2e::start(mode).await;
    let mut expected = Vec::new();
    let actionable = DOCUMENTED
        .iter()
        .filter(|(_, _, event)| *event != "jira:issue_deleted");
    for (index, (file, product, event)) in actionable.enumerate() {
        let product = ProductType::parse(product).expect("a known product");
        let payload = payloads::fixture(file).expect("an embedded payload");
        let subject = subject_of(product, &payload).expect("the payload names its subject");
        let tenant = app.install(&format!("documented-{index}"), product).await;
        let rule = match product {
            ProductType::Jira => rules::jira_comment(event, "{{ event }}"),
            ProductType::Confluence => rules::confluence_comment(event, "<p>{{ event }}</p>"),
        };
        app.add_rule(&tenant, rule).await;
        app.deliver(&tenant, event, &payload).await;
        expected.push((file, tenant, subject.id));
    }

    for (file, tenant, subject) in expected {
        let comments = app.settled_comments(&tenant, 1).await;
        assert_eq!(comments[0].target, subject, "{file}");
    }
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

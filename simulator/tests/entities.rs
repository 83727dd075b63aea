//! Labels, properties and comment formats: effects are recorded, malformed bodies get 400.
mod support;

use common::tenant::ProductType;
use serde_json::{json, Value};
use simulator::ProductSim;
use support::TestTenant;

#[tokio::test]
async fn jira_labels_and_properties_are_recorded_and_a_property_write_replaces_the_value() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let labels = json!({ "update": { "labels": [{ "add": "triaged" }, { "remove": "new" }] } });
    let property = "/rest/api/2/issue/KAN-1/properties/hookline.state";

    let edited = jira
        .send("PUT", "/rest/api/2/issue/KAN-1", Some(labels))
        .await;
    let created = jira.send("PUT", property, Some(json!({ "seen": 1 }))).await;
    let replaced = jira.send("PUT", property, Some(json!({ "seen": 2 }))).await;
    let read: Value = jira.send("GET", property, None).await.json().await.unwrap();

    assert_eq!(edited.status(), 204);
    assert_eq!(
        (created.status().as_u16(), replaced.status().as_u16()),
        (201, 200)
    );
    let recorded = sim.labels("jira-1");
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].target.as_str(), recorded[0].label.as_str()),
        ("KAN-1", "triaged")
    );
    let properties = sim.properties("jira-1");
    assert_eq!(properties.len(), 1);
    assert_eq!(
        (properties[0].key.as_str(), &properties[0].value),
        ("hookline.state", &json!({ "seen": 2 }))
    );
    assert_eq!(read["value"], json!({ "seen": 2 }));
}

#[tokio::test]
async fn malformed_jira_bodies_get_400_and_record_nothing() {
    let sim = ProductSim::start().await;
    let jira = TestTenant::add(&sim, "jira-1", ProductType::Jira);
    let v3 = "/rest/api/3/issue/KAN-1/comment";
    let cases = [
        (
            "POST",
            "/rest/api/2/issue/KAN-1/comment",
            json!({ "body": { "type": "doc" } }),
        ),
        (
            "POST",
            "/rest/api/2/issue/KAN-1/comment",
            json!({ "text": "no body" }),
        ),
        ("POST", v3, json!({ "body": "plain text is not ADF" })),
        (
            "PUT",
            "/rest/api/2/issue/KAN-1",
            json!({ "update": { "labels": [{ "add": "two words" }] } }),
        ),
    ];

    for (method, path, body) in cases {
        let response = jira.send(method, path, Some(body.clone())).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    let adf = json!({ "body": { "type": "doc", "version": 1, "content": [] } });
    assert_eq!(jira.send("POST", v3, Some(adf)).await.status(), 201);
    assert_eq!(sim.comments("jira-1").len(), 1);
    assert!(sim.labels("jira-1").is_empty());
}

#[tokio::test]
async fn confluence_comments_labels_and_properties_are_recorded() {
    let sim = ProductSim::start().await;
    let wiki = TestTenant::add(&sim, "wiki-1", ProductType::Confluence);
    let comment =
        json!({ "pageId": "42", "body": { "representation": "storage", "value": "<p>ok</p>" } });
    let properties = "/api/v2/pages/42/properties";

    wiki.send("POST", "/api/v2/footer-comments", Some(comment))
        .await;
    let listed: Value = wiki
        .send(
            "GET",
            "/api/v2/pages/42/footer-comments?body-format=storage",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let labelled = wiki
        .send(
            "POST",
            "/rest/api/content/42/label",
            Some(json!([{ "prefix": "global", "name": "done" }])),
        )
        .await;
    let created: Value = wiki
        .send(
            "POST",
            properties,
            Some(json!({ "key": "state", "value": 1 })),
        )
        .await
        .json()
        .await
        .unwrap();
    let duplicate = wiki
        .send(
            "POST",
            properties,
            Some(json!({ "key": "state", "value": 2 })),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let update = json!({ "key": "state", "value": 3, "version": { "number": 2 } });
    let updated = wiki
        .send("PUT", &format!("{properties}/{id}"), Some(update))
        .await;

    assert_eq!(
        listed["results"][0]["body"]["storage"]["value"],
        "<p>ok</p>"
    );
    assert_eq!(labelled.status(), 200);
    assert_eq!(sim.labels("wiki-1")[0].label, "done");
    assert_eq!(duplicate.status(), 409);
    assert_eq!(updated.status(), 200);
    let recorded = sim.properties("wiki-1");
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].target.as_str(), &recorded[0].value),
        ("42", &json!(3))
    );
    let missing_page = json!({ "body": { "representation": "storage", "value": "x" } });
    let refused = wiki
        .send("POST", "/api/v2/footer-comments", Some(missing_page))
        .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(sim.comments("wiki-1").len(), 1);
}

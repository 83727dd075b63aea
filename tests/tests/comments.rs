//! The happy path, end to end: install → rule → webhook → exactly one signed comment, for Jira
//! and Confluence, and tenants kept apart.
use common::tenant::ProductType;
use serde_json::json;
use simulator::payloads;
use tests::{in_both_modes, rules, E2e, Mode};

in_both_modes!(
    install_webhook_rule_comment_for_jira,
    install_webhook_rule_footer_comment_for_confluence,
    two_jira_tenants_with_the_same_issue_key_each_get_only_their_own_comment,
);

async fn install_webhook_rule_comment_for_jira(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = app.install("jira-site", ProductType::Jira).await;
    app.add_rule(&jira, json!({"name": "triage", "event": "jira:issue_created",
        "conditions": [{"type": "project_key", "key": "KAN"}],
        "action": {"type": "jira_comment", "template": "Thanks! {{ issue.key }} ({{ issue.fields.summary }}) is queued."}}))
        .await;

    let payload = payloads::jira_issue_created("KAN-1", "Login fails", "KAN");
    app.deliver(&jira, "jira:issue_created", &payload).await;

    let comments = app.settled_comments(&jira, 1).await;
    assert_eq!(comments[0].target, "KAN-1");
    // REST v2: the body is plain text, and the comment carries hookline's marker property.
    assert_eq!(
        comments[0].body["body"],
        "Thanks! KAN-1 (Login fails) is queued."
    );
    assert_eq!(comments[0].properties[0]["key"], "hookline");
    let requests = app.product.requests(&jira.client_key);
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 1, "{}", app.snapshot(&jira));
    assert!(
        posts[0].path.ends_with("/rest/api/2/issue/KAN-1/comment"),
        "{}",
        posts[0].path
    );
    assert!(requests.iter().all(|r| r.jwt.is_ok()), "{requests:?}");
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

async fn install_webhook_rule_footer_comment_for_confluence(mode: Mode) {
    let app = E2e::start(mode).await;
    let wiki = app.install("wiki-site", ProductType::Confluence).await;
    assert!(wiki.base_url.ends_with("/wiki"), "{}", wiki.base_url);
    let template = "<p>New page {{ page.title }} in {{ page.spaceKey }}</p>";
    app.add_rule(&wiki, rules::confluence_comment("page_created", template))
        .await;

    let payload = payloads::confluence_page_created(194347009, "Notes <draft>", "ENG");
    app.deliver(&wiki, "page_created", &payload).await;

    let comments = app.settled_comments(&wiki, 1).await;
    assert_eq!(comments[0].target, "194347009");
    // Values from the payload are HTML-escaped into the storage format.
    assert_eq!(
        comments[0].body["body"]["value"],
        "<p>New page Notes &lt;draft&gt; in ENG</p>"
    );
    let requests = app.product.requests(&wiki.client_key);
    assert_eq!(requests.len(), 1, "{}", app.snapshot(&wiki));
    // The call goes under the site's /wiki, and the simulator, which computes the qsh without
    // /wiki, accepted its token.
    assert!(
        requests[0].path.ends_with("/wiki/api/v2/footer-comments"),
        "{}",
        requests[0].path
    );
    assert_eq!(requests[0].jwt, Ok(()));
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

async fn two_jira_tenants_with_the_same_issue_key_each_get_only_their_own_comment(mode: Mode) {
    let app = E2e::start(mode).await;
    let first = app.install("site-a", ProductType::Jira).await;
    let second = app.install("site-b", ProductType::Jira).await;
    for (tenant, template) in [
        (&first, "Site A saw {{ issue.key }}"),
        (&second, "Site B saw {{ issue.key }}"),
    ] {
        app.add_rule(tenant, rules::jira_comment("jira:issue_created", template))
            .await;
    }

    let payload = payloads::jira_issue_created("KAN-1", "Same key on two sites", "KAN");
    app.deliver(&first, "jira:issue_created", &payload).await;
    app.deliver(&second, "jira:issue_created", &payload).await;

    for (tenant, text) in [(&first, "Site A saw KAN-1"), (&second, "Site B saw KAN-1")] {
        let comments = app.settled_comments(tenant, 1).await;
        assert_eq!(comments[0].target, "KAN-1");
        assert_eq!(comments[0].body["body"], text, "{}", tenant.client_key);
    }
    // Each site verified its calls with its own secret.
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

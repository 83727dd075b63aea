//! ConnectSim's delivery behaviour against a scripted app: Jira's retries (same webhook id and
//! body, `X-Atlassian-Webhook-Retry`, re-signed), its limits, and Confluence's single attempt.
mod connect_support;

use common::connect::{CanonicalRequest, QshRule, SharedSecret, Verifier};
use common::tenant::ProductType;
use connect_support::{fast, Received, ScriptedApp};
use simulator::payloads;
use simulator::{ConnectSim, ProductSim, SendOptions, SimTenant};

async fn scripted(script: &[u16]) -> (ScriptedApp, ConnectSim) {
    let app = ScriptedApp::start(script);
    let sim = ConnectSim::start(&app.url, ProductSim::start().await).await;
    (app, sim)
}

fn tenant(product: ProductType) -> SimTenant {
    SimTenant {
        client_key: "scripted-1".into(),
        shared_secret: "a-shared-secret-of-at-least-32-characters".into(),
        product,
        base_url: "http://127.0.0.1:9/t/scripted".into(),
    }
}

/// Checks a received request's JWT as the app would: HS256, the tenant's secret, the qsh of
/// the request, `iss` = clientKey.
fn assert_signed(received: &Received, tenant: &SimTenant) {
    let token = received
        .header("authorization")
        .unwrap()
        .strip_prefix("JWT ")
        .unwrap();
    let request = CanonicalRequest::new("POST", &received.path, "");
    let secret = SharedSecret::new(tenant.shared_secret.as_str());
    let claims = Verifier::new(0)
        .verify_with_secret(token, &secret, &request, QshRule::Request)
        .unwrap();
    assert_eq!(claims.iss.as_deref(), Some(tenant.client_key.as_str()));
}

#[tokio::test]
async fn a_jira_webhook_answered_503_is_retried_with_the_same_id_and_body() {
    let (app, sim) = scripted(&[503, 503]).await;
    let tenant = tenant(ProductType::Jira);
    let payload = payloads::jira_issue_created("KAN-4", "Retry me", "KAN");
    let options = SendOptions {
        webhook_id: Some("wh-fixed-1".into()),
        ..fast()
    };

    let report = sim
        .send_webhook(&tenant, "jira:issue_created", &payload, options)
        .await
        .unwrap();

    assert_eq!(report.attempts, [503, 503, 202]);
    assert!(report.accepted);
    assert_eq!(
        (report.webhook_id.as_str(), report.final_status()),
        ("wh-fixed-1", 202)
    );
    let received = app.received();
    assert_eq!(received.len(), 3);
    let retries: Vec<_> = received
        .iter()
        .map(|r| r.header("x-atlassian-webhook-retry"))
        .collect();
    assert_eq!(retries, [None, Some("1"), Some("2")]);
    for request in &received {
        assert_eq!(request.path, "/webhooks/jira/jira:issue_created");
        assert_eq!(
            request.header("x-atlassian-webhook-identifier"),
            Some("wh-fixed-1")
        );
        assert_eq!(request.header("x-atlassian-webhook-flow"), Some("Primary"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.body, received[0].body);
        assert_signed(request, &tenant);
    }
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body, payload);
}

#[tokio::test]
async fn jira_retries_a_dropped_connection_and_gives_up_after_max_attempts() {
    let (_app, sim) = scripted(&[0, 500, 500, 500]).await;
    let tenant = tenant(ProductType::Jira);
    let payload = payloads::jira_issue_created("KAN-5", "Flaky", "KAN");
    let event = "jira:issue_created";

    let first = sim
        .send_webhook(&tenant, event, &payload, fast())
        .await
        .unwrap();
    let options = SendOptions {
        max_attempts: Some(2),
        ..fast()
    };
    let second = sim
        .send_webhook(&tenant, event, &payload, options)
        .await
        .unwrap();

    assert_eq!(first.attempts, [0, 500, 500, 500, 202]);
    assert_eq!(second.attempts, [202]);
    assert_ne!(
        first.webhook_id, second.webhook_id,
        "each delivery has a fresh id"
    );
}

#[tokio::test]
async fn jira_stops_after_max_attempts_and_confluence_never_retries() {
    let (app, sim) = scripted(&[500, 500, 503]).await;
    let payload = payloads::jira_issue_created("KAN-6", "Down", "KAN");
    let options = SendOptions {
        max_attempts: Some(2),
        ..fast()
    };
    let jira = sim
        .send_webhook(
            &tenant(ProductType::Jira),
            "jira:issue_created",
            &payload,
            options,
        )
        .await
        .unwrap();
    assert_eq!(
        (jira.attempts.as_slice(), jira.accepted),
        (&[500, 500][..], false)
    );

    let page = payloads::confluence_page_created(7, "Down", "DOC");
    let confluence = sim
        .send_webhook(
            &tenant(ProductType::Confluence),
            "page_created",
            &page,
            fast(),
        )
        .await
        .unwrap();

    assert_eq!(confluence.attempts, [503]);
    assert!(!confluence.accepted);
    let received = app.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[2].path, "/webhooks/confluence/page_created");
    assert_eq!(received[2].header("x-atlassian-webhook-retry"), None);
}

#[tokio::test]
async fn behind_a_proxy_requests_go_to_the_address_with_paths_relative_to_the_base_url() {
    let app = ScriptedApp::start(&[]);
    let product = ProductSim::start().await;
    let sim = ConnectSim::start_with_address("https://app.example.com/", &app.url, product).await;
    let tenant = tenant(ProductType::Jira);
    let payload = payloads::jira_issue_created("KAN-7", "Proxied", "KAN");

    let report = sim
        .send_webhook(&tenant, "jira:issue_created", &payload, fast())
        .await
        .unwrap();

    assert_eq!(report.attempts, [202]);
    assert_eq!(sim.app_base_url(), "https://app.example.com");
    let received = app.received();
    assert_eq!(received[0].path, "/webhooks/jira/jira:issue_created");
    assert_signed(&received[0], &tenant);
}

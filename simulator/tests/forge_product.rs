//! The product APIs of Forge sites: at `/ex/{product}/{cloudId}` with the site's live system
//! token only, 403 until the app's permissions are granted, Confluence paths under `/wiki`.
mod forge_support;

use common::tenant::ProductType;
use forge_support::{comment, forge, jira_site};
use serde_json::json;

#[tokio::test]
async fn the_product_accepts_only_the_sites_live_system_token() {
    let (_app, sim, product) = forge(&[]).await;
    let site = jira_site(&sim, "acme").await;
    let other = jira_site(&sim, "globex").await;
    let token = sim.system_token(&site);

    assert_eq!(comment(&site, Some(&token)).await, 201);
    let comments = product.comments(&site.site_key);
    assert_eq!((comments.len(), comments[0].target.as_str()), (1, "KAN-1"));
    assert_eq!(comment(&site, Some(&sim.system_token(&other))).await, 401);
    assert_eq!(comment(&site, None).await, 401);
    assert_eq!(comment(&site, Some("made-up")).await, 401);
    assert_eq!(product.rejected_requests(), 3);
    let codes: Vec<_> = product
        .requests(&site.site_key)
        .into_iter()
        .map(|r| r.jwt)
        .collect();
    assert_eq!(
        codes[1..],
        [
            Err("bearer_unknown".into()),
            Err("bearer_missing".into()),
            Err("bearer_unknown".into())
        ]
    );

    sim.expire_system_tokens(&site);
    assert_eq!(comment(&site, Some(&token)).await, 401);
    let expired = sim.system_token(&site);
    assert_eq!(comment(&site, Some(&expired)).await, 401);
    assert_eq!(
        product.requests(&site.site_key)[5].jwt,
        Err("bearer_expired".into())
    );
    let fresh = sim.rotate_system_token(&site);
    assert_eq!(comment(&site, Some(&fresh)).await, 201);
    assert_eq!(comment(&other, Some(&sim.system_token(&other))).await, 201);
    assert_eq!(
        product.base_url(&site.site_key),
        Some(site.api_base_url.clone())
    );
}

#[tokio::test]
async fn permissions_denied_until_granted_answer_403() {
    let (_app, sim, product) = forge(&[]).await;
    let site = jira_site(&sim, "acme").await;
    let token = sim.system_token(&site);
    product.deny_until_granted(&site.site_key);

    assert_eq!(comment(&site, Some(&token)).await, 403);
    assert!(product.comments(&site.site_key).is_empty());
    assert_eq!(product.rejected_requests(), 0);
    product.grant(&site.site_key);
    assert_eq!(comment(&site, Some(&token)).await, 201);
}

#[tokio::test]
async fn confluence_calls_keep_the_wiki_prefix() {
    let (_app, sim, product) = forge(&[]).await;
    let (site, _) = sim.install("acme", ProductType::Confluence).await.unwrap();
    let jira = jira_site(&sim, "acme").await;
    assert_eq!(site.cloud_id, jira.cloud_id, "one cloud site, two products");
    assert!(site
        .api_base_url
        .ends_with(&format!("/ex/confluence/{}", site.cloud_id)));
    let token = sim.system_token(&site);
    let body =
        json!({ "pageId": "123", "body": { "representation": "storage", "value": "<p>hi</p>" } });
    let post = |path: &str| {
        reqwest::Client::new()
            .post(format!("{}{path}", site.api_base_url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    assert_eq!(
        post("/wiki/api/v2/footer-comments").await.unwrap().status(),
        201
    );
    assert_eq!(post("/api/v2/footer-comments").await.unwrap().status(), 404);
    assert_eq!(product.comments(&site.site_key)[0].target, "123");
    assert!(product.comments(&jira.site_key).is_empty());
}

//! The pages Jira and Confluence frame: authorised by a page-load JWT bound to the request,
//! server-rendered with all.js first, escaped, and under a strict Content-Security-Policy.
mod support;
mod ui_support;

use common::connect::CanonicalRequest;
use common::tenant::ProductType;
use ui_support::{comment_rule, spawn_ui_app, unescape, ADMIN};

const CSP: &str = "default-src 'none'; script-src https://connect-cdn.atl-paas.net 'self'; \
                   style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors https://*.atlassian.net https://*.jira.com https://*.jira-dev.com; \
                   base-uri 'none'; form-action 'self'";

fn csp(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("content-security-policy")
        .expect("a Content-Security-Policy")
        .to_str()
        .expect("ASCII")
}

/// The `src` of every `<script>` in `<head>`, in order.
fn head_scripts(html: &str) -> Vec<String> {
    let head = &html[..html.find("</head>").expect("a head")];
    head.split("<script")
        .skip(1)
        .map(|tag| {
            let src = tag.split("src=\"").nth(1).expect("scripts have a src");
            unescape(&src[..src.find('"').expect("a closing quote")])
        })
        .collect()
}

#[tokio::test]
async fn a_page_load_with_a_valid_token_is_html_with_all_js_first_and_the_csp() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let target = "/pages/rules?lic=none&tz=Europe%2FBerlin&xdm_e=https%3A%2F%2Fa.atlassian.net";
    let url = site.page_url(target);
    let token = url.rsplit("jwt=").next().expect("a token").to_owned();

    let response = ui.app.get(&url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(csp(&response), CSP);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = response.text().await.expect("html");
    let scripts = head_scripts(&html);
    assert_eq!(
        scripts[0], "https://connect-cdn.atl-paas.net/all.js",
        "{scripts:?}"
    );
    assert!(
        scripts[1..].iter().all(|src| src.starts_with("../static/")),
        "{scripts:?}"
    );
    assert!(!html.contains(&token), "the page embeds no token");
    assert!(
        !html.contains("style=") && !html.contains("<style"),
        "no inline styles"
    );
    assert!(
        html.split("<script")
            .skip(1)
            .all(|tag| tag.contains("src=")),
        "no inline scripts"
    );
    assert!(
        html.contains("jira:issue_created"),
        "the events of the site's product"
    );
    assert!(
        !html.contains("page_created"),
        "no Confluence events on a Jira site"
    );

    for asset in scripts[1..]
        .iter()
        .chain(["../static/app.css".to_owned()].iter())
    {
        let path = asset.trim_start_matches("..");
        let response = ui.app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(csp(&response), CSP, "{path}");
    }
    ui.app.stop().await;
}

#[tokio::test]
async fn a_confluence_site_gets_confluence_events_and_actions() {
    let ui = spawn_ui_app(None).await;
    let site = ui
        .install("conf-a", "secret-a", ProductType::Confluence)
        .await;
    let response = ui.app.get(&site.page_url("/pages/rules")).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("html");
    for wanted in [
        "value=\"page_created\"",
        "value=\"confluence_comment\"",
        "value=\"space_key\"",
    ] {
        assert!(html.contains(wanted), "{wanted}: {html}");
    }
    for unwanted in ["jira:issue_created", "jira_comment", "project_key"] {
        assert!(!html.contains(unwanted), "{unwanted}: {html}");
    }
    ui.app.stop().await;
}

#[tokio::test]
async fn the_activity_page_escapes_its_subject_and_embeds_no_token() {
    let ui = spawn_ui_app(None).await;
    let site = ui
        .install("conf-a", "secret-a", ProductType::Confluence)
        .await;

    let response = ui
        .app
        .get(&site.page_url("/pages/activity?pageId=194347009"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(csp(&response), CSP);
    let html = response.text().await.expect("html");
    assert!(html.contains("data-subject=\"194347009\""), "{html}");
    assert!(html.contains("data-param=\"pageId\""), "{html}");
    assert_eq!(
        head_scripts(&html)[0],
        "https://connect-cdn.atl-paas.net/all.js"
    );

    let hostile = "/pages/activity?issueKey=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let response = ui.app.get(&site.page_url(hostile)).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("html");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");

    let response = ui
        .app
        .get(&site.page_url("/pages/activity?issueKey="))
        .await;
    assert_eq!(response.status(), 400, "a panel with an empty subject");
    ui.app.stop().await;
}

#[tokio::test]
async fn a_rule_name_with_markup_is_rendered_escaped() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    ui.sim.set_admins("jira-a", &[ADMIN]);
    let name = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    ui.create_rule(site, &comment_rule(name)).await;

    let response = ui.app.get(&site.page_url("/pages/rules")).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("html");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("data-enabled=\"true\""),
        "the script reads the status: {html}"
    );
    assert!(
        html.contains("<strong>&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;&lt;img src=x onerror=alert(1)&gt;</strong>"),
        "{html}"
    );
    ui.app.stop().await;
}

#[tokio::test]
async fn page_tokens_that_fail_a_check_are_refused_with_401() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let target = "/pages/rules?lic=none";
    let qsh = CanonicalRequest::new("GET", target, "").qsh().to_string();
    let forged = ui_support::Site {
        client_key: "jira-a",
        secret: "not-the-secret",
    };
    let cases = [
        (None, "jwt_missing"),
        (
            Some(forged.page_token(target, Some(ADMIN))),
            "jwt_bad_signature",
        ),
        (
            Some(site.token(qsh, Some(ADMIN), support::now() - 600)),
            "jwt_expired",
        ),
        (
            Some(site.page_token("/pages/activity?issueKey=KAN-1", Some(ADMIN))),
            "jwt_qsh_mismatch",
        ),
        (
            Some(site.page_token("/pages/rules?lic=active", Some(ADMIN))),
            "jwt_qsh_mismatch",
        ),
        (Some(site.context_token(Some(ADMIN))), "jwt_context_qsh"),
    ];
    for (token, code) in cases {
        let url = match &token {
            Some(token) => format!("{target}&jwt={token}"),
            None => target.to_owned(),
        };
        let response = ui.app.get(&url).await;
        assert_eq!(response.status(), 401, "{code}");
        assert_eq!(csp(&response), CSP, "{code}");
        let html = response.text().await.expect("an error page");
        assert!(html.contains(code), "{code}: {html}");
        if let Some(token) = token {
            assert!(
                !html.contains(&token),
                "the error page never shows the token"
            );
        }
    }
    ui.app.stop().await;
}

#[tokio::test]
async fn a_page_of_a_site_that_disabled_the_app_is_refused() {
    let ui = spawn_ui_app(None).await;
    let site = ui.install("jira-a", "secret-a", ProductType::Jira).await;
    let response = ui.app.toggle("disabled", "jira-a", "secret-a").await;
    assert_eq!(response.status(), 204);
    let response = ui.app.get(&site.page_url("/pages/rules")).await;
    assert_eq!(response.status(), 403);
    ui.app.stop().await;
}

#[tokio::test]
async fn each_products_descriptor_declares_its_own_pages() {
    let ui = spawn_ui_app(None).await;
    let descriptor = |product: &'static str| {
        let app = &ui.app;
        async move {
            let url = format!("/{product}/atlassian-connect.json");
            let descriptor: serde_json::Value = app.get(&url).await.json().await.expect("JSON");
            descriptor["modules"].clone()
        }
    };
    let jira = descriptor("jira").await;
    assert_eq!(jira["adminPages"][0]["url"], "/pages/rules");
    assert_eq!(jira["adminPages"][1]["url"], "/pages/activity");
    assert_eq!(
        jira["webPanels"][0]["url"],
        "/pages/activity?issueKey={issue.key}"
    );
    let confluence = descriptor("confluence").await;
    assert_eq!(confluence["configurePage"]["url"], "/pages/rules");
    assert_eq!(confluence["adminPages"][0]["url"], "/pages/activity");
    assert_eq!(
        confluence["contentBylineItems"][0]["url"],
        "/pages/activity?pageId={content.id}"
    );
    ui.app.stop().await;
}

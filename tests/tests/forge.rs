//! hookline as a Forge remote, end to end: Forge installs the app, delivers product events with
//! its own retries, and the worker calls the product back through the installation's
//! apiBaseUrl with its app system token: exactly one effect per event, tenants kept apart
//! (across protocols too), a missing token waited for, late permissions retried, and nothing
//! done after preUninstall.
use common::ledger::{LedgerEntry, LedgerStatus};
use common::tenant::{ClientKey, ProductType};
use serde_json::json;
use simulator::forge::payloads;
use simulator::{ForgeSendOptions, ForgeSite};
use tests::{in_both_modes, rules, E2e, Mode, Patience};

in_both_modes!(
    install_event_rule_comment_through_the_api_base_url_for_jira,
    install_event_rule_footer_comment_under_wiki_for_confluence,
    forge_retrying_an_event_makes_one_comment,
    connect_and_forge_sites_with_the_same_issue_key_each_get_their_own_comment,
    an_event_without_a_usable_token_waits_for_the_next_one,
    permissions_granted_after_installed_still_make_the_comment,
    after_pre_uninstall_events_are_refused_and_nothing_is_done,
);

const DUPLICATES_SKIPPED: &str = "hookline_duplicate_effects_skipped_total{product=\"jira\"}";

fn triage_rule() -> serde_json::Value {
    rules::jira_comment(
        "jira:issue_created",
        "Thanks! {{ issue.key }} ({{ issue.fields.summary }}) is queued.",
    )
}

async fn jira_site_with_triage_rule(app: &E2e, name: &str) -> (ForgeSite, ClientKey) {
    let (site, tenant) = app.forge_install(name, ProductType::Jira).await;
    app.add_rule_for(&tenant, ProductType::Jira, triage_rule())
        .await;
    (site, tenant)
}

/// Waits until a ledger row of `tenant` satisfies `check`.
async fn ledger_row(
    app: &E2e,
    tenant: &ClientKey,
    what: &str,
    check: impl Fn(&LedgerEntry) -> bool,
) -> LedgerEntry {
    let patience = Patience::start();
    loop {
        let rows = app.ledger_of(tenant).await;
        if let Some(row) = rows.iter().find(|row| check(row)) {
            return row.clone();
        }
        patience.pause(what, format!("{rows:?}")).await;
    }
}

async fn install_event_rule_comment_through_the_api_base_url_for_jira(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (site, tenant) = jira_site_with_triage_rule(&app, "acme").await;
    app.forge_deliver(
        &site,
        payloads::jira_issue_created("KAN-1", "Login fails", "KAN"),
    )
    .await;

    let comments = app.settled_comments_of(&site.site_key, 1).await;
    assert_eq!(comments[0].target, "KAN-1");
    assert_eq!(
        comments[0].body["body"],
        "Thanks! KAN-1 (Login fails) is queued."
    );
    let requests = app.product.requests(&site.site_key);
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 1, "{}", app.snapshot_of(&site.site_key));
    assert_eq!(
        posts[0].path,
        format!("/ex/jira/{}/rest/api/2/issue/KAN-1/comment", site.cloud_id)
    );
    // Every call carried the installation's valid app system token.
    assert!(requests.iter().all(|r| r.jwt.is_ok()), "{requests:?}");
    assert_eq!(app.product.rejected_requests(), 0);
    let row = ledger_row(&app, &tenant, "a done row", |row| {
        row.status == LedgerStatus::Done
    })
    .await;
    assert_eq!(row.event, "jira:issue_created");
    assert_eq!(row.result_id.as_deref(), Some(comments[0].id.as_str()));
    app.stop().await;
}

async fn install_event_rule_footer_comment_under_wiki_for_confluence(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (site, tenant) = app.forge_install("acme", ProductType::Confluence).await;
    let template = "<p>New page {{ page.title }} in {{ page.spaceKey }}</p>";
    app.add_rule_for(
        &tenant,
        ProductType::Confluence,
        rules::confluence_comment("page_created", template),
    )
    .await;
    app.forge_deliver(
        &site,
        payloads::confluence_page_created("194347009", "Notes <draft>", "ENG"),
    )
    .await;

    let comments = app.settled_comments_of(&site.site_key, 1).await;
    assert_eq!(comments[0].target, "194347009");
    assert_eq!(
        comments[0].body["body"]["value"],
        "<p>New page Notes &lt;draft&gt; in ENG</p>"
    );
    let requests = app.product.requests(&site.site_key);
    assert_eq!(requests.len(), 1, "{}", app.snapshot_of(&site.site_key));
    assert_eq!(
        requests[0].path,
        format!(
            "/ex/confluence/{}/wiki/api/v2/footer-comments",
            site.cloud_id
        )
    );
    assert_eq!(requests[0].jwt, Ok(()));
    app.stop().await;
}

async fn forge_retrying_an_event_makes_one_comment(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (site, _) = jira_site_with_triage_rule(&app, "acme").await;
    let event = payloads::jira_issue_created("KAN-1", "Delivered twice", "KAN");
    app.forge_deliver(&site, event.clone()).await;
    let comments = app.settled_comments_of(&site.site_key, 1).await;

    // Forge did not see the 202 (a timeout on its side) and retries: another token, a
    // retryContext, flat this time; the same event.
    let mut retried = event.clone();
    retried["retryContext"] =
        json!({"retryCount": 1, "retryReason": "TIMEOUT_ERROR", "retryData": null});
    let options = ForgeSendOptions {
        wrapped: false,
        ..ForgeSendOptions::fast()
    };
    let delivery = app.forge_send(&site, retried, options).await;
    assert_eq!(delivery.attempts, [202]);
    app.wait_for_metric(DUPLICATES_SKIPPED, 1.0).await;
    assert_eq!(app.settled_comments_of(&site.site_key, 1).await, comments);
    app.stop().await;
}

async fn connect_and_forge_sites_with_the_same_issue_key_each_get_their_own_comment(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let connect = app.install("connect-site", ProductType::Jira).await;
    app.add_rule(
        &connect,
        rules::jira_comment("jira:issue_created", "connect {{ issue.key }}"),
    )
    .await;
    let (first, first_tenant) = app.forge_install("acme", ProductType::Jira).await;
    app.add_rule_for(
        &first_tenant,
        ProductType::Jira,
        rules::jira_comment("jira:issue_created", "acme {{ issue.key }}"),
    )
    .await;
    let (second, second_tenant) = app.forge_install("globex", ProductType::Jira).await;
    app.add_rule_for(
        &second_tenant,
        ProductType::Jira,
        rules::jira_comment("jira:issue_created", "globex {{ issue.key }}"),
    )
    .await;
    assert_ne!(first_tenant, second_tenant);

    app.deliver(
        &connect,
        "jira:issue_created",
        &simulator::payloads::jira_issue_created("KAN-1", "A", "KAN"),
    )
    .await;
    app.forge_deliver(&first, payloads::jira_issue_created("KAN-1", "A", "KAN"))
        .await;
    app.forge_deliver(&second, payloads::jira_issue_created("KAN-1", "A", "KAN"))
        .await;

    for (site_key, text) in [
        (connect.client_key.as_str(), "connect KAN-1"),
        (first.site_key.as_str(), "acme KAN-1"),
        (second.site_key.as_str(), "globex KAN-1"),
    ] {
        let comments = app.settled_comments_of(site_key, 1).await;
        assert_eq!(comments[0].body["body"], text, "{site_key}");
    }
    assert_eq!(app.product.rejected_requests(), 0);
    app.stop().await;
}

async fn an_event_without_a_usable_token_waits_for_the_next_one(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let forge = app.forge();
    // Tokens that are usable for about 2 s (none is used in its last 60 s).
    forge.set_token_lifetime(std::time::Duration::from_secs(62));
    let (site, tenant) = jira_site_with_triage_rule(&app, "acme").await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;

    // An event that brings no token: the stored one is past use, so the event waits.
    let options = ForgeSendOptions {
        with_system_token: false,
        ..ForgeSendOptions::fast()
    };
    let delivery = app
        .forge_send(
            &site,
            payloads::jira_issue_created("KAN-1", "Waits", "KAN"),
            options,
        )
        .await;
    assert_eq!(delivery.attempts, [202]);
    let waiting = ledger_row(&app, &tenant, "a row waiting for a token", |row| {
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("system token"))
    })
    .await;
    assert_eq!(waiting.status, LedgerStatus::Pending);
    assert!(app.product.comments(&site.site_key).is_empty());

    // The hourly scheduled trigger brings a fresh token: the event goes through, once.
    forge.set_token_lifetime(std::time::Duration::from_secs(4 * 3600));
    forge.rotate_system_token(&site);
    let refresh = forge
        .refresh(&site)
        .await
        .expect("the refresh is delivered");
    assert_eq!(refresh.attempts, [200]);
    let comments = app.settled_comments_of(&site.site_key, 1).await;
    assert_eq!(comments[0].target, "KAN-1");
    assert!(app
        .product
        .requests(&site.site_key)
        .iter()
        .all(|r| r.jwt.is_ok()));
    app.stop().await;
}

async fn permissions_granted_after_installed_still_make_the_comment(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (site, _) = jira_site_with_triage_rule(&app, "acme").await;
    // Forge sent `installed` before the site granted the app its scopes.
    app.product.deny_until_granted(&site.site_key);
    app.forge_deliver(&site, payloads::jira_issue_created("KAN-1", "Early", "KAN"))
        .await;
    let patience = Patience::start();
    while !app
        .product
        .requests(&site.site_key)
        .iter()
        .any(|r| r.status == 403)
    {
        patience
            .pause("a 403 from the product", app.snapshot_of(&site.site_key))
            .await;
    }
    app.product.grant(&site.site_key);
    let comments = app.settled_comments_of(&site.site_key, 1).await;
    assert_eq!(comments[0].target, "KAN-1");
    app.stop().await;
}

async fn after_pre_uninstall_events_are_refused_and_nothing_is_done(mode: Mode) {
    let app = E2e::start_with_forge(mode).await;
    let (site, _) = jira_site_with_triage_rule(&app, "acme").await;
    let delivery = app
        .forge()
        .uninstall(&site)
        .await
        .expect("preUninstall is delivered");
    assert_eq!(delivery.attempts, [200]);
    let delivery = app
        .forge_send(
            &site,
            payloads::jira_issue_created("KAN-1", "Too late", "KAN"),
            ForgeSendOptions::fast(),
        )
        .await;
    assert!(!delivery.accepted, "{delivery:?}");
    assert!(
        delivery.attempts.iter().all(|status| *status == 403),
        "{delivery:?}"
    );
    tests::patience::settle().await;
    assert!(
        app.product.requests(&site.site_key).is_empty(),
        "{}",
        app.snapshot_of(&site.site_key)
    );
    app.stop().await;
}

//! The lifecycle governs processing: an uninstalled site's webhooks are refused and change
//! nothing; a re-install's new secret replaces the old one everywhere.
use simulator::{payloads, InstallMode};
use tests::{in_both_modes, E2e, Mode};

in_both_modes!(
    after_uninstall_a_webhook_is_refused_with_403_and_makes_no_comment,
    a_reinstall_with_a_new_secret_works_and_the_old_secret_is_refused,
);

async fn after_uninstall_a_webhook_is_refused_with_403_and_makes_no_comment(mode: Mode) {
    let app = E2e::start(mode).await;
    let jira = app.jira_site_with_echo_rule("jira-site").await;
    let before = payloads::jira_issue_created("KAN-1", "Before", "KAN");
    app.deliver(&jira, "jira:issue_created", &before).await;
    app.settled_comments(&jira, 1).await;

    app.connect
        .uninstall(&jira, InstallMode::Signed)
        .await
        .expect("the app accepts the uninstall");
    let after = payloads::jira_issue_created("KAN-2", "After", "KAN");
    let report = app.send(&jira, "jira:issue_created", &after).await;

    // 403 is final: Jira does not retry it, and nothing was enqueued.
    assert_eq!(report.attempts, [403]);
    let comments = app.settled_comments(&jira, 1).await;
    assert_eq!(comments[0].target, "KAN-1");
    app.stop().await;
}

async fn a_reinstall_with_a_new_secret_works_and_the_old_secret_is_refused(mode: Mode) {
    let app = E2e::start(mode).await;
    let old = app.jira_site_with_echo_rule("jira-site").await;
    let first = payloads::jira_issue_created("KAN-1", "Before the re-install", "KAN");
    app.deliver(&old, "jira:issue_created", &first).await;
    app.settled_comments(&old, 1).await;

    let new = app
        .connect
        .reinstall(&old, InstallMode::Signed)
        .await
        .expect("the app accepts the re-install");
    app.enable(&new).await;
    assert_ne!(new.shared_secret, old.shared_secret);

    let stale = payloads::jira_issue_created("KAN-2", "Signed with the old secret", "KAN");
    let refused = app.send(&old, "jira:issue_created", &stale).await;
    assert_eq!(refused.attempts, [401], "the old secret no longer verifies");

    let fresh = payloads::jira_issue_created("KAN-3", "Signed with the new secret", "KAN");
    app.deliver(&new, "jira:issue_created", &fresh).await;
    let comments = app.settled_comments(&new, 2).await;
    let targets: Vec<&str> = comments.iter().map(|c| c.target.as_str()).collect();
    assert_eq!(targets, ["KAN-1", "KAN-3"]);
    // The worker signed its call with the new secret, which the site now expects.
    assert_eq!(app.product.rejected_requests(), 0, "{}", app.snapshot(&new));
    app.stop().await;
}

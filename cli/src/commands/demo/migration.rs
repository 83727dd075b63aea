//! `hookline demo --forge`: a Connect app moving to Forge ("Connect on Forge",
//! docs/migrating-to-forge.md) in a few lines. A Connect site with a rule; its Forge
//! installation joins the same tenant; one issue event arrives both ways and is commented on
//! once; calls switch to the app system token; the Connect side goes; the rule still works.
use std::time::Duration;

use anyhow::{ensure, Context};
use common::tenant::{ClientKey, ProductType, Protocol};
use hookline::standalone::Pipeline;
use serde_json::json;
use simulator::{both_ways, ConnectSim, ForgeSendOptions, ForgeSim, InstallMode, ProductSim};

/// How long the demo waits for each effect.
const PATIENCE: Duration = Duration::from_secs(30);

const SITE: &str = "demo-migrating";

/// Runs the story; true when every step had exactly the expected effects.
pub async fn run(
    connect: &ConnectSim,
    forge: &ForgeSim,
    product: &ProductSim,
    pipeline: &Pipeline,
) -> anyhow::Result<bool> {
    let site = forge.install_without_event(SITE, ProductType::Jira)?;
    connect.set_installation_id(SITE, &site.installation_id);
    let tenant = super::install(connect, SITE, ProductType::Jira).await?;
    super::add_rule(
        pipeline,
        &tenant,
        json!({"name": "Greet new issues", "event": "jira:issue_created",
            "action": {"type": "jira_comment", "template": "Thanks! {{ issue.key }} is queued."}}),
    )
    .await?;
    println!("1. Connect installed the app on {SITE} (its installed names a Forge installation); one rule");

    let comments =
        || product.comments(&tenant.client_key).len() + product.comments(&site.site_key).len();
    let first = both_ways::jira_issue_created("MIG-1", "Before Forge", 0);
    let report = connect
        .send_webhook(&tenant, first.event, &first.connect, Default::default())
        .await?;
    ensure!(
        report.accepted,
        "a webhook was refused: {:?}",
        report.attempts
    );
    let mut as_expected = settled(comments, 1).await;
    println!("2. a Connect webhook for MIG-1: {} comment", comments());

    let installed = forge.deliver_installed(&site).await?;
    ensure!(installed.accepted, "Forge's installed was refused");
    let key = ClientKey::parse(SITE)?;
    let tenants = &pipeline.dispatcher.tenants;
    let joined = tenants
        .find_by_client_key(&key)
        .await?
        .context("the tenant")?;
    println!(
        "3. Forge installed it too: still one tenant ({}), known as {} and {}",
        joined.client_key,
        SITE,
        joined
            .forge
            .as_ref()
            .map_or("?".into(), |f| f.installation_id.to_string())
    );

    let both = both_ways::jira_issue_created("MIG-2", "Both ways", 1_500);
    let webhook = connect.send_webhook(&tenant, both.event, &both.connect, Default::default());
    let trigger = forge.send_event(&site, both.forge, ForgeSendOptions::fast());
    let (webhook, trigger) = tokio::join!(webhook, trigger);
    ensure!(
        webhook?.accepted && trigger?.accepted,
        "a delivery was refused"
    );
    as_expected &= settled(comments, 2).await;
    println!("4. MIG-2 came both ways (its Forge timestamp 1.5 s later): {} comments in all, one for MIG-2", comments());

    tenants
        .set_calls_with(&key, Some(Protocol::Forge))
        .await?
        .context("the tenant")?;
    let third = both_ways::jira_issue_created("MIG-3", "Forge only", 0);
    let trigger = forge
        .send_event(&site, third.forge, ForgeSendOptions::fast())
        .await?;
    ensure!(trigger.accepted, "a Forge event was refused");
    as_expected &= settled(comments, 3).await;
    println!(
        "5. calls switched to the app system token (`hookline tenants calls {SITE} forge`), webhooks moved to a Forge trigger: MIG-3 commented through the apiBaseUrl ({} there)",
        product.comments(&site.site_key).len()
    );

    connect.uninstall(&tenant, InstallMode::Signed).await?;
    let fourth = both_ways::jira_issue_created("MIG-4", "After Connect", 0);
    let trigger = forge
        .send_event(&site, fourth.forge, ForgeSendOptions::fast())
        .await?;
    ensure!(
        trigger.accepted,
        "a Forge event was refused after Connect's uninstall"
    );
    as_expected &= settled(comments, 4).await;
    let rules = pipeline.dispatcher.rules.list(&key).await?.len();
    println!(
        "6. Connect uninstalled: the tenant stays on Forge with its {rules} rule; MIG-4 commented. {} comments for 4 events, {} by Connect and {} by Forge, {} refused calls",
        comments(),
        product.comments(&tenant.client_key).len(),
        product.comments(&site.site_key).len(),
        product.rejected_requests()
    );
    Ok(as_expected && product.rejected_requests() == 0)
}

/// Waits until `count` reaches `expected`, then a little longer; whether it is exactly that.
async fn settled(count: impl Fn() -> usize, expected: usize) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while count() < expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A duplicate would show up now, if the pipeline were to make one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    count() == expected
}

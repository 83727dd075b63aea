//! The demo's Forge part: the simulator's Forge installs the app on a Jira site as a Forge
//! app would be, and delivers one issue event twice (Forge retrying after a timeout); the rule
//! comments once, through the installation's apiBaseUrl with its app system token.
use anyhow::{ensure, Context};
use common::forge::InstallationId;
use common::rules::RuleSpec;
use common::tenant::{ClientKey, ProductType};
use hookline::standalone::Pipeline;
use serde_json::json;
use simulator::forge::payloads;
use simulator::{ForgeApp, ForgeSendOptions, ForgeSim, ForgeSite, ProductSim};

/// The demo's Forge app id.
pub const APP_ID: &str = "6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";

/// Starts the simulator's Forge for the app at `app_url`, on `product`'s sites.
pub async fn start(app_url: &str, product: &ProductSim) -> ForgeSim {
    let forge = ForgeSim::start(ForgeApp::new(app_url), APP_ID, product.clone()).await;
    forge.set_lifecycle_options(ForgeSendOptions::fast());
    forge
}

/// The settings that turn the Forge remote on against `forge`.
pub fn settings(forge: &ForgeSim) -> [(&'static str, String); 3] {
    [
        ("HOOKLINE_FORGE__APP_ID", APP_ID.to_owned()),
        ("HOOKLINE_FORGE__JWKS_URL", forge.jwks_url()),
        // The simulated sites' apiBaseUrls live on this machine.
        ("HOOKLINE_FORGE__API_BASE_URL_HOSTS", "127.0.0.1".to_owned()),
    ]
}

/// Installs the app on a Forge Jira site, gives it a rule and delivers one event twice.
pub async fn run(forge: &ForgeSim, pipeline: &Pipeline) -> anyhow::Result<ForgeSite> {
    let (site, installed) = forge.install("demo-forge", ProductType::Jira).await?;
    ensure!(
        installed.accepted,
        "the ingress refused installed: {:?}",
        installed.attempts
    );
    let installation = InstallationId::parse(&site.installation_id)?;
    let tenant = pipeline
        .dispatcher
        .tenants
        .find_forge(&installation, ProductType::Jira)
        .await?
        .context("the Forge installation is registered")?;
    let rule: RuleSpec = serde_json::from_value(json!({"name": "Greet new issues (Forge)",
        "event": "jira:issue_created",
        "action": {"type": "jira_comment", "template": "Thanks! {{ issue.key }} reached us through Forge."}}))?;
    let key: ClientKey = tenant.client_key;
    pipeline.dispatcher.rules.add(&key, &rule).await?;
    println!(
        "5. Forge installed the app on a Jira site: tenant {key}, the same rules as Connect's"
    );
    let event = payloads::jira_issue_created("FRG-1", "Forge event", "FRG");
    for retry in [None, Some(1)] {
        let mut event = event.clone();
        if let Some(count) = retry {
            event["retryContext"] = json!({"retryCount": count, "retryReason": "TIMEOUT_ERROR"});
        }
        let delivery = forge
            .send_event(&site, event, ForgeSendOptions::fast())
            .await?;
        ensure!(
            delivery.accepted,
            "the ingress refused a Forge event: {:?}",
            delivery.attempts
        );
    }
    println!("6. Forge delivered FRG-1 twice (a retry after a timeout), each with a fresh invocation token");
    Ok(site)
}

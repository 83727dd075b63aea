//! `hookline demo`: the one-minute tour. It starts the embedded pipeline and the Connect
//! simulator, installs a Jira and a Confluence site (signed install), gives each a rule, sends a
//! handful of webhooks — one of them twice, as Jira retries do, and a Confluence comment that
//! acts on its page — then installs the app on a Forge site and delivers one event twice
//! ([`forge`]), and prints what was posted back. With `--forge`, it shows instead a Connect app
//! moving to Forge ([`migration`]).
mod forge;
mod migration;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{ensure, Context};
use common::config::Settings;
use common::rules::RuleSpec;
use common::telemetry::{get_subscriber, init_subscriber};
use common::tenant::{ClientKey, ProductType};
use hookline::standalone::Pipeline;
use serde_json::json;
use simulator::payloads::{self, CommentedOn};
use simulator::{ConnectSim, InstallMode, ProductSim, SendOptions, SimTenant};
use tokio_util::sync::CancellationToken;

use crate::cli::DemoArgs;

/// How long the demo waits for the effects it expects.
const PATIENCE: Duration = Duration::from_secs(30);

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let migrating = args.forge;
    let scratch = tempfile::tempdir().context("creating a temporary directory")?;
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let port = free_port()?;
    let app_url = format!("http://127.0.0.1:{port}");
    let product = ProductSim::start().await;
    let connect = ConnectSim::start(&app_url, product.clone()).await;
    let forge_sim = forge::start(&app_url, &product).await;
    let settings = settings(
        &data_dir,
        port,
        &app_url,
        &connect.key_server_url(),
        &forge_sim,
    )?;
    init_subscriber(get_subscriber(&settings.log));
    let shutdown = CancellationToken::new();
    let pipeline = Pipeline::start(settings, shutdown.clone()).await?;
    println!(
        "hookline demo: pipeline on {app_url} (SQLite + local queue in {})",
        data_dir.display()
    );
    if migrating {
        let as_expected = migration::run(&connect, &forge_sim, &product, &pipeline).await;
        drop(connect);
        shutdown.cancel();
        pipeline.wait().await;
        return Ok(finished(as_expected?));
    }

    for product in [ProductType::Jira, ProductType::Confluence] {
        let descriptor = connect.fetch_descriptor(product).await?;
        println!(
            "1. fetched the {product} descriptor of app {} (/{product}/atlassian-connect.json)",
            descriptor["key"].as_str().unwrap_or("?")
        );
    }
    let jira = install(&connect, "demo-jira", ProductType::Jira).await?;
    let wiki = install(&connect, "demo-wiki", ProductType::Confluence).await?;
    println!(
        "2. installed and enabled {} (Jira) and {} (Confluence) with signed installs",
        jira.client_key, wiki.client_key
    );

    add_rule(&pipeline, &jira, json!({"name": "Greet new issues", "event": "jira:issue_created",
        "conditions": [{"type": "project_key", "key": "KAN"}],
        "action": {"type": "jira_comment", "template": "Thanks! {{ issue.key }} ({{ issue.fields.summary }}) is queued for triage."}})).await?;
    add_rule(&pipeline, &wiki, json!({"name": "Welcome new pages", "event": "page_created",
        "action": {"type": "confluence_comment", "template": "<p>New page <b>{{ page.title }}</b> in {{ page.spaceKey }}: reviewers notified.</p>"}})).await?;
    add_rule(
        &pipeline,
        &wiki,
        json!({"name": "Label discussed pages", "event": "comment_created",
        "action": {"type": "confluence_label", "label": "discussed"}}),
    )
    .await?;
    println!("3. added a comment rule for each site, and a label rule for Confluence comments");

    let once = SendOptions {
        webhook_id: Some("demo-delivery-1".into()),
        ..SendOptions::default()
    };
    let sends = [
        (
            &jira,
            "jira:issue_created",
            payloads::jira_issue_created("KAN-1", "Login fails on Safari", "KAN"),
            once.clone(),
        ),
        (
            &jira,
            "jira:issue_created",
            payloads::jira_issue_created("KAN-1", "Login fails on Safari", "KAN"),
            once,
        ),
        (
            &jira,
            "jira:issue_created",
            payloads::jira_issue_created("KAN-2", "Export is slow", "KAN"),
            SendOptions::default(),
        ),
        (
            &jira,
            "jira:issue_created",
            payloads::jira_issue_created("OPS-7", "Not our project", "OPS"),
            SendOptions::default(),
        ),
        (
            &wiki,
            "page_created",
            payloads::confluence_page_created(194347009, "Release notes 2.0", "ENG"),
            SendOptions::default(),
        ),
        (
            &wiki,
            "comment_created",
            payloads::confluence_comment_created(
                194347120,
                CommentedOn::Page,
                194347009,
                "Release notes 2.0",
                "ENG",
            ),
            SendOptions::default(),
        ),
    ];
    for (tenant, event, payload, options) in sends {
        let report = connect
            .send_webhook(tenant, event, &payload, options)
            .await?;
        ensure!(
            report.accepted,
            "the ingress refused a webhook: {:?}",
            report.attempts
        );
    }
    println!("4. sent 6 signed webhooks (KAN-1 twice with one webhook id, as a Jira retry; OPS-7 matches no rule; a comment on the Confluence page)");
    let forge_site = forge::run(&forge_sim, &pipeline).await?;

    let expected = |p: &ProductSim| {
        p.comments(&jira.client_key).len() >= 2
            && !p.comments(&wiki.client_key).is_empty()
            && !p.labels(&wiki.client_key).is_empty()
            && !p.comments(&forge_site.site_key).is_empty()
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !expected(&product) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give a duplicate a chance to show up, if the pipeline were to produce one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "7. what the pipeline posted back (every call JWT-signed or, for Forge, with the app system token, and verified by the simulator):"
    );
    for site_key in [&jira.client_key, &wiki.client_key, &forge_site.site_key] {
        for comment in product.comments(site_key) {
            let text = comment
                .body
                .get("body")
                .map(|b| b.get("value").unwrap_or(b).clone())
                .unwrap_or_default();
            println!(
                "   {:<10} {:<10} comment {:>3}: {}",
                site_key,
                comment.target,
                comment.id,
                text.as_str().unwrap_or_default()
            );
        }
    }
    for label in product.labels(&wiki.client_key) {
        println!(
            "   {:<10} {:<10} label     {} (the page of the comment, found at comment.parent)",
            wiki.client_key, label.target, label.label
        );
    }
    let jira_comments = product.comments(&jira.client_key).len();
    let wiki_comments = product.comments(&wiki.client_key).len();
    let wiki_labels = product.labels(&wiki.client_key);
    let forge_comments = product.comments(&forge_site.site_key).len();
    println!(
        "   {} comments on Jira (KAN-1 once despite the retry, none on OPS-7), {} on Confluence, {} through Forge (FRG-1 once despite the retry); {} refused calls",
        jira_comments,
        wiki_comments,
        forge_comments,
        product.rejected_requests()
    );
    // The simulator's client keeps idle connections to the ingress, which would hold its
    // graceful shutdown open for the whole grace period.
    drop(connect);
    shutdown.cancel();
    pipeline.wait().await;
    let labelled_page = wiki_labels.len() == 1 && wiki_labels[0].target == "194347009";
    let as_expected = jira_comments == 2
        && wiki_comments == 1
        && forge_comments == 1
        && labelled_page
        && product.rejected_requests() == 0;
    Ok(finished(as_expected))
}

/// The demo's last line and exit code.
fn finished(as_expected: bool) -> ExitCode {
    if as_expected {
        println!("demo finished: everything as expected");
        ExitCode::SUCCESS
    } else {
        println!("demo finished: the effects were not as expected (see above)");
        ExitCode::FAILURE
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn settings(
    data_dir: &std::path::Path,
    port: u16,
    app_url: &str,
    key_server: &str,
    forge_sim: &simulator::ForgeSim,
) -> anyhow::Result<Settings> {
    let vars = [
        ("HOOKLINE_DATA_DIR", data_dir.display().to_string()),
        ("HOOKLINE_SERVER__PORT", port.to_string()),
        ("HOOKLINE_APP__BASE_URL", app_url.to_owned()),
        ("HOOKLINE_APP__INSTALL_KEYS_URL", key_server.to_owned()),
        // The simulated sites live on this machine.
        (
            "HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS",
            "127.0.0.1".to_owned(),
        ),
        ("HOOKLINE_AMQP__RETRY_DELAYS_SECS", "1,2,5".to_owned()),
    ];
    // Logs (to standard error) are quiet unless asked for: `HOOKLINE_LOG__LEVEL`,
    // `HOOKLINE_LOG__FORMAT` and `RUST_LOG` are honoured as by every other command.
    let log_var = |name: &str, default: &str| {
        let value = std::env::var(name).unwrap_or_else(|_| default.to_owned());
        (name.to_owned(), value)
    };
    let log = [
        log_var("HOOKLINE_LOG__LEVEL", "warn"),
        log_var("HOOKLINE_LOG__FORMAT", "pretty"),
    ];
    let vars = vars
        .into_iter()
        .chain(forge::settings(forge_sim))
        .map(|(k, v)| (k.to_owned(), v))
        .chain(log);
    Ok(Settings::load_from(None, vars)?)
}

async fn install(
    connect: &ConnectSim,
    client_key: &str,
    product: ProductType,
) -> anyhow::Result<SimTenant> {
    let tenant = connect
        .install(client_key, product, InstallMode::Signed)
        .await?;
    connect.enable(&tenant).await?;
    Ok(tenant)
}

async fn add_rule(
    pipeline: &Pipeline,
    tenant: &SimTenant,
    rule: serde_json::Value,
) -> anyhow::Result<()> {
    let spec: RuleSpec = serde_json::from_value(rule).context("a demo rule")?;
    if let Err(errors) = spec.validate(tenant.product) {
        anyhow::bail!("a demo rule is invalid: {errors:?}");
    }
    let key = ClientKey::parse(&tenant.client_key)?;
    pipeline.dispatcher.rules.add(&key, &spec).await?;
    Ok(())
}

//! `hookline rules list|add|remove|enable|disable`: every command is scoped to one tenant.
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use common::rules::{Action, RuleSpec};

use super::admin::Admin;
use super::table;
use crate::cli::{RuleAddArgs, RuleRef, RulesCommand};

pub async fn run(config: Option<&Path>, command: RulesCommand) -> anyhow::Result<ExitCode> {
    let admin = Admin::open(config).await?;
    match command {
        RulesCommand::List { client_key } => list(&admin, &client_key).await,
        RulesCommand::Add(args) => add(&admin, args).await,
        RulesCommand::Remove(rule) => remove(&admin, &rule).await,
        RulesCommand::Enable(rule) => set_enabled(&admin, &rule, true).await,
        RulesCommand::Disable(rule) => set_enabled(&admin, &rule, false).await,
    }
}

async fn list(admin: &Admin, client_key: &str) -> anyhow::Result<ExitCode> {
    let tenant = admin.tenant(&admin.tenants()?, client_key).await?;
    let rules = admin.rules().list(&tenant.client_key).await?;
    if rules.is_empty() {
        println!("tenant {} has no rules", tenant.client_key);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|rule| {
            vec![
                rule.id.to_string(),
                if rule.spec.enabled { "yes" } else { "no" }.to_owned(),
                rule.spec.event.clone(),
                action_name(&rule.spec.action).to_owned(),
                rule.spec.conditions.len().to_string(),
                rule.spec.name.clone(),
            ]
        })
        .collect();
    table::print(
        &["ID", "ENABLED", "EVENT", "ACTION", "CONDITIONS", "NAME"],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::JiraComment { .. } => "jira_comment",
        Action::JiraLabel { .. } => "jira_label",
        Action::JiraProperty { .. } => "jira_property",
        Action::ConfluenceComment { .. } => "confluence_comment",
        Action::ConfluenceLabel { .. } => "confluence_label",
        Action::ConfluenceProperty { .. } => "confluence_property",
    }
}

async fn add(admin: &Admin, args: RuleAddArgs) -> anyhow::Result<ExitCode> {
    let tenant = admin.tenant(&admin.tenants()?, &args.client_key).await?;
    let (source, json) = rule_json(&args)?;
    let spec: RuleSpec =
        serde_json::from_str(&json).with_context(|| format!("{source} is not a valid rule"))?;
    if let Err(errors) = spec.validate(tenant.product_type) {
        eprintln!(
            "error: the rule is invalid for {} tenant {}:",
            tenant.product_type, tenant.client_key
        );
        for error in errors {
            eprintln!("{}: {}", error.field, error.message);
        }
        return Ok(ExitCode::FAILURE);
    }
    let rule = admin.rules().add(&tenant.client_key, &spec).await?;
    println!(
        "added rule {} ({:?}, on {}) for tenant {}",
        rule.id, rule.spec.name, rule.spec.event, tenant.client_key
    );
    Ok(ExitCode::SUCCESS)
}

/// The rule's JSON and a name for it in messages.
fn rule_json(args: &RuleAddArgs) -> anyhow::Result<(String, String)> {
    match (&args.json, &args.file) {
        (Some(json), _) => Ok(("--json".to_owned(), json.clone())),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut json = String::new();
            std::io::stdin()
                .read_to_string(&mut json)
                .context("reading the rule from standard input")?;
            Ok(("standard input".to_owned(), json))
        }
        (None, Some(path)) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("reading the rule file {}", path.display()))?;
            Ok((path.display().to_string(), json))
        }
        (None, None) => bail!("give the rule with --file FILE or --json JSON"),
    }
}

async fn remove(admin: &Admin, rule: &RuleRef) -> anyhow::Result<ExitCode> {
    let tenant = admin.tenant(&admin.tenants()?, &rule.client_key).await?;
    if !admin
        .rules()
        .remove(&tenant.client_key, rule.rule_id)
        .await?
    {
        bail!("no rule {} for tenant {}", rule.rule_id, tenant.client_key);
    }
    println!(
        "removed rule {} of tenant {}",
        rule.rule_id, tenant.client_key
    );
    Ok(ExitCode::SUCCESS)
}

async fn set_enabled(admin: &Admin, rule: &RuleRef, enabled: bool) -> anyhow::Result<ExitCode> {
    let tenant = admin.tenant(&admin.tenants()?, &rule.client_key).await?;
    let rules = admin.rules();
    if !rules
        .set_enabled(&tenant.client_key, rule.rule_id, enabled)
        .await?
    {
        bail!("no rule {} for tenant {}", rule.rule_id, tenant.client_key);
    }
    let done = if enabled { "enabled" } else { "disabled" };
    println!(
        "{done} rule {} of tenant {}",
        rule.rule_id, tenant.client_key
    );
    Ok(ExitCode::SUCCESS)
}

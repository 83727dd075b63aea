//! What the `hookline forge manifest` tests share: running the command with only the given
//! settings, reading the manifest back, and checks on its parts.
#![allow(dead_code)]
use std::process::{Command, Output};

use serde_json::{json, Value};

pub const APP_UUID: &str = "6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";
pub const APP_ARI: &str = "ari:cloud:ecosystem::app/6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";
pub const BASE_URL: &str = "https://hookline.example.com";
pub const JIRA_SCOPES: [&str; 2] = ["read:jira-work", "write:jira-work"];
pub const CONFLUENCE_SCOPES: [&str; 4] = [
    "read:confluence-content.summary",
    "read:confluence-props",
    "write:confluence-content",
    "write:confluence-props",
];

/// Runs `hookline forge manifest` with only the given `HOOKLINE_*` variables (and a temporary
/// data directory).
pub fn hookline(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let data = tempfile::tempdir().expect("a temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookline"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HOOKLINE_") {
            command.env_remove(name);
        }
    }
    command
        .args(["forge", "manifest"])
        .args(args)
        .env("HOOKLINE_DATA_DIR", data.path())
        .envs(vars.iter().copied())
        .output()
        .expect("runs hookline")
}

/// The manifest printed with `forge.app_id`, `app.base_url` (with a trailing slash, which the
/// manifest drops) and `vars`: its text and the YAML read back.
pub fn manifest(args: &[&str], vars: &[(&str, &str)]) -> (String, Value) {
    let mut all = vec![
        ("HOOKLINE_FORGE__APP_ID", APP_UUID),
        ("HOOKLINE_APP__BASE_URL", "https://hookline.example.com/"),
    ];
    all.extend_from_slice(vars);
    let output = hookline(args, &all);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "hookline forge manifest failed ({})\n--- stderr ---\n{stderr}",
        output.status
    );
    let yaml: Value = yaml_serde::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the output is not YAML ({e}):\n{stdout}"));
    (stdout, yaml)
}

pub fn strings(value: &Value) -> Vec<&str> {
    let items = value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"));
    items
        .iter()
        .map(|item| item.as_str().expect("a string"))
        .collect()
}

pub fn trigger<'a>(manifest: &'a Value, key: &str) -> &'a Value {
    let triggers = manifest["modules"]["trigger"].as_array().expect("triggers");
    triggers
        .iter()
        .find(|trigger| trigger["key"] == key)
        .unwrap_or_else(|| panic!("no trigger {key} in {manifest:#}"))
}

/// Every product event the triggers name.
pub fn trigger_events(manifest: &Value) -> Vec<String> {
    let triggers = manifest["modules"]["trigger"].as_array().expect("triggers");
    triggers
        .iter()
        .flat_map(|trigger| strings(&trigger["events"]))
        .map(str::to_owned)
        .collect()
}

/// `forge.triggers` moving Jira's comments (both: Forge sends them as one event) and one
/// Confluence event.
pub const SOME_MOVED: &str = "jira:comment_created,jira:comment_updated,confluence:page_created";

/// Runs the command expecting it to fail: its standard error.
pub fn failure(args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut all = vec![
        ("HOOKLINE_FORGE__APP_ID", APP_UUID),
        ("HOOKLINE_APP__BASE_URL", BASE_URL),
    ];
    all.extend_from_slice(vars);
    let output = hookline(args, &all);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout when it fails");
    stderr
}

/// Whether the pages are Custom UI modules: the bundles, one Forge module per Connect page
/// (none left in `connectModules`), each calling the `hookline-ui` resolver.
pub fn assert_custom_ui(manifest: &Value, on: bool) {
    let page_types = [
        "jira:adminPage",
        "jira:issuePanel",
        "confluence:globalSettings",
        "confluence:contentBylineItem",
    ];
    let modules = &manifest["modules"];
    let connect_pages = [
        "adminPages",
        "webPanels",
        "configurePage",
        "contentBylineItems",
    ];
    let connect = manifest["connectModules"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let connect_page = |name: &String| {
        connect_pages
            .iter()
            .any(|p| name.ends_with(&format!(":{p}")))
    };
    let ui_endpoint = manifest["modules"]["endpoint"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|endpoint| endpoint["key"] == "hookline-ui");
    let scopes = strings(&manifest["permissions"]["scopes"]);
    if !on {
        assert!(
            ui_endpoint.is_none(),
            "no resolver without pages: {manifest:#}"
        );
        assert!(!scopes.contains(&"read:app-user-token"), "{scopes:?}");
        assert!(manifest.get("resources").is_none(), "{manifest:#}");
        assert!(
            page_types.iter().all(|t| modules.get(t).is_none()),
            "{manifest:#}"
        );
        return;
    }
    // The resolver gets the user's own token for the admin check, with its scope.
    let ui_endpoint = ui_endpoint.unwrap_or_else(|| panic!("no hookline-ui: {manifest:#}"));
    assert_eq!(
        ui_endpoint["auth"],
        json!({"appSystemToken": {"enabled": true}, "appUserToken": {"enabled": true}})
    );
    assert!(scopes.contains(&"read:app-user-token"), "{scopes:?}");
    assert_eq!(
        manifest["resources"],
        json!([{"key": "hookline-rules", "path": "forge-ui/rules"},
            {"key": "hookline-activity", "path": "forge-ui/activity"}])
    );
    assert!(
        !connect.keys().any(connect_page),
        "a page shown twice: {manifest:#}"
    );
    let pages: Vec<&Value> = page_types
        .iter()
        .flat_map(|t| {
            modules[t]
                .as_array()
                .unwrap_or_else(|| panic!("no {t}: {manifest:#}"))
        })
        .collect();
    assert_eq!(
        pages.len(),
        6,
        "Jira: rules, activity, panel; Confluence: the same three"
    );
    for page in pages {
        assert_eq!(
            page["resolver"],
            json!({"endpoint": "hookline-ui"}),
            "{page}"
        );
        let resource = page["resource"].as_str().expect("a resource");
        assert_eq!(
            page["useAsConfig"] == true,
            resource == "hookline-rules",
            "{page}"
        );
    }
    let panel = &modules["jira:issuePanel"][0];
    assert_eq!(panel["icon"], "resource:hookline-activity;icon.svg");
    assert_eq!(
        modules["confluence:contentBylineItem"][0]["resource"],
        "hookline-activity"
    );
}

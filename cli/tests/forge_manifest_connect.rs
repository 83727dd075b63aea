//! `hookline forge manifest --connect` (Connect on Forge): the Connect app carried whole under
//! `connectModules`, events moved one by one to Forge triggers by `forge.triggers`, the pages
//! by `forge.custom_ui`, and what it refuses. Atlassian's validator runs on each variant in
//! `forge_manifest.rs`.
mod forge_manifest_support;

use common::config::AppSettings;
use common::tenant::ProductType;
use forge_manifest_support::{
    assert_custom_ui, failure, manifest, strings, trigger, trigger_events, BASE_URL, SOME_MOVED,
};
use ingress::descriptor::render_descriptor;
use serde_json::{json, Value};

/// A list of modules without their keys (the manifest adds or prefixes some).
fn without_keys(modules: &Value) -> Vec<Value> {
    let modules = match modules {
        Value::Array(list) => list.clone(),
        single => vec![single.clone()],
    };
    modules
        .into_iter()
        .map(|mut module| {
            module.as_object_mut().expect("a module").remove("key");
            module
        })
        .collect()
}

/// The events of `product`'s Connect webhooks in the manifest.
fn connect_webhooks(manifest: &Value, product: &str) -> Vec<String> {
    let webhooks = &manifest["connectModules"][format!("{product}:webhooks")];
    let list = webhooks.as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|webhook| webhook["event"].as_str().expect("an event").to_owned())
        .collect()
}

#[test]
fn with_connect_and_no_event_moved_the_descriptor_is_carried_whole() {
    let (text, manifest) = manifest(&["--connect"], &[]);
    assert!(text.contains("forge.triggers"), "{text}");
    let app = AppSettings::default();
    assert_eq!(
        manifest["app"]["connect"],
        json!({"key": app.key_for(ProductType::Jira), "remote": "hookline", "authentication": "jwt"})
    );
    assert_eq!(manifest["remotes"][0]["key"], "hookline");
    assert_eq!(manifest["remotes"][0]["baseUrl"], BASE_URL);
    let triggers = manifest["modules"]["trigger"].as_array().expect("triggers");
    assert_eq!(triggers.len(), 1, "only the app's lifecycle: {manifest:#}");
    for product in [ProductType::Jira, ProductType::Confluence] {
        let descriptor = render_descriptor(&app, product);
        assert_eq!(manifest["app"]["connect"]["key"], descriptor["key"]);
        let connect = |kind: &str| &manifest["connectModules"][format!("{product}:{kind}")];
        assert_eq!(
            without_keys(connect("lifecycle")),
            [descriptor["lifecycle"].clone()]
        );
        for (kind, modules) in descriptor["modules"].as_object().expect("modules") {
            assert_eq!(
                without_keys(connect(kind)),
                without_keys(modules),
                "{product}:{kind}"
            );
        }
    }
    assert_custom_ui(&manifest, false);
}

#[test]
fn a_moved_event_comes_by_its_trigger_and_not_by_a_connect_webhook() {
    let vars = [("HOOKLINE_FORGE__TRIGGERS", SOME_MOVED)];
    let (_, manifest) = manifest(&["--connect"], &vars);
    assert_eq!(
        strings(&trigger(&manifest, "jira-events")["events"]),
        ["avi:jira:commented:issue"]
    );
    assert_eq!(
        strings(&trigger(&manifest, "confluence-events")["events"]),
        ["avi:confluence:created:page"]
    );
    assert_eq!(
        connect_webhooks(&manifest, "jira"),
        ["jira:issue_created", "jira:issue_updated"]
    );
    assert_eq!(
        connect_webhooks(&manifest, "confluence"),
        ["page_updated", "blog_created", "comment_created"]
    );
    assert!(manifest["connectModules"].get("jira:adminPages").is_some());
}

#[test]
fn with_every_event_moved_and_custom_ui_on_only_the_lifecycle_stays_connect() {
    let vars = [
        ("HOOKLINE_FORGE__TRIGGERS", "all"),
        ("HOOKLINE_FORGE__CUSTOM_UI", "true"),
    ];
    let (_, manifest) = manifest(&["--connect"], &vars);
    let kinds: Vec<&String> = manifest["connectModules"]
        .as_object()
        .expect("connectModules")
        .keys()
        .collect();
    assert_eq!(kinds, ["confluence:lifecycle", "jira:lifecycle"]);
    let (_, plain) = self::manifest(&[], &[]);
    assert_eq!(manifest["modules"]["trigger"], plain["modules"]["trigger"]);
    assert_custom_ui(&manifest, true);
}

#[test]
fn forge_triggers_refuses_an_entry_it_cannot_move_naming_it() {
    let stderr = failure(
        &["--connect"],
        &[("HOOKLINE_FORGE__TRIGGERS", "jira:issue_created")],
    );
    assert!(
        stderr.contains("forge.triggers entry \"jira:issue_created\""),
        "{stderr}"
    );
    assert!(stderr.contains("not an app.webhooks entry"), "{stderr}");
    let stderr = failure(
        &[],
        &[
            (
                "HOOKLINE_APP__WEBHOOKS",
                "jira:jira:issue_created,jira:worklog_updated",
            ),
            ("HOOKLINE_FORGE__TRIGGERS", "jira:worklog_updated"),
        ],
    );
    assert!(
        stderr.contains("\"jira:worklog_updated\" has no Forge event"),
        "{stderr}"
    );
}

#[test]
fn forge_triggers_refuses_moving_one_of_two_events_forge_sends_as_one() {
    let vars = [("HOOKLINE_FORGE__TRIGGERS", "jira:comment_created")];
    let stderr = failure(&["--connect"], &vars);
    for words in [
        "jira:comment_created",
        "jira:comment_updated",
        "avi:jira:commented:issue",
    ] {
        assert!(stderr.contains(words), "{words}: {stderr}");
    }
}

#[test]
fn products_with_keys_of_their_own_need_a_manifest_each() {
    let jira_key = ("HOOKLINE_APP__JIRA__KEY", "com.example.hookline.jira");
    let stderr = failure(&["--connect"], &[jira_key]);
    assert!(stderr.contains("--product jira"), "{stderr}");
    let (_, manifest) = manifest(&["--connect", "--product", "jira"], &[jira_key]);
    assert_eq!(
        manifest["app"]["connect"]["key"],
        "com.example.hookline.jira"
    );
    let connect = manifest["connectModules"]
        .as_object()
        .expect("connectModules");
    assert!(
        connect.keys().all(|kind| kind.starts_with("jira:")),
        "{manifest:#}"
    );
    assert!(trigger_events(&manifest)
        .iter()
        .all(|e| !e.contains("confluence")));
}

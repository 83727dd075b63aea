//! `hookline forge manifest`: what it prints, and that Atlassian's own validator accepts it.
//!
//! The validator is the npm package `@forge/manifest` 13.7.0 (with `tslib`, which it needs but
//! does not declare), pinned by `tests/forge-manifest/package-lock.json`. Its licence forbids
//! copying its schema into this repository, so it is installed at test time: `scripts/test`
//! does that, or `npm ci --prefix cli/tests/forge-manifest`. `tests/forge-manifest/validate.js`
//! runs the full validation (`forge lint`'s) and the product-trigger and forge-remote-compute
//! validations on a manifest file, in a directory that also holds the Custom UI bundles.
//! `--connect` (Connect on Forge) is checked against the descriptor the ingress serves.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::config::AppSettings;
use common::forge::events::EVENTS;
use common::tenant::ProductType;
use ingress::descriptor::render_descriptor;
use serde_json::{json, Value};

const APP_UUID: &str = "6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";
const APP_ARI: &str = "ari:cloud:ecosystem::app/6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";
const BASE_URL: &str = "https://hookline.example.com";
const JIRA_SCOPES: [&str; 2] = ["read:jira-work", "write:jira-work"];
const CONFLUENCE_SCOPES: [&str; 4] = [
    "read:confluence-content.summary",
    "read:confluence-props",
    "write:confluence-content",
    "write:confluence-props",
];

/// Runs `hookline forge manifest` with only the given `HOOKLINE_*` variables (and a temporary
/// data directory).
fn hookline(args: &[&str], vars: &[(&str, &str)]) -> Output {
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
fn manifest(args: &[&str], vars: &[(&str, &str)]) -> (String, Value) {
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

fn strings(value: &Value) -> Vec<&str> {
    let items = value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"));
    items
        .iter()
        .map(|item| item.as_str().expect("a string"))
        .collect()
}

fn trigger<'a>(manifest: &'a Value, key: &str) -> &'a Value {
    let triggers = manifest["modules"]["trigger"].as_array().expect("triggers");
    triggers
        .iter()
        .find(|trigger| trigger["key"] == key)
        .unwrap_or_else(|| panic!("no trigger {key} in {manifest:#}"))
}

/// Every product event the triggers name.
fn trigger_events(manifest: &Value) -> Vec<String> {
    let triggers = manifest["modules"]["trigger"].as_array().expect("triggers");
    triggers
        .iter()
        .flat_map(|trigger| strings(&trigger["events"]))
        .map(str::to_owned)
        .collect()
}

fn validator_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("forge-manifest")
}

/// Fails unless `npm ci` installed the validator.
fn installed_validator() -> PathBuf {
    let dir = validator_dir();
    for package in ["@forge/manifest", "tslib"] {
        let file = dir.join("node_modules").join(package).join("package.json");
        assert!(
            file.is_file(),
            "the npm package {package} is not installed at {}.\n\
             Run `scripts/test` (it installs it), or from the workspace root:\n    \
             npm ci --prefix cli/tests/forge-manifest",
            file.display()
        );
    }
    dir
}

/// `validate.js` on each manifest, saved as `manifest.yml` in a directory of its own (one node
/// run: loading the package takes seconds): a `{file, success, errors}` verdict for each.
fn validate(manifests: &[&str]) -> Vec<Value> {
    let dir = installed_validator();
    let apps = tempfile::tempdir().expect("a temporary directory");
    let files: Vec<PathBuf> = manifests
        .iter()
        .enumerate()
        .map(|(n, yaml)| {
            let app = apps.path().join(format!("app{n}"));
            for bundle in ["forge-ui/rules", "forge-ui/activity"] {
                let bundle = app.join(bundle);
                std::fs::create_dir_all(&bundle).expect("creates a Custom UI bundle");
                std::fs::write(bundle.join("index.html"), "<!doctype html><title>x</title>")
                    .expect("writes index.html");
                std::fs::write(bundle.join("icon.svg"), "<svg/>").expect("writes icon.svg");
            }
            std::fs::write(app.join("manifest.yml"), yaml).expect("writes manifest.yml");
            app.join("manifest.yml")
        })
        .collect();
    let output = Command::new("node")
        .arg(dir.join("validate.js"))
        .args(&files)
        .current_dir(apps.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): Node.js must be on the PATH (run `scripts/test`)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`node validate.js` failed with {}\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        output.status
    );
    let verdicts: Vec<Value> = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("validate.js printed no JSON ({e}):\n{stdout}\n{stderr}")
            })
        })
        .collect();
    assert_eq!(
        verdicts.len(),
        files.len(),
        "one verdict per file:\n{stdout}"
    );
    for (verdict, file) in verdicts.iter().zip(&files) {
        assert_eq!(verdict["file"], file.to_str().expect("a UTF-8 path"));
    }
    verdicts
}

/// The error-level entries of a verdict.
fn errors(verdict: &Value) -> Vec<&Value> {
    let entries = verdict["errors"].as_array().expect("errors");
    entries
        .iter()
        .filter(|entry| entry["level"] == "error")
        .collect()
}

/// The product events `@forge/manifest` maps to scopes (`avi:forge:*` are not there).
fn mapped_events() -> BTreeSet<String> {
    let file = installed_validator()
        .join("node_modules/@forge/manifest/out/mapping/product-event-to-scope-mapping.json");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let mapping: Value = serde_json::from_str(&text).expect("the mapping is JSON");
    let entries = mapping["mapping"].as_array().expect("a mapping list");
    let events: BTreeSet<String> = entries
        .iter()
        .filter_map(|entry| entry["productEvent"].as_str().map(str::to_owned))
        .collect();
    assert!(events.len() > 100, "the mapping shrank: {events:?}");
    events
}

#[test]
fn the_manifest_declares_the_remote_its_endpoints_triggers_and_scopes() {
    let (text, manifest) = manifest(&[], &[]);
    assert!(
        text.starts_with("# Generated by `hookline forge manifest`"),
        "{text}"
    );
    for words in [
        "forge.app_id",
        "app.webhooks",
        "forge deploy",
        "forge install",
    ] {
        assert!(text.contains(words), "the comment lacks {words:?}:\n{text}");
    }
    assert_eq!(manifest["app"]["id"], APP_ARI);
    assert_eq!(manifest["app"]["runtime"]["name"], "nodejs22.x");
    let system_token = json!({"appSystemToken": {"enabled": true}});
    assert_eq!(
        manifest["remotes"],
        json!([{"key": "hookline", "baseUrl": BASE_URL, "operations": ["storage", "compute"], "storage": {"inScopeEUD": true},
            "auth": system_token}])
    );

    let endpoints = manifest["modules"]["endpoint"]
        .as_array()
        .expect("endpoints");
    let routes: Vec<(&str, &str)> = endpoints
        .iter()
        .map(|endpoint| {
            assert_eq!(endpoint["remote"], "hookline", "{endpoint}");
            assert_eq!(endpoint["auth"], system_token, "{endpoint}");
            let key = endpoint["key"].as_str().expect("a key");
            (key, endpoint["route"]["path"].as_str().expect("a route"))
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("hookline-events", "/forge/events"),
            ("hookline-refresh", "/forge/refresh"),
            ("hookline-uninstall", "/forge/uninstall"),
            ("hookline-ui", "/forge/ui"),
        ]
    );
    assert!(manifest["app"].get("connect").is_none(), "{manifest:#}");
    assert!(manifest.get("connectModules").is_none(), "{manifest:#}");

    let jira = trigger(&manifest, "jira-events");
    assert_eq!(jira["endpoint"], "hookline-events");
    assert_eq!(jira["filter"], json!({"ignoreSelf": true}));
    let jira_events = strings(&jira["events"]);
    for event in [
        "avi:jira:created:issue",
        "avi:jira:updated:issue",
        "avi:jira:commented:issue",
    ] {
        assert!(jira_events.contains(&event), "{jira_events:?}");
    }
    let commented = jira_events
        .iter()
        .filter(|e| **e == "avi:jira:commented:issue");
    assert_eq!(
        commented.count(),
        1,
        "comment_created and _updated share one event"
    );
    let confluence = trigger(&manifest, "confluence-events");
    assert_eq!(confluence["endpoint"], "hookline-events");
    assert!(strings(&confluence["events"]).contains(&"avi:confluence:created:comment"));
    let lifecycle = trigger(&manifest, "lifecycle");
    assert_eq!(lifecycle["endpoint"], "hookline-events");
    assert_eq!(
        strings(&lifecycle["events"]),
        ["avi:forge:installed:app", "avi:forge:upgraded:app"]
    );

    assert_eq!(
        manifest["modules"]["scheduledTrigger"],
        json!([{"key": "token-refresh", "endpoint": "hookline-refresh", "interval": "hour"}])
    );
    assert_eq!(
        manifest["modules"]["preUninstall"],
        json!([{"key": "pre-uninstall", "endpoint": "hookline-uninstall"}])
    );
    let mut scopes = vec!["read:app-system-token"];
    scopes.extend(JIRA_SCOPES.iter().chain(&CONFLUENCE_SCOPES));
    scopes.sort_unstable();
    assert_eq!(strings(&manifest["permissions"]["scopes"]), scopes);
    assert_custom_ui(&manifest, true);
}

/// Whether the pages are Custom UI modules: the bundles, one Forge module per Connect page
/// (none left in `connectModules`), each calling the `hookline-ui` resolver.
fn assert_custom_ui(manifest: &Value, on: bool) {
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
    if !on {
        assert!(manifest.get("resources").is_none(), "{manifest:#}");
        assert!(
            page_types.iter().all(|t| modules.get(t).is_none()),
            "{manifest:#}"
        );
        return;
    }
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

/// One run of the command for the validator.
struct Case<'a> {
    name: &'a str,
    args: &'a [&'a str],
    vars: Vec<(&'a str, &'a str)>,
    /// The product scopes expected (besides `read:app-system-token`).
    scopes: Vec<&'a str>,
}

/// The descriptor scopes (`READ`, `WRITE`) as Forge names them for Connect modules.
const CONNECT_SCOPES: [&str; 4] = [
    "read:connect-confluence",
    "read:connect-jira",
    "write:connect-confluence",
    "write:connect-jira",
];

/// `forge.triggers` moving Jira's comments (both: Forge sends them as one event) and one
/// Confluence event.
const SOME_MOVED: &str = "jira:comment_created,jira:comment_updated,confluence:page_created";

fn cases(every_event: &str) -> Vec<Case<'_>> {
    let both: Vec<&str> = JIRA_SCOPES
        .iter()
        .chain(&CONFLUENCE_SCOPES)
        .copied()
        .collect();
    let connect: Vec<&str> = both.iter().chain(&CONNECT_SCOPES).copied().collect();
    let webhooks = |list| vec![("HOOKLINE_APP__WEBHOOKS", list)];
    vec![
        Case {
            name: "the default subscriptions",
            args: &[],
            vars: vec![],
            scopes: both.clone(),
        },
        Case {
            name: "every event hookline handles",
            args: &["--runtime", "nodejs24.x"],
            vars: webhooks(every_event),
            scopes: both.clone(),
        },
        Case {
            name: "Jira only, pages left out",
            args: &["--runtime", "nodejs20.x"],
            vars: vec![
                (
                    "HOOKLINE_APP__WEBHOOKS",
                    "jira:jira:issue_created,jira:comment_created",
                ),
                ("HOOKLINE_FORGE__CUSTOM_UI", "false"),
            ],
            scopes: JIRA_SCOPES.to_vec(),
        },
        Case {
            name: "Confluence only",
            args: &[],
            vars: webhooks("confluence:page_created,confluence:comment_removed"),
            scopes: CONFLUENCE_SCOPES.to_vec(),
        },
        Case {
            name: "--connect, no event moved",
            args: &["--connect"],
            vars: vec![],
            scopes: connect.clone(),
        },
        Case {
            name: "--connect, some events moved",
            args: &["--connect"],
            vars: vec![("HOOKLINE_FORGE__TRIGGERS", SOME_MOVED)],
            scopes: connect.clone(),
        },
        Case {
            name: "--connect, every event moved, Custom UI on",
            args: &["--connect"],
            vars: vec![
                ("HOOKLINE_APP__WEBHOOKS", every_event),
                ("HOOKLINE_FORGE__TRIGGERS", "all"),
                ("HOOKLINE_FORGE__CUSTOM_UI", "true"),
            ],
            scopes: connect,
        },
        Case {
            name: "--connect --product confluence, keys per product",
            args: &["--connect", "--product", "confluence"],
            vars: vec![("HOOKLINE_APP__JIRA__KEY", "com.example.hookline.jira")],
            scopes: [
                &CONFLUENCE_SCOPES[..],
                &["read:connect-confluence", "write:connect-confluence"],
            ]
            .concat(),
        },
    ]
}

#[test]
fn atlassians_validator_accepts_the_manifest() {
    let every_event: Vec<String> = EVENTS
        .iter()
        .map(|(_, product, event)| format!("{product}:{event}"))
        .collect();
    let every_event = every_event.join(",");
    let cases = cases(&every_event);
    let mapped = mapped_events();
    let manifests: Vec<(String, Value)> = cases
        .iter()
        .map(|case| manifest(case.args, &case.vars))
        .collect();
    let texts: Vec<&str> = manifests.iter().map(|(text, _)| text.as_str()).collect();
    let verdicts = validate(&texts);
    for (case, ((text, manifest), verdict)) in cases.iter().zip(manifests.iter().zip(&verdicts)) {
        let name = case.name;
        let errors = errors(verdict);
        assert!(
            verdict["success"] == true && errors.is_empty(),
            "{name}: @forge/manifest rejects the manifest:\n{errors:#?}\n--- manifest.yml ---\n{text}"
        );
        let unknown: Vec<String> = trigger_events(manifest)
            .into_iter()
            .filter(|event| !event.starts_with("avi:forge:") && !mapped.contains(event))
            .collect();
        assert!(
            unknown.is_empty(),
            "{name}: events @forge/manifest does not know: {unknown:?}"
        );
        let mut scopes = case.scopes.clone();
        scopes.push("read:app-system-token");
        scopes.sort_unstable();
        assert_eq!(
            strings(&manifest["permissions"]["scopes"]),
            scopes,
            "{name}"
        );
        assert_unique_keys(manifest, name);
    }
    let every = &manifests[1].1;
    assert_eq!(trigger_events(every).len(), EVENTS.len() + 2, "{every:#}");
    let all_moved = &manifests[6].1;
    assert_eq!(
        trigger_events(all_moved).len(),
        EVENTS.len() + 2,
        "{all_moved:#}"
    );
}

/// Module keys are unique across `modules` and `connectModules` (the validator checks it
/// too, but says less).
fn assert_unique_keys(manifest: &Value, name: &str) {
    let mut keys = BTreeSet::new();
    for section in ["modules", "connectModules"] {
        let Some(types) = manifest[section].as_object() else {
            continue;
        };
        for module in types.values().filter_map(Value::as_array).flatten() {
            let key = module["key"].as_str().expect("a key");
            assert!(
                keys.insert(key.to_owned()),
                "{name}: key {key} twice: {manifest:#}"
            );
        }
    }
}

/// The validator is not a rubber stamp: a manifest without a trigger's scope fails.
#[test]
fn atlassians_validator_rejects_a_manifest_missing_a_scope() {
    let (_, mut manifest) = manifest(&[], &[]);
    let scopes = manifest["permissions"]["scopes"]
        .as_array_mut()
        .expect("scopes");
    scopes.retain(|scope| scope != "read:jira-work");
    let yaml = yaml_serde::to_string(&manifest).expect("YAML");
    let verdict = &validate(&[&yaml])[0];
    let messages: Vec<&str> = errors(verdict)
        .iter()
        .filter_map(|error| error["message"].as_str())
        .collect();
    assert_eq!(verdict["success"], false, "{verdict}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("requires 'read:jira-work' scope")),
        "{messages:?}"
    );
}

#[test]
fn without_forge_app_id_it_fails_naming_the_setting() {
    let output = hookline(&[], &[("HOOKLINE_APP__BASE_URL", BASE_URL)]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("forge.app_id"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout when it fails");
}

/// Runs the command expecting it to fail: its standard error.
fn failure(args: &[&str], vars: &[(&str, &str)]) -> String {
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

//! `hookline forge manifest`: what it prints, and that Atlassian's own validator accepts it.
//!
//! The validator is the npm package `@forge/manifest` 13.7.0 (with `tslib`, which it needs but
//! does not declare), pinned by `tests/forge-manifest/package-lock.json`. Its licence forbids
//! copying its schema into this repository, so it is installed at test time: `scripts/test`
//! does that, or `npm ci --prefix cli/tests/forge-manifest`. `tests/forge-manifest/validate.js`
//! runs the full validation (`forge lint`'s) and the product-trigger and forge-remote-compute
//! validations on a manifest file, in a directory that also holds the Custom UI bundles.
//! The shape of `--connect` (Connect on Forge) is checked in `forge_manifest_connect.rs`.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::forge::events::EVENTS;
use serde_json::{json, Value};

mod forge_manifest_support;
use forge_manifest_support::{
    assert_custom_ui, hookline, manifest, strings, trigger, trigger_events, APP_ARI, BASE_URL,
    CONFLUENCE_SCOPES, JIRA_SCOPES, SOME_MOVED,
};

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
            let key = endpoint["key"].as_str().expect("a key");
            // The Custom UI resolver also gets the user's token (for its admin check).
            let auth = match key {
                "hookline-ui" => {
                    json!({"appSystemToken": {"enabled": true}, "appUserToken": {"enabled": true}})
                }
                _ => system_token.clone(),
            };
            assert_eq!(endpoint["auth"], auth, "{endpoint}");
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
    // The Custom UI resolver's user token needs `read:app-user-token`.
    let mut scopes = vec!["read:app-system-token", "read:app-user-token"];
    scopes.extend(JIRA_SCOPES.iter().chain(&CONFLUENCE_SCOPES));
    scopes.sort_unstable();
    assert_eq!(strings(&manifest["permissions"]["scopes"]), scopes);
    assert_custom_ui(&manifest, true);
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
        // Pages are Custom UI unless `--connect` or `forge.custom_ui` says otherwise; their
        // resolver takes the user's token.
        let custom_ui = case
            .vars
            .iter()
            .find(|(name, _)| *name == "HOOKLINE_FORGE__CUSTOM_UI")
            .map_or(!case.args.contains(&"--connect"), |(_, on)| *on == "true");
        if custom_ui {
            scopes.push("read:app-user-token");
        }
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

//! Checks shared by `ingress/tests/monitoring.rs` and `worker/tests/monitoring.rs` (each
//! includes this file with `#[path]`): `promtool check metrics` on a service's real exposition,
//! and the metric names the alerts, alert tests, dashboard and runbook use, compared with what
//! the services declare and really export.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Files whose `hookline_*` names must all be exported by a service.
pub const MONITORING_FILES: [&str; 4] = [
    "monitoring/alerts.yml",
    "monitoring/alerts.test.yml",
    "monitoring/grafana/dashboards/hookline.json",
    "docs/operations.md",
];

/// The workspace root (the crate running the test is one level down).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lies in the workspace")
        .to_path_buf()
}

pub fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs `promtool check metrics` on `exposition`, failing with every problem it reports.
pub fn promtool_check_metrics(service: &str, exposition: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.unwrap_or_else(|e| {
        panic!("cannot run promtool ({e}): install it (apt-get install prometheus) or run scripts/test, which does")
    });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("promtool reads the exposition");
    let output = child.wait_with_output().expect("promtool finishes");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.trim().is_empty(),
        "promtool check metrics found problems in the {service}'s /metrics:\n{report}\n--- exposition ---\n{exposition}"
    );
}

/// The metric families of an exposition (`# TYPE name kind` lines).
pub fn exported_families(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Every `hookline_*` identifier in `text`, as a family name (histogram series suffixes
/// `_bucket`, `_sum` and `_count` stripped).
pub fn hookline_names(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut names = BTreeSet::new();
    let mut at = 0;
    while let Some(found) = text[at..].find("hookline_") {
        let start = at + found;
        let end = start
            + text[start..]
                .bytes()
                .take_while(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                .count();
        let bare_prefix = end == start + "hookline_".len();
        if !bare_prefix && (start == 0 || !is_ident(bytes[start - 1])) {
            let name = &text[start..end];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            names.insert(family.trim_end_matches('_').to_owned());
        }
        at = end;
    }
    names
}

/// Each `hookline_*` name used by the monitoring files, with the files using it.
pub fn names_used_by_monitoring() -> BTreeMap<String, Vec<&'static str>> {
    let mut used: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for file in MONITORING_FILES {
        for name in hookline_names(&read(file)) {
            used.entry(name).or_default().push(file);
        }
    }
    used
}

/// The `"hookline_*"` string literals of a crate's sources: the metric names it declares.
pub fn names_declared_by(crate_dir: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut dirs = vec![repo_root().join(crate_dir).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source directory lists") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).expect("a source file");
                names.extend(
                    source
                        .split("\"hookline_")
                        .skip(1)
                        .filter_map(|rest| rest.split('"').next())
                        .map(|rest| format!("hookline_{rest}")),
                );
            }
        }
    }
    names
}

/// Asserts that every name the monitoring files use is declared by the ingress or the worker,
/// and that those `service` declares are in its real `exposition`.
pub fn assert_monitoring_names_are_exported(service: &str, exposition: &str) {
    let used = names_used_by_monitoring();
    assert!(
        used.len() >= 10,
        "the monitoring files use suspiciously few metrics: {used:?}"
    );
    let declared_by_service = names_declared_by(service);
    let declared: BTreeSet<String> = declared_by_service
        .iter()
        .cloned()
        .chain(names_declared_by(other_service(service)))
        .collect();
    let unknown: Vec<_> = used
        .iter()
        .filter(|(name, _)| !declared.contains(*name))
        .collect();
    assert!(
        unknown.is_empty(),
        "used by the monitoring files but exported by no service: {unknown:?}"
    );
    let exported = exported_families(exposition);
    let missing: Vec<_> = used
        .iter()
        .filter(|(name, _)| declared_by_service.contains(*name) && !exported.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "declared by the {service} and used by the monitoring files, but not in its real /metrics: {missing:?}\nexported: {exported:?}"
    );
}

fn other_service(service: &str) -> &'static str {
    match service {
        "ingress" => "worker",
        _ => "ingress",
    }
}

//! Cross-check of our canonical request and qsh (docs/protocol.md §3) against Atlassian's own
//! `atlassian-jwt` npm package (2.0.3, pinned by `tests/conformance/package-lock.json`).
//!
//! `tests/conformance/qsh.js` computes every case of `tests/conformance/cases.json` with the
//! library; this test computes the same cases with `common::connect::CanonicalRequest` and
//! lists every disagreement. It needs `node` on the PATH and the package installed:
//! `scripts/test` does that, or `npm ci --prefix common/tests/conformance`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::connect::CanonicalRequest;
use serde_json::Value;

/// A floor against the case list being emptied or truncated by accident.
const MIN_CASES: usize = 40;

/// Cases where the npm library and the Java reference (which Jira and Confluence run, and
/// which the Python `atlassian-jwt` and docs/protocol.md §3 follow) disagree: npm sorts parameter
/// names by their decoded form, Java by their encoded form. We follow Java. For these cases the
/// test asserts our documented canonical string, and that npm's differs only in pair order.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[
    (
        "key_sort_decoded_underscore_vs_brace",
        "GET&/search&a%7B=2&a_=1",
    ),
    (
        "key_sort_decoded_ascii_vs_unicode",
        "GET&/search&%C3%A9=2&z=1",
    ),
    (
        "key_sort_utf16_astral_vs_bmp",
        "GET&/search&%EF%BC%81=2&%F0%9F%98%80=1",
    ),
    ("query_invalid_utf8_in_key", "GET&/search&%EF%BF%BDk=1&k=2"),
];

/// The `name=values` pairs of a canonical string, sorted, to compare ignoring their order.
fn pairs(canonical: &str) -> Vec<&str> {
    let query = canonical.splitn(3, '&').nth(2).unwrap_or_default();
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    pairs
}

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("conformance")
}

#[derive(Debug)]
struct Case {
    name: String,
    method: String,
    target: String,
    base_path: String,
}

fn string_field(value: &Value, field: &str, context: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{context}: field {field:?} missing or not a string in {value}"))
        .to_owned()
}

fn load_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
    let items = json
        .as_array()
        .unwrap_or_else(|| panic!("{} must hold a JSON array", path.display()));
    let context = path.display().to_string();
    items
        .iter()
        .map(|item| Case {
            name: string_field(item, "name", &context),
            method: string_field(item, "method", &context),
            target: string_field(item, "target", &context),
            base_path: string_field(item, "basePath", &context),
        })
        .collect()
}

/// Runs `node qsh.js cases.json` and returns its JSON array.
fn run_library(dir: &Path, cases_file: &Path) -> Vec<Value> {
    let output = Command::new("node")
        .arg(dir.join("qsh.js"))
        .arg(cases_file)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `node` ({e}): Node.js must be on the PATH for this test \
                 (run `scripts/test`, which installs what it needs)"
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`node qsh.js cases.json` failed with {}\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        output.status
    );
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "qsh.js printed invalid JSON ({e})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        )
    });
    match json {
        Value::Array(items) => items,
        other => panic!("qsh.js printed {other}, not a JSON array"),
    }
}

#[test]
fn canonical_request_and_qsh_match_atlassian_jwt_npm() {
    let dir = conformance_dir();
    let library = dir.join("node_modules").join("atlassian-jwt");
    assert!(
        library.join("package.json").is_file(),
        "the npm package atlassian-jwt is not installed at {}.\n\
         Run `scripts/test` (it installs it), or from the workspace root:\n    \
         npm ci --prefix common/tests/conformance",
        library.display()
    );

    let cases_file = dir.join("cases.json");
    let cases = load_cases(&cases_file);
    assert!(
        cases.len() >= MIN_CASES,
        "{} holds {} cases, expected at least {MIN_CASES}",
        cases_file.display(),
        cases.len()
    );
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(
        before,
        names.len(),
        "case names in cases.json must be unique"
    );

    let results = run_library(&dir, &cases_file);
    assert_eq!(
        results.len(),
        cases.len(),
        "qsh.js returned {} results for {} cases",
        results.len(),
        cases.len()
    );

    let mut failures = String::new();
    let mut failed = 0usize;
    for (case, theirs) in cases.iter().zip(&results) {
        let input = format!(
            "method={:?} target={:?} basePath={:?}",
            case.method, case.target, case.base_path
        );
        let their_name = theirs.get("name").and_then(Value::as_str);
        if their_name != Some(case.name.as_str()) {
            failed += 1;
            let _ = writeln!(
                failures,
                "- {}: qsh.js answered out of order (got name {their_name:?})",
                case.name
            );
            continue;
        }
        if let Some(error) = theirs.get("error").and_then(Value::as_str) {
            failed += 1;
            let _ = writeln!(
                failures,
                "- {} ({input}): atlassian-jwt threw; drop or fix the case\n    {}",
                case.name,
                error.lines().next().unwrap_or_default()
            );
            continue;
        }
        let their_canonical = string_field(theirs, "canonical", "qsh.js output");
        let their_qsh = string_field(theirs, "qsh", "qsh.js output");

        let ours = CanonicalRequest::new(&case.method, &case.target, &case.base_path);
        let our_canonical = ours.as_str().to_owned();
        let our_qsh = ours.qsh().as_str().to_owned();

        if let Some((_, documented)) = KNOWN_DIVERGENCES.iter().find(|(n, _)| *n == case.name) {
            if our_canonical != *documented || pairs(&our_canonical) != pairs(&their_canonical) {
                failed += 1;
                let _ = writeln!(
                    failures,
                    "- {} ({input}): known divergence no longer as documented\n    \
                     ours:       {our_canonical:?}\n    documented: {documented:?}\n    \
                     theirs:     {their_canonical:?}",
                    case.name
                );
            }
            continue;
        }

        if our_canonical != their_canonical || our_qsh != their_qsh {
            failed += 1;
            let _ = writeln!(failures, "- {} ({input})", case.name);
            if our_canonical != their_canonical {
                let _ = writeln!(failures, "    ours:   {our_canonical:?}");
                let _ = writeln!(failures, "    theirs: {their_canonical:?}");
            } else {
                let _ = writeln!(
                    failures,
                    "    same canonical {our_canonical:?} but different qsh\n    \
                     ours:   {our_qsh}\n    theirs: {their_qsh}"
                );
            }
        }
    }

    for (name, _) in KNOWN_DIVERGENCES {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "known divergence {name} has no case in cases.json"
        );
    }
    assert!(
        failed == 0,
        "{failed} of {} cases disagree with atlassian-jwt 2.0.3 (ours = common::connect::CanonicalRequest, \
         theirs = tests/conformance/qsh.js):\n{failures}",
        cases.len()
    );
}

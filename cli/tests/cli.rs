//! The `hookline` binary as its users run it.
use std::process::{Command, Output};

fn hookline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(args)
        .env_remove("HOOKLINE_CONFIG")
        .output()
        .expect("runs hookline")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const VECTOR_URL: &str = "https://example.com/test?param=value&jwt=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjEzOTIyMDQ2NDIsInN1YiI6IjEyMzQ1Njc4OSIsImlzcyI6ImppcmE6MTIzNC01Njc4LTkwMDAiLCJxc2giOiJiZTE2OTEwODU4YTQxZmQxOWVhNWMxYjRlOWRlY2NhOWE3ODRkMTAyNGNiMDBiMjE1OGRlZmUyZjI5ZGM4NmRkIiwiaWF0IjoxMzkyMjA0NDYyfQ.RX2cWoT3uD8W355G71nkAwZOAl36COJqRkgfIbsjVW8";

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["migrate", "--help"],
        vec!["migrate", "status", "--help"],
        vec!["jwt", "--help"],
        vec!["jwt", "inspect", "--help"],
        vec!["jwt", "qsh", "--help"],
    ] {
        let output = hookline(&args);
        assert!(output.status.success(), "{args:?}");
        assert!(stdout(&output).contains("Usage: hookline"), "{args:?}");
    }
}

#[test]
fn jwt_qsh_prints_the_canonical_request_and_hash() {
    let output = hookline(&[
        "jwt",
        "qsh",
        "--method",
        "post",
        "--url",
        "/wiki/api/v2/footer-comments?b=2&a=1",
        "--base-path",
        "/wiki",
    ]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.contains("POST&/api/v2/footer-comments&a=1&b=2"),
        "{text}"
    );
    assert!(text.contains("qsh:"), "{text}");
}

#[test]
fn jwt_inspect_reports_a_matching_qsh_and_a_verifying_signature() {
    let output = hookline(&[
        "jwt",
        "inspect",
        "--url",
        VECTOR_URL,
        "--secret",
        "s0m3-sh@r3d-s3cr37",
    ]);
    let text = stdout(&output);
    assert!(text.contains("jira:1234-5678-9000"), "{text}");
    assert!(text.contains("ok   qsh        matches"), "{text}");
    assert!(text.contains("ok   signature  verifies"), "{text}");
    // The 2014 vector has long expired, so the overall verdict is a failure.
    assert!(text.contains("FAIL exp"), "{text}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn jwt_inspect_explains_a_wrong_secret_and_a_wrong_request() {
    let output = hookline(&[
        "jwt",
        "inspect",
        "--url",
        "https://example.com/test?param=other",
        "--secret",
        "wrong",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let output = hookline(&[
        "jwt",
        "inspect",
        VECTOR_URL.split("jwt=").nth(1).expect("token"),
        "--url",
        "/test?param=other",
        "--secret",
        "wrong",
    ]);
    let text = stdout(&output);
    assert!(text.contains("FAIL qsh"), "{text}");
    assert!(text.contains("FAIL signature"), "{text}");
}

#[test]
fn jwt_inspect_names_the_problem_with_a_garbage_token() {
    let output = hookline(&["jwt", "inspect", "not-a-token"]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("cannot decode the token"), "{error}");
}

#[test]
fn migrate_up_and_status_work_on_a_fresh_sqlite_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/db/hookline.db?mode=rwc", dir.path().display());
    let up = hookline(&["migrate", "--database-url", &url, "up"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let status = hookline(&["migrate", "--database-url", &url, "status"]);
    let text = stdout(&status);
    assert!(
        text.contains("Applied") && text.contains("create_tenants"),
        "{text}"
    );
}

#[test]
fn an_invalid_setting_is_reported_by_name() {
    let output = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(["migrate", "status"])
        .env("HOOKLINE_APP__BASE_URL", "http://public.example.com")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("app.base_url"), "{error}");
}

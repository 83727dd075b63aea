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

#[cfg(feature = "demo")]
#[test]
fn demo_runs_the_whole_pipeline_and_prints_the_posted_comments() {
    let output = hookline(&["demo"]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("KAN-1      comment"), "{text}");
    assert!(
        text.contains("Thanks! KAN-2 (Export is slow) is queued for triage."),
        "{text}"
    );
    assert!(text.contains("New page <b>Release notes 2.0</b>"), "{text}");
    assert!(
        text.contains("194347009  label     discussed"),
        "a Confluence comment acts on its page: {text}"
    );
    assert!(
        text.contains("2 comments on Jira") && text.contains("0 refused calls"),
        "{text}"
    );
    assert!(
        text.contains("Thanks! FRG-1 reached us through Forge.")
            && text.contains("1 through Forge"),
        "a Forge installation's event, delivered twice, comments once: {text}"
    );
}

#[cfg(feature = "demo")]
#[test]
fn demo_forge_shows_a_connect_app_moving_to_forge_with_one_effect_per_event() {
    let output = hookline(&["demo", "--forge"]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("still one tenant (demo-migrating)"), "{text}");
    assert!(text.contains("2 comments in all, one for MIG-2"), "{text}");
    assert!(
        text.contains("4 comments for 4 events, 2 by Connect and 2 by Forge, 0 refused calls"),
        "{text}"
    );
    assert!(text.contains("everything as expected"), "{text}");
}

#[test]
fn up_serves_the_descriptor_on_the_embedded_default_and_stops_on_sigterm() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(["up", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .env_remove("HOOKLINE_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let url = format!("http://127.0.0.1:{port}/jira/atlassian-connect.json");
    let mut descriptor = None;
    for _ in 0..100 {
        if let Ok(body) = http_get(&url) {
            descriptor = Some(body);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let descriptor: serde_json::Value =
        serde_json::from_str(&descriptor.expect("the descriptor is served")).expect("json");
    assert_eq!(descriptor["baseUrl"], format!("http://localhost:{port}"));
    assert!(dir.path().join("hookline.db").exists() && dir.path().join("hookline.key").exists());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("exits");
    assert!(exit.success(), "a clean exit on SIGTERM");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    assert!(out.contains("hookline is up (embedded"), "{out}");
}

/// A blocking GET with the standard library (the test has no runtime).
fn http_get(url: &str) -> Result<String, std::io::Error> {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let (host, path) = address.split_once('/').expect("a path");
    let mut stream = std::net::TcpStream::connect(host)?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or(std::io::ErrorKind::InvalidData)?;
    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
        Ok(body.to_owned())
    } else {
        Err(std::io::ErrorKind::InvalidData.into())
    }
}

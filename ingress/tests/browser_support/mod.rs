//! What the headless-Chromium tests share: where Chromium, the node project
//! (`ingress/tests/browser/`) and the screenshots are, a clear failure when one is missing, and
//! one run of a node script with a time limit.
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`), Node.js, and `npm ci` in `ingress/tests/browser`;
//! `scripts/test` installs all three.
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BROWSER_RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The node project that drives Chromium.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Where the screenshots go (`target/screenshots/`).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails with what to install when the browser, Node.js or playwright-core is missing.
pub fn check_prerequisites() {
    let chromium = chromium();
    assert!(
        chromium.is_file(),
        "Chromium is not installed at {} (set CHROMIUM to another path): run scripts/test, which \
         installs it with apt-get as root, or `apt-get install chromium`",
        chromium.display()
    );
    let playwright = browser_dir().join("node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "playwright-core is not installed in {}: run scripts/test, or \
         `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix ingress/tests/browser`",
        browser_dir().display()
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|output| output.status.success()),
        "Node.js is not installed: run scripts/test, or `apt-get install nodejs npm`"
    );
}

/// Runs `script` (in the node project) with `args` and Chromium, within 3 minutes; fails with
/// its output unless it succeeds, and returns that output.
pub async fn run_script(script: &str, args: &[&OsStr]) -> String {
    let run = tokio::process::Command::new("node")
        .arg(browser_dir().join(script))
        .args(args)
        .env("CHROMIUM", chromium())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BROWSER_RUN_TIMEOUT, run)
        .await
        .expect("the browser run finishes within 3 minutes")
        .expect("node runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the browser run failed:\n{log}");
    log
}

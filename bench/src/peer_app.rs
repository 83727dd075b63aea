//! The peer, `bench/peer/app.js` (atlassian-connect-express on Node), as a child process:
//! started with the benchmark's tenants in its store, stopped with its cluster workers at the
//! end. It holds the peer's standard input open, so the peer exits with this process however
//! this process ends.
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::signed::BenchTenant;

/// The peer app: `bench/peer` of the checkout this binary was built from.
pub const PEER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/peer");
const INSTALL_HINT: &str = "run npm ci --prefix bench/peer";
/// The start of the line app.js prints once every process listens.
const READY: &str = "hookline-bench peer ready on ";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running peer.
pub struct PeerUnderTest {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// What its ready line says it is: `1 process, atlassian-connect-express 11.5.3, node v20`.
    pub description: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

/// Fails with what to do when Node or the peer's packages are missing.
pub async fn check_installed() -> anyhow::Result<()> {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    anyhow::ensure!(
        node.is_ok_and(|status| status.success()),
        "node is not installed; the peer (bench/peer) needs Node.js 20 or later, then {INSTALL_HINT}"
    );
    let ace = Path::new(PEER_DIR).join("node_modules/atlassian-connect-express/package.json");
    anyhow::ensure!(
        ace.is_file(),
        "{PEER_DIR}/node_modules is missing: {INSTALL_HINT}"
    );
    Ok(())
}

impl PeerUnderTest {
    /// Starts `node bench/peer/app.js` with `processes` processes (more than 1: a Node
    /// cluster) and `tenants` installed, and waits until it listens.
    pub async fn start(tenants: &[BenchTenant], processes: usize) -> anyhow::Result<Self> {
        check_installed().await?;
        let tenants_file = TenantsFile::write(tenants)?;
        // ACE puts the port in its base URL, so the peer cannot be told to pick one itself.
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.local_addr())
            .context("finding a free port for the peer")?
            .port();
        let mut child = Command::new("node")
            .arg("app.js")
            .current_dir(PEER_DIR)
            .env("PORT", port.to_string())
            .env("HOOKLINE_PEER_TENANTS", &tenants_file.0)
            .env("HOOKLINE_PEER_PROCESSES", processes.to_string())
            .env("HOOKLINE_PEER_EXIT_WITH_STDIN", "1")
            // `AC_OPTS=no-auth` would switch ACE's JWT check off.
            .env_remove("AC_OPTS")
            .env_remove("NODE_OPTIONS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting node app.js in {PEER_DIR}"))?;
        let stdout = child.stdout.take().context("the peer's standard output")?;
        let mut peer = Self {
            address: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            description: String::new(),
            stdin: child.stdin.take(),
            child,
        };
        match tokio::time::timeout(READY_TIMEOUT, ready(stdout)).await {
            Ok(Ok(description)) => {
                peer.description = description;
                Ok(peer)
            }
            Ok(Err(error)) => {
                let _ = peer.stop().await;
                Err(error)
            }
            Err(_) => {
                let _ = peer.stop().await;
                anyhow::bail!("the peer was not ready within {READY_TIMEOUT:?}")
            }
        }
    }

    /// Closes the peer's standard input (it stops its workers and exits), and kills it if it
    /// has not exited in time.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => {
                let status = status.context("waiting for the peer to exit")?;
                anyhow::ensure!(
                    status.success(),
                    "the peer exited with {status} (its errors are above)"
                );
            }
            Err(_) => {
                tracing::warn!("the peer did not stop in time; killing it");
                self.child.kill().await.context("killing the peer")?;
            }
        }
        Ok(())
    }
}

/// Reads the peer's output up to its ready line and returns what the line says the peer is;
/// the rest of the output is read (and dropped) in the background so the peer never blocks.
async fn ready(stdout: ChildStdout) -> anyhow::Result<String> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(description) = description_of(&line) {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(description.to_owned());
        }
    }
    anyhow::bail!("the peer exited before it was ready (its errors are above)")
}

/// `1 process, ...` from `hookline-bench peer ready on 127.0.0.1:PORT (1 process, ...)`.
fn description_of(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(READY)?;
    let open = rest.find('(')?;
    rest.get(open + 1..rest.rfind(')')?)
}

/// The tenants' `installed` payloads in a file of the temporary directory, readable by this
/// user only (they hold the shared secrets), deleted when dropped.
struct TenantsFile(PathBuf);

impl TenantsFile {
    fn write(tenants: &[BenchTenant]) -> anyhow::Result<Self> {
        let payloads: Vec<_> = tenants.iter().map(BenchTenant::install_json).collect();
        let path = std::env::temp_dir().join(format!(
            "hookline-bench-peer-{}.json",
            uuid::Uuid::new_v4().simple()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let file_guard = Self(path);
        file.write_all(&serde_json::to_vec(&payloads)?)
            .with_context(|| format!("writing {}", file_guard.0.display()))?;
        Ok(file_guard)
    }
}

impl Drop for TenantsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_says_what_the_peer_is() {
        let line = "hookline-bench peer ready on 127.0.0.1:4000 (cluster of 2 workers, \
                    atlassian-connect-express 11.5.3, node v20.20.2)";
        assert_eq!(
            description_of(line),
            Some("cluster of 2 workers, atlassian-connect-express 11.5.3, node v20.20.2")
        );
        assert_eq!(description_of("listening on 4000"), None);
    }

    #[test]
    fn the_tenants_file_holds_every_install_payload_and_goes_away() {
        let tenants: Vec<_> = (0..3).map(BenchTenant::numbered).collect();
        let file = TenantsFile::write(&tenants).unwrap();
        let path = file.0.clone();
        let payloads: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(payloads.len(), 3);
        assert_eq!(payloads[2]["clientKey"], "tenant-2");
        assert_eq!(
            payloads[2]["sharedSecret"].as_str(),
            Some(tenants[2].secret.expose())
        );
        drop(file);
        assert!(!path.exists());
    }
}

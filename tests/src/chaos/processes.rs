//! The ingress and worker as real processes (the binaries `cargo test` builds next to the
//! test), configured through `HOOKLINE_*` variables, that a chaos test may SIGKILL.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// How long a service may take to be ready after it was spawned.
const READY_PATIENCE: Duration = Duration::from_secs(60);

/// Where `cargo` put the binaries: the directory above the test's own `deps/`.
fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = binary_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} is missing; build it first: cargo build -p ingress -p worker (scripts/test does)",
            path.display()
        );
    }
    Ok(path)
}

/// Runs the built binary `program` with `args` and only the variables `env` (and `PATH`),
/// as an operator runs a command beside the services; its standard output, or an error with
/// both outputs if it failed.
pub async fn run(program: &str, args: &[&str], env: &[(String, String)]) -> anyhow::Result<String> {
    let path = binary(program)?;
    let output = Command::new(&path)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .await
        .with_context(|| format!("running {}", path.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "{program} {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// `target/{name}`, emptied: where this run's services write their logs.
pub fn log_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = binary_dir()?
        .parent()
        .context("target/<profile> has a parent")?
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// `target/<profile>`: the directory above the test's own `deps/`.
fn binary_dir() -> anyhow::Result<PathBuf> {
    let test = std::env::current_exe().context("the test's own path")?;
    test.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("the test binary lives in target/<profile>/deps")
}

/// One running service process; SIGKILLed on drop if still running.
pub struct Service {
    name: String,
    child: Child,
    log: PathBuf,
    ready_url: String,
}

impl Service {
    /// Spawns the `program` binary (`ingress`, `worker` or `hookline`) with `args` and `env`,
    /// its output in a log file under `log_dir`, and waits until `ready_url` answers 200.
    pub async fn spawn(
        name: &str,
        program: &str,
        args: &[&str],
        env: &[(String, String)],
        log_dir: &Path,
        ready_url: &str,
    ) -> anyhow::Result<Self> {
        let log = log_dir.join(format!("{name}.log"));
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(binary(program)?)
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {program}"))?;
        let mut service = Self {
            name: name.to_owned(),
            child,
            log,
            ready_url: ready_url.to_owned(),
        };
        service.wait_ready(ready_url).await?;
        Ok(service)
    }

    async fn wait_ready(&mut self, url: &str) -> anyhow::Result<()> {
        let client = reqwest_client();
        let deadline = tokio::time::Instant::now() + READY_PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before it was ready; {}",
                    self.name,
                    self.tail()
                );
            }
            let ready = client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "{} was not ready at {url} within {READY_PATIENCE:?}; {}",
                    self.name,
                    self.tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value of a gauge or counter without labels on the service's `/metrics` (served
    /// beside its readiness endpoint), if it answers.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let base = self.ready_url.rsplit_once('/')?.0;
        let text = reqwest_client()
            .get(format!("{base}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    }

    /// Kills the process with SIGKILL (no drain, no goodbye) and reaps it.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// Asks the process to stop (SIGTERM, as an orchestrator does) and waits up to `patience`
    /// for it to exit; returns its exit status.
    pub async fn terminate(
        mut self,
        patience: Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().context("the process has exited already")?;
        let signalled = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(signalled.success(), "kill -TERM {pid} failed");
        let status = tokio::time::timeout(patience, self.child.wait())
            .await
            .with_context(|| format!("{} did not stop within {patience:?}", self.name))??;
        Ok(status)
    }

    /// Where it writes its log.
    pub fn log_path(&self) -> PathBuf {
        self.log.clone()
    }

    /// Whether the process is still running (it never exited on its own).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last lines of its log, for failure messages.
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(20);
        format!(
            "last lines of {}:\n{}",
            self.log.display(),
            lines[start..].join("\n")
        )
    }
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a plain HTTP client")
}

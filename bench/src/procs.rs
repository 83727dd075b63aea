//! Child processes as an operator runs them: the release binaries next to this executable,
//! configured only through `HOOKLINE_*` variables, timed from spawn to ready, measured from
//! `/proc` (peak resident memory), and killed when their handle drops, however the run ends.
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How often readiness is probed: start-up takes tens of milliseconds.
const PROBE_INTERVAL: Duration = Duration::from_millis(5);
/// The longest one probe (connect, request, whole answer) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a process may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The release binary `name`, from the directory of this executable (`target/release`).
pub fn release_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating hookline-bench's own executable")?;
    let path = exe
        .parent()
        .context("hookline-bench's executable has no directory")?
        .join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} does not exist: run cargo build --release -p ingress -p worker",
        path.display()
    );
    Ok(path)
}

/// A local port free right now (the child binds it a moment later).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free local port")?;
    Ok(listener.local_addr()?.port())
}

/// Resident memory of a process, KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// The peak so far (`VmHWM`).
    pub peak_kib: u64,
    /// Now (`VmRSS`).
    pub current_kib: u64,
}

/// A running child process; SIGKILLed and reaped on drop unless it was stopped already.
pub struct Process {
    name: String,
    child: Child,
    spawned: Instant,
}

impl Process {
    /// Starts `program` with `env` as its only `HOOKLINE_*` variables (none inherited, so a
    /// developer's settings cannot leak in); its output goes to this process's standard error.
    pub fn spawn(name: &str, program: &Path, env: &[(String, String)]) -> anyhow::Result<Self> {
        let mut command = Command::new(program);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("HOOKLINE_") {
                command.env_remove(var);
            }
        }
        command
            .envs(env.iter().map(|(var, value)| (var, value)))
            .stdin(Stdio::null())
            .stdout(to_stderr()?)
            .stderr(to_stderr()?);
        let spawned = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            spawned,
        })
    }

    /// Its name in reports.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Probes until `ready` holds and returns the time from spawn; fails if the process exits
    /// or `timeout` passes first.
    pub async fn wait_ready<F, Fut>(
        &mut self,
        timeout: Duration,
        ready: F,
    ) -> anyhow::Result<Duration>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        loop {
            if ready().await {
                return Ok(self.spawned.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "{} exited during start-up ({status}); see its log above",
                    self.name
                );
            }
            anyhow::ensure!(
                self.spawned.elapsed() < timeout,
                "{} was not ready within {timeout:?}",
                self.name
            );
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Its resident memory now and at its peak.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status of {}", self.name))?;
        parse_memory(&status).with_context(|| format!("no VmHWM/VmRSS for {}", self.name))
    }

    /// Asks the process to stop (SIGTERM, as an orchestrator does), waits for it, and kills it
    /// if it takes too long.
    pub async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        let pid = self.pid().to_string();
        let signalled = Command::new("kill").args(["-TERM", &pid]).status();
        if signalled.map_or(true, |status| !status.success()) {
            tracing::warn!(process = %self.name, "could not send SIGTERM; killing it");
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(process = %self.name, "did not stop within {STOP_TIMEOUT:?}; killing it");
        self.child.kill()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A duplicate of this process's standard error, for a child's output.
fn to_stderr() -> anyhow::Result<Stdio> {
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating standard error")?;
    Ok(Stdio::from(fd))
}

/// `GET path` over HTTP/1.0 (one request, then the server closes): the status and the body,
/// or `None` if nothing whole came back.
pub async fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        parse_response(&response)
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}

fn parse_response(response: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// `VmHWM` and `VmRSS` from a `/proc/<pid>/status` file.
fn parse_memory(status: &str) -> Option<Memory> {
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        peak_kib: kib("VmHWM:")?,
        current_kib: kib("VmRSS:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_and_current_memory_come_from_the_status_file() {
        let status =
            "Name:\tworker\nVmPeak:\t  900000 kB\nVmHWM:\t   41234 kB\nVmRSS:\t   39000 kB\n";
        let memory = parse_memory(status).unwrap();
        assert_eq!((memory.peak_kib, memory.current_kib), (41_234, 39_000));
        assert_eq!(parse_memory("Name:\tzombie\n"), None);
    }

    #[test]
    fn an_http_answer_gives_its_status_and_body() {
        let answer = b"HTTP/1.0 503 Service Unavailable\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(answer), Some((503, "{}".to_owned())));
        assert_eq!(parse_response(b"HTTP/1.0 200 OK\r\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_resident_size() {
        if cfg!(target_os = "linux") {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            assert!(parse_memory(&status).unwrap().peak_kib > 0);
        }
    }

    #[tokio::test]
    async fn a_child_that_exits_during_start_up_is_reported() {
        let mut process = Process::spawn("false", Path::new("/bin/false"), &[]).unwrap();
        let error = process
            .wait_ready(Duration::from_secs(5), || async { false })
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("exited during start-up"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_binary_names_the_build_command() {
        let error = release_binary("no-such-hookline-binary").unwrap_err();
        assert!(error
            .to_string()
            .contains("run cargo build --release -p ingress -p worker"));
    }
}

//! A private PostgreSQL cluster and a private RabbitMQ node, on free ports in scratch
//! directories, that a chaos test may stop and start without disturbing the shared services
//! every other test uses. Both are stopped and removed on drop.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::resources::ScratchDir;
use crate::settings::free_port;

/// How long a service may take to accept connections after a start.
const START_PATIENCE: Duration = Duration::from_secs(90);

/// Whether this process runs as root (services then run as their own system users).
fn is_root() -> bool {
    // `id -u` keeps libc out of the test crate.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs `program args` as `user` when root (the servers refuse to run as root), as ourselves
/// otherwise; fails with the command's output.
fn run_as(user: &str, program: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", user, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = command
        .args(args)
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!("{} {args:?} failed: {text}", program.display());
    }
    Ok(text)
}

/// Hands `dir` to `user` when root, so that the server can write there.
fn give_to(user: &str, dir: &Path) -> anyhow::Result<()> {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", user])
            .arg(dir)
            .status()
            .context("running chown")?;
        if !status.success() {
            bail!("chown -R {user} {} failed", dir.display());
        }
    }
    Ok(())
}

/// Waits until something accepts TCP connections on `port`.
pub async fn wait_for_port(what: &str, port: u16) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + START_PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{what} did not accept connections on 127.0.0.1:{port} within {START_PATIENCE:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The newest installed PostgreSQL server programs (Debian keeps them out of `PATH`).
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL's server programs are not under /usr/lib/postgresql; run scripts/test, which installs them")?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .context("no initdb under /usr/lib/postgresql/*/bin")
}

/// A PostgreSQL cluster of our own (trust auth for `postgres` on 127.0.0.1).
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: ScratchDir,
    port: u16,
}

impl PrivatePostgres {
    /// Creates the cluster with `initdb` and starts it.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = postgres_bin_dir()?;
        let dir = ScratchDir::create();
        give_to("postgres", dir.path())?;
        let data = dir.path().join("data");
        let data = data.to_str().context("a UTF-8 scratch path")?;
        run_as(
            "postgres",
            &bin.join("initdb"),
            &[
                "-D",
                data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        let postgres = Self {
            bin,
            dir,
            port: free_port(),
        };
        postgres.up().await?;
        Ok(postgres)
    }

    /// `postgres://postgres@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server the hard way (`immediate`: no checkpoint, as in a crash).
    pub fn crash(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]).map(drop)
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn up(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        let log = log.to_str().context("a UTF-8 scratch path")?.to_owned();
        self.pg_ctl(&["-o", &options, "-l", &log, "-w", "start"])?;
        wait_for_port("the private PostgreSQL", self.port).await
    }

    fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let data = self.dir.path().join("data");
        let data = data.to_str().context("a UTF-8 scratch path")?;
        let mut all = vec!["-D", data];
        all.extend_from_slice(args);
        run_as("postgres", &self.bin.join("pg_ctl"), &all)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if let Err(error) = self.crash() {
            eprintln!("stopping the private PostgreSQL: {error:#}");
        }
    }
}

/// A RabbitMQ node of our own (guest may connect from 127.0.0.1).
pub struct PrivateRabbit {
    node: String,
    dir: ScratchDir,
    port: u16,
    dist_port: u16,
}

impl PrivateRabbit {
    /// Starts a node named `hookline-chaos-{id}@localhost` and waits for its AMQP port.
    pub async fn start() -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let rabbit = Self::create(&format!("hookline-chaos-{}@localhost", &id[..12]), "")?;
        rabbit.up().await?;
        Ok(rabbit)
    }

    /// Prepares node `node` in a scratch directory, on free ports, with `config` added to its
    /// `rabbitmq.conf`; [`PrivateRabbit::up`] starts it.
    pub fn create(node: &str, config: &str) -> anyhow::Result<Self> {
        let dir = ScratchDir::create();
        let port = free_port();
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n")?;
        std::fs::write(
            dir.path().join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n{config}"),
        )?;
        give_to("rabbitmq", dir.path())?;
        Ok(Self {
            node: node.to_owned(),
            dir,
            port,
            dist_port: free_port(),
        })
    }

    /// Starts the Erlang node and the application, and waits for the AMQP port.
    pub async fn up(&self) -> anyhow::Result<()> {
        let path = |name: &str| self.dir.path().join(name);
        let status = Command::new("rabbitmq-server")
            .arg("-detached")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", path("mnesia"))
            .env("RABBITMQ_LOG_BASE", path("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf"))
            .env("RABBITMQ_PID_FILE", path("pid"))
            .current_dir(self.dir.path())
            .status()
            .context("running rabbitmq-server; run scripts/test, which installs RabbitMQ")?;
        if !status.success() {
            bail!("rabbitmq-server -detached failed for {}", self.node);
        }
        wait_for_port("the private RabbitMQ node", self.port)
            .await
            .with_context(|| format!("see {}", self.dir.path().join("log").display()))
    }

    /// Stops the whole node (the Erlang VM too), as a machine going down would.
    pub fn down(&self) -> anyhow::Result<()> {
        self.ctl(&["stop"]).map(drop)
    }

    /// The node's name (`name@localhost`).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The node's AMQP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `amqp://guest:guest@127.0.0.1:{port}/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Stops the RabbitMQ application (every connection drops; the Erlang node stays).
    pub fn stop_app(&self) -> anyhow::Result<()> {
        self.ctl(&["stop_app"]).map(drop)
    }

    /// Starts the application again and waits for the AMQP port.
    pub async fn start_app(&self) -> anyhow::Result<()> {
        self.ctl(&["start_app"])?;
        wait_for_port("the private RabbitMQ node", self.port).await
    }

    /// Runs `rabbitmqctl -n {node} args`; its output.
    pub fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new("rabbitmqctl")
            .arg("-n")
            .arg(&self.node)
            .args(args)
            .output()
            .context("running rabbitmqctl")?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!("rabbitmqctl -n {} {args:?} failed: {text}", self.node);
        }
        Ok(text)
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        if let Err(error) = self.ctl(&["stop"]) {
            eprintln!("stopping the private RabbitMQ node: {error:#}");
        }
    }
}

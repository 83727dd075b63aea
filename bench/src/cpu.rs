//! CPU time by consumer, read from `/proc`: this process's threads by name (the ingress's
//! runtime, the load generator's, lapin's I/O threads), RabbitMQ, PostgreSQL and the peer's
//! Node processes. On two cores everything competes, so each figure comes with who used the
//! CPU while it was measured.
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Thread name of the ingress's runtime.
pub const INGRESS_THREAD: &str = "ingress";
/// Thread name lapin gives the I/O loop of each broker connection.
pub const LAPIN_THREAD: &str = "lapin-io-loop";
/// Thread name of the load generator's runtime.
pub const LOAD_THREAD: &str = "bench-load";
/// Clock ticks per second of `/proc/*/stat` (Linux's USER_HZ, 100 on every common platform).
const TICKS_PER_SEC: f64 = 100.0;
/// CPU of RabbitMQ (`beam.smp`), all its processes.
pub const BROKER: &str = "RabbitMQ";
/// CPU of PostgreSQL, all its processes.
pub const POSTGRES: &str = "PostgreSQL";
/// Process name of the peer's Node processes (bench/peer/app.js sets it as `process.title`).
const PEER_PROCESS: &str = "ace-peer";
/// CPU of the peer (atlassian-connect-express on Node), all its processes.
pub const PEER: &str = "ACE (node)";

/// Cumulative CPU seconds per consumer at one instant, and of the whole machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuTimes {
    consumers: BTreeMap<String, f64>,
    machine: f64,
}

impl CpuTimes {
    /// Reads the counters now; empty where `/proc` is not available.
    pub fn now() -> Self {
        let mut times = BTreeMap::new();
        for stat in read_stats("/proc/self/task") {
            if let Some((comm, ticks)) = parse_stat(&stat) {
                *times.entry(comm.to_owned()).or_insert(0.0) += seconds(ticks);
            }
        }
        for stat in read_stats("/proc") {
            let consumer = match parse_stat(&stat) {
                Some(("beam.smp", ticks)) => Some((BROKER, ticks)),
                Some(("postgres", ticks)) => Some((POSTGRES, ticks)),
                Some((PEER_PROCESS, ticks)) => Some((PEER, ticks)),
                _ => None,
            };
            if let Some((name, ticks)) = consumer {
                *times.entry(name.to_owned()).or_insert(0.0) += seconds(ticks);
            }
        }
        let machine = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| machine_busy_ticks(&stat))
            .map_or(0.0, seconds);
        Self {
            consumers: times,
            machine,
        }
    }

    /// Adds the CPU time of process `pid` (all its threads) under `name`: a child process of
    /// the benchmark, told apart from any other process of the same name. Nothing if it is gone.
    pub fn with_process(mut self, name: &str, pid: u32) -> Self {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if let Some((_, ticks)) = parse_stat(&stat) {
            *self.consumers.entry(name.to_owned()).or_insert(0.0) += seconds(ticks);
        }
        self
    }

    /// What was used between `earlier` and `self`, spread over `wall`.
    pub fn since(&self, earlier: &Self, wall: Duration) -> CpuUse {
        let used = self
            .consumers
            .iter()
            .map(|(name, now)| {
                let before = earlier.consumers.get(name).copied().unwrap_or(0.0);
                (name.clone(), (now - before).max(0.0))
            })
            .collect();
        CpuUse {
            used,
            machine: (self.machine - earlier.machine).max(0.0),
            wall,
        }
    }
}

/// CPU used over an interval, by consumer.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    used: BTreeMap<String, f64>,
    machine: f64,
    wall: Duration,
}

impl CpuUse {
    /// Average cores `name` kept busy (0 when unknown).
    pub fn cores(&self, name: &str) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 {
            self.used.get(name).copied().unwrap_or(0.0) / wall
        } else {
            0.0
        }
    }

    /// Average cores kept busy by everything measured.
    pub fn total_cores(&self) -> f64 {
        self.used.keys().map(|name| self.cores(name)).sum()
    }

    /// Average cores kept busy by processes not measured here (other work on the machine,
    /// which makes a figure noisy), never negative.
    pub fn others_cores(&self) -> f64 {
        (self.machine_cores() - self.total_cores()).max(0.0)
    }

    /// Average cores the whole machine kept busy, whoever used them.
    pub fn machine_cores(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 {
            self.machine / wall
        } else {
            0.0
        }
    }
}

impl fmt::Display for CpuUse {
    /// `ingress 0.92, RabbitMQ 0.55 = 1.47 cores; other processes 0.10; machine has 2`
    /// (consumers under 0.01 core left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut busy: Vec<(&str, f64)> = self
            .used
            .keys()
            .map(|name| (name.as_str(), self.cores(name)))
            .filter(|(_, cores)| *cores >= 0.01)
            .collect();
        busy.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (index, (name, cores)) in busy.iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            write!(f, "{separator}{name} {cores:.2}")?;
        }
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        write!(
            f,
            " = {:.2} cores; other processes {:.2}; machine has {cores}",
            self.total_cores(),
            self.others_cores()
        )
    }
}

fn seconds(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_SEC
}

/// Busy ticks of all CPUs from `/proc/stat`: everything but idle and I/O wait.
fn machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map_while(|field| field.parse().ok())
        .collect();
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    // Guest time is already counted in user time.
    let counted = ticks.iter().take(8).sum::<u64>();
    Some(counted - idle - iowait)
}

/// The `stat` file of every numeric entry under `dir` (tasks or processes).
fn read_stats(dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .collect()
}

/// The command name and user + system ticks of a `/proc/.../stat` line. The name sits in
/// parentheses and may itself contain spaces or parentheses, so it ends at the last `)`.
fn parse_stat(line: &str) -> Option<(&str, u64)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?;
    // After the name: state (field 3) ... utime (field 14), stime (field 15).
    let mut fields = line.get(close + 1..)?.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((comm, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (tokio (x) 1) S 1 4242 4242 0 -1 4194560 300 0 0 0 \
                        150 25 0 0 20 0 4 0 100 1000000 500 18446744073709551615";

    #[test]
    fn a_stat_line_gives_its_name_and_user_plus_system_ticks() {
        assert_eq!(parse_stat(STAT), Some(("tokio (x) 1", 175)));
    }

    #[test]
    fn a_truncated_stat_line_is_ignored() {
        assert_eq!(parse_stat("4242 (name) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_machine_is_busy_outside_idle_and_io_wait() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 7 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
        assert_eq!(machine_busy_ticks(stat), Some(161));
        assert_eq!(machine_busy_ticks("intr 1 2 3"), None);
    }

    #[test]
    fn use_is_the_difference_spread_over_the_wall_time() {
        let before = CpuTimes {
            consumers: BTreeMap::from([("ingress".to_owned(), 1.0)]),
            machine: 10.0,
        };
        let after = CpuTimes {
            consumers: BTreeMap::from([("ingress".to_owned(), 3.0), ("RabbitMQ".to_owned(), 1.0)]),
            machine: 14.0,
        };
        let used = after.since(&before, Duration::from_secs(2));
        assert_eq!(used.cores("ingress"), 1.0);
        assert_eq!(used.cores("RabbitMQ"), 0.5);
        assert_eq!(used.total_cores(), 1.5);
        assert_eq!(used.machine_cores(), 2.0);
        assert_eq!(used.others_cores(), 0.5);
        assert!(used
            .to_string()
            .starts_with("ingress 1.00, RabbitMQ 0.50 = 1.50 cores; other processes 0.50; "));
    }

    #[test]
    fn this_process_is_visible_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(!CpuTimes::now().consumers.is_empty());
        }
    }
}

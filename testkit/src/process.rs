//! One daemon as a child process: its binary, arguments and log file, so that it can be
//! killed like a power cut and started again exactly as before.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a daemon's start ended (see [`Daemon::wait_listening`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Started {
    /// It listens on its address.
    Listening,
    /// Its address was taken: another process bound the port between the harness's pick and
    /// the daemon's bind (a parallel test, an outgoing connection's local port).
    PortTaken,
}

/// Starts daemons with `spawn`, given `ports` fresh loopback addresses, and waits until each
/// logs `marker`. A port is picked free before a daemon binds it, so another process may take
/// it in between: then all of them are stopped and `spawn` is called again with new addresses
/// (a few times). `what` names them in messages.
pub(crate) async fn spawn_listening(
    what: &str,
    ports: usize,
    marker: &str,
    mut spawn: impl FnMut(&[String]) -> Result<Vec<Daemon>>,
) -> Result<(Vec<Daemon>, Vec<String>)> {
    const ATTEMPTS: usize = 5;
    for attempt in 1..=ATTEMPTS {
        let addrs = (0..ports)
            .map(|_| Ok(format!("127.0.0.1:{}", crate::free_port()?)))
            .collect::<Result<Vec<String>>>()?;
        let mut daemons = spawn(&addrs)?;
        let mut taken = false;
        for daemon in &mut daemons {
            let started = daemon
                .wait_listening(marker, Duration::from_secs(30))
                .await?;
            if started == Started::PortTaken {
                taken = true;
                break;
            }
        }
        if !taken {
            return Ok((daemons, addrs));
        }
        // Dropping them stops them.
        eprintln!("{what}: a port was taken (attempt {attempt}): starting on new ports");
    }
    bail!("{what}: ports were taken {ATTEMPTS} times in a row")
}

/// One daemon process of the cluster.
pub(crate) struct Daemon {
    child: Option<Child>,
    args: Vec<String>,
    binary: PathBuf,
    /// Its `RUST_LOG`.
    log_filter: String,
    /// Where its standard output and error go (appended across restarts).
    pub(crate) log: PathBuf,
    /// The log's length when the process was last started: what it wrote since is after it.
    log_start: u64,
}

impl Daemon {
    /// Starts `binary ARGS...` with its output appended to `log`, filtered by `log_filter`
    /// (a `RUST_LOG` value).
    pub(crate) fn spawn(
        binary: &Path,
        args: Vec<String>,
        log: PathBuf,
        log_filter: &str,
    ) -> Result<Daemon> {
        let mut daemon = Daemon {
            child: None,
            args,
            binary: binary.to_owned(),
            log_filter: log_filter.to_owned(),
            log,
            log_start: 0,
        };
        daemon.respawn()?;
        Ok(daemon)
    }

    /// Starts the process again with the same arguments (after [`kill`](Self::kill)).
    pub(crate) fn respawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        self.log_start = log.metadata()?.len();
        let child = Command::new(&self.binary)
            .args(&self.args)
            .env("RUST_LOG", &self.log_filter)
            // Plain text in the log files, without terminal colour codes.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, like a power cut for the process: nothing is flushed.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (`STOP`, `CONT`, `TERM`...) to the running process with kill(1): a
    /// SIGSTOP freezes it as a hung machine would, keeping its sockets open.
    pub(crate) fn signal(&self, name: &str) -> Result<()> {
        let Some(pid) = self.pid() else {
            anyhow::bail!("{} is not running", self.binary.display());
        };
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            anyhow::bail!("kill -{name} {pid} failed");
        }
        Ok(())
    }

    /// The process id of the running process; `None` once killed. A process that exited by
    /// itself keeps its id until it is reaped, so the id names no other process meanwhile.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process was started and not killed since (it may have exited by itself).
    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// How the process ended, if it exited by itself (a crash at start, a bad flag).
    pub(crate) fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// Waits until the process logs `marker` (the line it writes once it listens), or exits:
    /// [`Started::PortTaken`] when it could not bind its address, an error with its log for
    /// any other exit or after `timeout`.
    pub(crate) async fn wait_listening(
        &mut self,
        marker: &str,
        timeout: Duration,
    ) -> Result<Started> {
        let deadline = Instant::now() + timeout;
        loop {
            let written = self.log_since_start();
            if written.contains(marker) {
                return Ok(Started::Listening);
            }
            if let Some(status) = self.exit_status() {
                // Read again: the last lines may have landed after the first read.
                if self.log_since_start().contains("Address already in use") {
                    return Ok(Started::PortTaken);
                }
                bail!(
                    "{} exited ({status}) before it listened\n{}",
                    self.binary.display(),
                    self.log_tail(30)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not log {marker:?} within {timeout:?}\n{}",
                    self.binary.display(),
                    self.log_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the process wrote to its log since it was last started.
    fn log_since_start(&self) -> String {
        let content = std::fs::read(&self.log).unwrap_or_default();
        let start = usize::try_from(self.log_start)
            .unwrap_or(usize::MAX)
            .min(content.len());
        String::from_utf8_lossy(&content[start..]).into_owned()
    }

    /// The last `lines` lines of its log, under a header naming the file.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let content = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = content.lines().collect();
        let tail = &all[all.len().saturating_sub(lines)..];
        format!("--- {} ---\n{}\n", self.log.display(), tail.join("\n"))
    }
}

impl Drop for Daemon {
    /// A daemon never outlives its handle, even when a cluster is dropped half-started.
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daemon whose port another process holds exits; it is started again on a new port.
    #[tokio::test]
    async fn a_daemon_whose_port_was_taken_starts_again_on_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        dfs_common::auth::ClusterSecret::load_or_create(&secret).unwrap();
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let held = held.local_addr().unwrap().to_string();
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        let binary = crate::bin_dir(false).unwrap().join("chunkd");
        let log = dir.path().join("chunkd.log");
        let (mut daemons, addrs) = spawn_listening("chunkd", 1, "chunkd listening", |addrs| {
            // The first start is given the held port, as a race would.
            let first = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            let listen = if first {
                held.clone()
            } else {
                addrs[0].clone()
            };
            let args = ["--listen", &listen, "--metad", "127.0.0.1:1", "--data"]
                .map(str::to_owned)
                .into_iter()
                .chain([
                    dir.path().join("data").display().to_string(),
                    "--secret-file".into(),
                    secret.display().to_string(),
                ])
                .collect();
            Ok(vec![Daemon::spawn(&binary, args, log.clone(), "info")?])
        })
        .await
        .unwrap();
        let daemon = &mut daemons[0];
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_ne!(addrs[0], held);
        let written = std::fs::read_to_string(&log).unwrap();
        assert!(written.contains("Address already in use"), "{written}");
        assert!(daemon.exit_status().is_none(), "{written}");
    }
}

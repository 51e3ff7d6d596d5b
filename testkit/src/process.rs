//! One daemon as a child process: its binary, arguments and log file, so that it can be
//! killed like a power cut and started again exactly as before.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One daemon process of the cluster.
pub(crate) struct Daemon {
    child: Option<Child>,
    args: Vec<String>,
    binary: PathBuf,
    /// Its `RUST_LOG`.
    log_filter: String,
    /// Where its standard output and error go (appended across restarts).
    pub(crate) log: PathBuf,
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

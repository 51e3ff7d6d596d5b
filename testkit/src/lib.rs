//! The one cluster harness of the integration tests.
//!
//! [`Cluster::start`] runs the real `metad` and `chunkd` binaries as child processes on loopback
//! ports, with real RocksDB and real files in a fresh temporary folder, and hands out a
//! [`DfsClient`] and ready-made `dfs` commands pointed at it. Processes are ended by PID when the
//! `Cluster` is dropped. Binaries are looked up beside the test executable (`target/<profile>/`)
//! or in `DFS_BIN_DIR`; build them first with `cargo build --workspace --bins`.

use anyhow::{bail, Context, Result};
use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
use dfs_common::wire::NodeState;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a test cluster is set up.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of chunkds.
    pub chunkds: usize,
    /// Replication factor.
    pub replication: u32,
    /// Chunk size in bytes.
    pub chunk_size: u64,
    /// Heartbeat interval of the chunkds.
    pub heartbeat_interval_ms: u64,
    /// Time without heartbeat after which metad declares a chunkd dead.
    pub dead_timeout_ms: u64,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            chunkds: 3,
            replication: 2,
            chunk_size: 8 << 20,
            heartbeat_interval_ms: 200,
            dead_timeout_ms: 2_000,
        }
    }
}

/// One daemon process of the cluster.
struct Daemon {
    child: Option<Child>,
    args: Vec<String>,
    binary: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn spawn(binary: &Path, args: Vec<String>, log: PathBuf) -> Result<Daemon> {
        let mut daemon = Daemon {
            child: None,
            args,
            binary: binary.to_owned(),
            log,
        };
        daemon.respawn()?;
        Ok(daemon)
    }

    fn respawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.binary)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, like a power cut for the process: nothing is flushed.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

/// A running test cluster: one metad and several chunkds as processes.
pub struct Cluster {
    dir: tempfile::TempDir,
    options: ClusterOptions,
    metad: Daemon,
    metad_addr: String,
    chunkds: Vec<Daemon>,
    chunkd_addrs: Vec<String>,
    secret_file: PathBuf,
    bin_dir: PathBuf,
}

impl Cluster {
    /// Starts metad and the chunkds and waits until every chunkd is registered and alive.
    pub async fn start(options: ClusterOptions) -> Result<Cluster> {
        let bin_dir = bin_dir()?;
        let dir = tempfile::Builder::new().prefix("dfs-test-").tempdir()?;
        let secret_file = dir.path().join("cluster.secret");
        ClusterSecret::load_or_create(&secret_file).map_err(anyhow::Error::msg)?;
        let metad_addr = format!("127.0.0.1:{}", free_port()?);
        let metad = Daemon::spawn(
            &bin_dir.join("metad"),
            vec![
                "--listen".into(),
                metad_addr.clone(),
                "--data".into(),
                path_arg(&dir.path().join("metad")),
                "--secret-file".into(),
                path_arg(&secret_file),
                "--replication".into(),
                options.replication.to_string(),
                "--chunk-size".into(),
                options.chunk_size.to_string(),
                "--heartbeat-interval-ms".into(),
                options.heartbeat_interval_ms.to_string(),
                "--dead-timeout-ms".into(),
                options.dead_timeout_ms.to_string(),
            ],
            dir.path().join("metad.log"),
        )?;
        let mut cluster = Cluster {
            dir,
            options,
            metad,
            metad_addr,
            chunkds: Vec::new(),
            chunkd_addrs: Vec::new(),
            secret_file,
            bin_dir,
        };
        for index in 0..cluster.options.chunkds {
            let addr = format!("127.0.0.1:{}", free_port()?);
            let data = cluster.dir.path().join(format!("chunkd-{}", index + 1));
            let daemon = Daemon::spawn(
                &cluster.bin_dir.join("chunkd"),
                vec![
                    "--listen".into(),
                    addr.clone(),
                    "--data".into(),
                    path_arg(&data),
                    "--metad".into(),
                    cluster.metad_addr.clone(),
                    "--secret-file".into(),
                    path_arg(&cluster.secret_file),
                    "--capacity".into(),
                    "64G".into(),
                ],
                cluster.dir.path().join(format!("chunkd-{}.log", index + 1)),
            )?;
            cluster.chunkds.push(daemon);
            cluster.chunkd_addrs.push(addr);
        }
        let expected = cluster.options.chunkds;
        cluster
            .wait_for(
                "every chunkd to register",
                Duration::from_secs(30),
                || async {
                    cluster
                        .live_nodes()
                        .await
                        .map(|n| n == expected)
                        .unwrap_or(false)
                },
            )
            .await?;
        Ok(cluster)
    }

    /// A client library handle on the cluster.
    pub fn client(&self) -> DfsClient {
        let secret =
            ClusterSecret::from_file(&self.secret_file).expect("the harness wrote the secret");
        DfsClient::new(self.metad_addr.clone(), secret)
    }

    /// metad's `host:port`.
    pub fn metad_addr(&self) -> &str {
        &self.metad_addr
    }

    /// `host:port` of chunkd `index` (0-based).
    pub fn chunkd_addr(&self, index: usize) -> &str {
        &self.chunkd_addrs[index]
    }

    /// The cluster secret file.
    pub fn secret_file(&self) -> &Path {
        &self.secret_file
    }

    /// The cluster's temporary folder (logs and data live here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// A `dfs` command (the CLI binary) with `DFS_METAD` and `DFS_SECRET_FILE` set for this cluster.
    pub fn dfs(&self) -> Command {
        let mut command = Command::new(self.bin_dir.join("dfs"));
        command
            .env("DFS_METAD", &self.metad_addr)
            .env("DFS_SECRET_FILE", &self.secret_file)
            .env_remove("DFS_SECRET")
            .current_dir(self.dir.path());
        command
    }

    /// Kills chunkd `index` with SIGKILL.
    pub fn kill_chunkd(&mut self, index: usize) {
        self.chunkds[index].kill();
    }

    /// Starts chunkd `index` again on the same address and data folder.
    pub fn restart_chunkd(&mut self, index: usize) -> Result<()> {
        self.chunkds[index].respawn()
    }

    /// Kills metad with SIGKILL.
    pub fn kill_metad(&mut self) {
        self.metad.kill();
    }

    /// Starts metad again on the same address and data folder, and waits until it answers and
    /// the running chunkds are registered again.
    pub async fn restart_metad(&mut self) -> Result<()> {
        self.metad.respawn()?;
        let expected = self.chunkds.iter().filter(|d| d.is_running()).count();
        self.wait_for(
            "metad to come back with its chunkds",
            Duration::from_secs(30),
            || async {
                self.live_nodes()
                    .await
                    .map(|n| n >= expected)
                    .unwrap_or(false)
            },
        )
        .await
    }

    /// Number of chunkds metad reports alive.
    pub async fn live_nodes(&self) -> Result<usize> {
        let status = self.client().status().await?;
        Ok(status
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Active)
            .count())
    }

    /// Polls `condition` every 100 ms until it holds; fails after `timeout` with the logs' tail.
    pub async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, condition: F) -> Result<()>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if condition().await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.log_tails()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of every daemon's log, for failure messages.
    pub fn log_tails(&self) -> String {
        let mut text = String::new();
        let logs = std::iter::once(&self.metad)
            .chain(&self.chunkds)
            .map(|d| &d.log);
        for log in logs {
            let content = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            text.push_str(&format!("--- {} ---\n{}\n", log.display(), tail.join("\n")));
        }
        text
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for daemon in &mut self.chunkds {
            daemon.kill();
        }
        self.metad.kill();
    }
}

/// Where the daemon binaries are: `DFS_BIN_DIR`, or the profile folder above the test binary.
fn bin_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("DFS_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe()?;
            // target/<profile>/deps/<test binary>
            exe.parent()
                .and_then(Path::parent)
                .map(Path::to_owned)
                .context("cannot locate the target folder from the test binary")?
        }
    };
    for name in ["metad", "chunkd", "dfs"] {
        if !dir.join(name).exists() {
            bail!(
                "{} is missing: build the binaries first with `cargo build --workspace --bins` (or set DFS_BIN_DIR)",
                dir.join(name).display()
            );
        }
    }
    Ok(dir)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Deterministic pseudo-random bytes (xorshift), so a test can regenerate what it wrote.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What a finished `dfs` command printed.
#[derive(Debug)]
pub struct Output {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Cluster {
    /// Runs `dfs ARGS...` against the cluster and returns what it printed.
    pub fn run_dfs(&self, args: &[&str]) -> Output {
        self.run_dfs_with_input(args, None)
    }

    /// Runs `dfs ARGS...` with `input` on its standard input.
    pub fn run_dfs_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        use std::io::Write;
        let mut command = self.dfs();
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = command.spawn().expect("the dfs binary starts");
        if let Some(text) = input {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            stdin
                .write_all(text.as_bytes())
                .expect("write to dfs stdin");
        }
        let out = child.wait_with_output().expect("dfs runs to the end");
        Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `dfs ARGS...`, panics with its output unless it succeeds, and returns its stdout.
    pub fn dfs_ok(&self, args: &[&str]) -> String {
        let out = self.run_dfs(args);
        assert!(
            out.success,
            "dfs {args:?} failed:\n{}{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs `dfs ARGS...`, panics unless it fails, and returns its stderr.
    pub fn dfs_err(&self, args: &[&str]) -> String {
        let out = self.run_dfs(args);
        assert!(
            !out.success,
            "dfs {args:?} should have failed:\n{}{}",
            out.stdout, out.stderr
        );
        out.stderr
    }
}

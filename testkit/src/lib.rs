//! The one cluster harness of the integration tests.
//!
//! [`Cluster::start`] runs the real `metad` and `chunkd` binaries (and, when asked, the S3
//! `gateway`) as child processes on loopback ports, with real RocksDB and real files in a fresh
//! temporary folder, and hands out a [`DfsClient`], ready-made `dfs` commands and the S3
//! endpoint with an access key. Processes are ended by PID when the `Cluster` is dropped.
//! Binaries are looked up beside the running executable (`target/<profile>/`) or in
//! `DFS_BIN_DIR`; build them first with `cargo build --workspace --bins`. The `dfs-cluster`
//! binary of this package runs such a cluster for tools outside Rust (the S3 conformance suite).

mod dfs;
mod gateway;
pub mod linearizability;
mod metads;
mod process;
mod s3;

pub use dfs::Output;
pub use gateway::{http_get, http_status, REGION, TEST_KEY_NAME};
pub use metads::peer_list;
pub use s3::{s3_request, S3Answer};

use anyhow::{bail, Context, Result};
use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
pub use dfs_common::daemon::LogFormat;
use dfs_common::wire::NodeState;
use gateway::Gateway;
use process::{spawn_listening, Daemon};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a test cluster is set up.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of chunkds.
    pub chunkds: usize,
    /// Number of metad members (1: a group of one; 3 or 5: a replicated group whose members
    /// list each other with `--peers`).
    pub metads: usize,
    /// Extra TOML for every metad's configuration file (for example a `[raft]` table with a
    /// short `snapshot_every`); empty: no file.
    pub metad_toml: String,
    /// Replication factor.
    pub replication: u32,
    /// Chunk size in bytes.
    pub chunk_size: u64,
    /// Heartbeat interval of the chunkds.
    pub heartbeat_interval_ms: u64,
    /// Time without heartbeat after which metad declares a chunkd dead.
    pub dead_timeout_ms: u64,
    /// Also run the S3 gateway (the `gateway` binary must then be built) and create an access
    /// key for it. Off by default, so that tests of the rest need no gateway.
    pub gateway: bool,
    /// The daemons' `RUST_LOG` [default: `info`]; `debug` logs every RPC and chunk request
    /// with its request id.
    pub log_filter: String,
    /// The daemons' `--log-format` [default: text].
    pub log_format: LogFormat,
    /// Extra flags for every chunkd (for example a short `--inventory-interval-secs`; a
    /// `--capacity` replaces the harness's 64G).
    pub chunkd_args: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            chunkds: 3,
            metads: 1,
            metad_toml: String::new(),
            replication: 2,
            chunk_size: 8 << 20,
            heartbeat_interval_ms: 200,
            dead_timeout_ms: 2_000,
            gateway: false,
            log_filter: "info".into(),
            log_format: LogFormat::Text,
            chunkd_args: Vec::new(),
        }
    }
}

impl ClusterOptions {
    /// The value of the daemons' `--log-format`.
    fn log_format_arg(&self) -> &'static str {
        match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// One daemon of a cluster, to read its log with [`Cluster::log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// metad (the first member of a group).
    Metad,
    /// metad member `index` (0-based: member id `index + 1`).
    MetadMember(usize),
    /// chunkd `index` (0-based, as in [`Cluster::chunkd_addr`]).
    Chunkd(usize),
    /// The gateway.
    Gateway,
}

/// A running test cluster: metad (one, or a group), several chunkds and maybe a gateway, as
/// processes.
pub struct Cluster {
    dir: tempfile::TempDir,
    options: ClusterOptions,
    /// The metad members, member id = index + 1.
    metads: Vec<Daemon>,
    metad_addrs: Vec<String>,
    /// Every member's address, comma-separated: what `--metad` takes.
    metad_addr: String,
    chunkds: Vec<Daemon>,
    chunkd_addrs: Vec<String>,
    gateway: Option<Gateway>,
    /// The gateway's access key (id, secret), made once the gateway is ready.
    access_key: Option<(String, String)>,
    secret_file: PathBuf,
    bin_dir: PathBuf,
}

impl Cluster {
    /// Starts metad and the chunkds and waits until every chunkd is registered and alive;
    /// then, with [`ClusterOptions::gateway`], starts the gateway, waits until it is ready and
    /// creates the access key [`TEST_KEY_NAME`]. Errors after the processes started carry the
    /// tail of their logs.
    pub async fn start(options: ClusterOptions) -> Result<Cluster> {
        let bin_dir = bin_dir(options.gateway)?;
        let dir = tempfile::Builder::new().prefix("dfs-test-").tempdir()?;
        let secret_file = dir.path().join("cluster.secret");
        ClusterSecret::load_or_create(&secret_file).map_err(anyhow::Error::msg)?;
        let (metads, metad_addrs) =
            metads::spawn(&options, dir.path(), &bin_dir, &secret_file).await?;
        let metad_addr = metad_addrs.join(",");
        let mut cluster = Cluster {
            dir,
            options,
            metads,
            metad_addrs,
            metad_addr,
            chunkds: Vec::new(),
            chunkd_addrs: Vec::new(),
            gateway: None,
            access_key: None,
            secret_file,
            bin_dir,
        };
        for index in 0..cluster.options.chunkds {
            let data = cluster.dir.path().join(format!("chunkd-{}", index + 1));
            let binary = cluster.bin_dir.join("chunkd");
            let log = cluster.dir.path().join(format!("chunkd-{}.log", index + 1));
            let (mut daemons, mut addrs) =
                spawn_listening("chunkd", 1, "chunkd listening", |addrs| {
                    let mut args = vec![
                        "--listen".into(),
                        addrs[0].clone(),
                        "--data".into(),
                        path_arg(&data),
                        "--metad".into(),
                        cluster.metad_addr.clone(),
                        "--secret-file".into(),
                        path_arg(&cluster.secret_file),
                        "--log-format".into(),
                        cluster.options.log_format_arg().into(),
                    ];
                    if !cluster
                        .options
                        .chunkd_args
                        .iter()
                        .any(|a| a == "--capacity")
                    {
                        args.extend(["--capacity".into(), "64G".into()]);
                    }
                    args.extend(cluster.options.chunkd_args.iter().cloned());
                    let filter = &cluster.options.log_filter;
                    Ok(vec![Daemon::spawn(&binary, args, log.clone(), filter)?])
                })
                .await?;
            cluster.chunkds.push(daemons.remove(0));
            cluster.chunkd_addrs.push(addrs.remove(0));
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
        if cluster.options.gateway {
            cluster.start_gateway().await?;
        }
        Ok(cluster)
    }

    /// A client library handle on the cluster.
    pub fn client(&self) -> DfsClient {
        let secret =
            ClusterSecret::from_file(&self.secret_file).expect("the harness wrote the secret");
        DfsClient::new(self.metad_addr.clone(), secret)
    }

    /// The path of one of the dfs binaries this cluster runs (`metad`, `chunkd`, `dfs`...), for
    /// tests that start one of their own.
    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// metad's process id (the first member's), unless it was killed (for tools that read
    /// `/proc/PID/status`).
    pub fn metad_pid(&self) -> Option<u32> {
        self.metads[0].pid()
    }

    /// metad's `host:port`; with a group, every member's, comma-separated (what `--metad`
    /// and `DFS_METAD` take).
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

    /// Kills chunkd `index` with SIGKILL.
    pub fn kill_chunkd(&mut self, index: usize) {
        self.chunkds[index].kill();
    }

    /// Starts chunkd `index` again on the same address and data folder.
    pub fn restart_chunkd(&mut self, index: usize) -> Result<()> {
        self.chunkds[index].respawn()
    }

    /// Kills metad (every member of a group) with SIGKILL.
    pub fn kill_metad(&mut self) {
        for metad in &mut self.metads {
            metad.kill();
        }
    }

    /// Starts metad (every member) again on the same addresses and data folders, and waits
    /// until it answers and the running chunkds are registered again.
    pub async fn restart_metad(&mut self) -> Result<()> {
        for metad in &mut self.metads {
            metad.respawn()?;
        }
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

    /// Everything daemon `which` has logged so far (across restarts); empty if it has no log.
    pub fn log(&self, which: Role) -> String {
        let daemon = match which {
            Role::Metad => self.metads.first(),
            Role::MetadMember(index) => self.metads.get(index),
            Role::Chunkd(index) => self.chunkds.get(index),
            Role::Gateway => self.gateway.as_ref().map(|g| &g.daemon),
        };
        daemon
            .and_then(|d| std::fs::read_to_string(&d.log).ok())
            .unwrap_or_default()
    }

    /// The last lines of every daemon's log, for failure messages.
    pub fn log_tails(&self) -> String {
        self.metads
            .iter()
            .chain(&self.chunkds)
            .chain(self.gateway.as_ref().map(|g| &g.daemon))
            .map(|daemon| daemon.log_tail(15))
            .collect()
    }
}

impl Drop for Cluster {
    /// Front door first: the gateway, then the chunkds, then metad.
    fn drop(&mut self) {
        if let Some(gateway) = &mut self.gateway {
            gateway.daemon.kill();
        }
        for daemon in &mut self.chunkds {
            daemon.kill();
        }
        for metad in &mut self.metads {
            metad.kill();
        }
    }
}

/// Where the daemon binaries are: `DFS_BIN_DIR`, else the folder of the running executable
/// when it holds them (`dfs-cluster` in `target/<profile>/`), else the one above it (a test
/// binary in `target/<profile>/deps/`). `gateway` is required only when `with_gateway`.
fn bin_dir(with_gateway: bool) -> Result<PathBuf> {
    let dir = match std::env::var_os("DFS_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe()?;
            let here = exe
                .parent()
                .context("cannot locate the target folder from the running executable")?;
            match here.parent() {
                Some(above) if !here.join("metad").exists() => above.to_owned(),
                _ => here.to_owned(),
            }
        }
    };
    let mut needed = vec!["metad", "chunkd", "dfs"];
    if with_gateway {
        needed.push("gateway");
    }
    for name in needed {
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

/// A path as a command-line argument.
pub(crate) fn path_arg(path: &Path) -> String {
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

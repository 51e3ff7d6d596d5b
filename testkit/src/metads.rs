//! The metad members of a test cluster: one metad, or a group whose members list each other
//! with `--id` and `--peers` and form by themselves; and what tests do to members (kill,
//! restart, freeze with SIGSTOP, find the leader).

use crate::process::{spawn_listening, Daemon};
use crate::{free_port, path_arg, Cluster, ClusterOptions};
use anyhow::{bail, Result};
use dfs_common::wire::MetadRole;
use std::path::Path;
use std::time::Duration;

/// Starts the metad members and waits until each listens; returns them with their addresses
/// (member id = index + 1). When one finds its port taken, the whole group starts again on new
/// ports, from empty folders (every member lists every address, and may have recorded them).
pub(crate) async fn spawn(
    options: &ClusterOptions,
    dir: &Path,
    bin_dir: &Path,
    secret_file: &Path,
) -> Result<(Vec<Daemon>, Vec<String>)> {
    let count = options.metads.max(1);
    spawn_listening("metad", count, "metad listening", |addrs| {
        let peers = peer_list(addrs);
        let mut daemons = Vec::new();
        for (index, addr) in addrs.iter().enumerate() {
            let data = dir.join(member_name(index));
            if data.exists() {
                std::fs::remove_dir_all(&data)?;
            }
            let peers = (count > 1).then_some(peers.as_str());
            daemons.push(spawn_member(
                options,
                dir,
                bin_dir,
                secret_file,
                index,
                addr,
                peers,
            )?);
        }
        Ok(daemons)
    })
    .await
}

/// `--peers` for members at `addrs` (member id = index + 1).
pub fn peer_list(addrs: &[String]) -> String {
    addrs
        .iter()
        .enumerate()
        .map(|(index, addr)| format!("{}={addr}", index + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// The folder and log name of member `index` (the first keeps a single metad's names).
fn member_name(index: usize) -> String {
    match index {
        0 => "metad".to_owned(),
        _ => format!("metad-{}", index + 1),
    }
}

/// Starts member `index` (id `index + 1`) at `addr`; `peers` for a group of several.
fn spawn_member(
    options: &ClusterOptions,
    dir: &Path,
    bin_dir: &Path,
    secret_file: &Path,
    index: usize,
    addr: &str,
    peers: Option<&str>,
) -> Result<Daemon> {
    let name = member_name(index);
    let mut args = vec![
        "--listen".into(),
        addr.to_owned(),
        "--data".into(),
        path_arg(&dir.join(&name)),
        "--secret-file".into(),
        path_arg(secret_file),
        "--replication".into(),
        options.replication.to_string(),
        "--chunk-size".into(),
        options.chunk_size.to_string(),
        "--heartbeat-interval-ms".into(),
        options.heartbeat_interval_ms.to_string(),
        "--dead-timeout-ms".into(),
        options.dead_timeout_ms.to_string(),
        "--log-format".into(),
        options.log_format_arg().into(),
    ];
    if !options.metad_toml.is_empty() {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, &options.metad_toml)?;
        args.extend(["--config".into(), path_arg(&file)]);
    }
    if let Some(peers) = peers {
        args.extend([
            "--id".into(),
            (index + 1).to_string(),
            "--peers".into(),
            peers.to_owned(),
        ]);
    }
    Daemon::spawn(
        &bin_dir.join("metad"),
        args,
        dir.join(format!("{name}.log")),
        &options.log_filter,
    )
}

impl Cluster {
    /// Starts one more metad member, empty, with the next id and every member in its
    /// `--peers`: what an operator does before `dfs metad add`. Returns its id and address;
    /// clients of the cluster know it from now on.
    pub fn spawn_metad_member(&mut self) -> Result<(u64, String)> {
        let index = self.metads.len();
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut all = self.metad_addrs.clone();
        all.push(addr.clone());
        let peers = peer_list(&all);
        let daemon = spawn_member(
            &self.options,
            self.dir.path(),
            &self.bin_dir,
            &self.secret_file,
            index,
            &addr,
            Some(&peers),
        )?;
        self.metads.push(daemon);
        self.metad_addrs = all;
        self.metad_addr = self.metad_addrs.join(",");
        Ok((index as u64 + 1, addr))
    }

    /// The `host:port` of metad member `index` (0-based).
    pub fn metad_member_addr(&self, index: usize) -> &str {
        &self.metad_addrs[index]
    }

    /// A client library handle that knows only the members `indexes` (to keep a frozen
    /// member out of a test's own calls).
    pub fn client_of(&self, indexes: &[usize]) -> dfs_client::DfsClient {
        let secret = dfs_common::auth::ClusterSecret::from_file(&self.secret_file)
            .expect("the harness wrote the secret");
        let addrs: Vec<&str> = indexes
            .iter()
            .map(|i| self.metad_addrs[*i].as_str())
            .collect();
        dfs_client::DfsClient::new(addrs.join(","), secret)
    }

    /// Number of metad members.
    pub fn metad_count(&self) -> usize {
        self.metads.len()
    }

    /// Kills metad member `index` with SIGKILL.
    pub fn kill_metad_member(&mut self, index: usize) {
        self.metads[index].kill();
    }

    /// The data folder of metad member `index`.
    pub fn metad_member_data(&self, index: usize) -> std::path::PathBuf {
        self.dir.path().join(member_name(index))
    }

    /// Starts metad member `index` again on its address and data folder (without waiting).
    pub fn restart_metad_member(&mut self, index: usize) -> Result<()> {
        self.metads[index].respawn()
    }

    /// Freezes metad member `index` (SIGSTOP): it keeps its sockets but answers nothing, as
    /// a hung machine.
    pub fn freeze_metad_member(&self, index: usize) -> Result<()> {
        self.metads[index].signal("STOP")
    }

    /// Lets a frozen member run again (SIGCONT).
    pub fn thaw_metad_member(&self, index: usize) -> Result<()> {
        self.metads[index].signal("CONT")
    }

    /// The index of the member that leads now, as the group reports it through any member.
    pub async fn metad_leader(&self) -> Result<usize> {
        let status = self.client().status().await?;
        let leader = status
            .metad
            .iter()
            .find(|m| m.role == MetadRole::Leader)
            .map(|m| m.addr.clone());
        match leader.and_then(|addr| self.metad_addrs.iter().position(|a| *a == addr)) {
            Some(index) => Ok(index),
            None => bail!("no metad member reports a leader: {:?}", status.metad),
        }
    }

    /// Waits until a member other than `not` (if given) leads; returns its index.
    pub async fn wait_for_metad_leader(
        &self,
        not: Option<usize>,
        timeout: Duration,
    ) -> Result<usize> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.metad_leader().await {
                Ok(index) if Some(index) != not => return Ok(index),
                _ if std::time::Instant::now() > deadline => bail!(
                    "no new metad leader within {timeout:?}\n{}",
                    self.log_tails()
                ),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

//! `dfs dev`: a whole local cluster in this process, metad and N chunkds, each started from
//! its library, with data under one folder:
//!
//! ```text
//! DIR/cluster.secret   the cluster secret (made on first start)
//! DIR/dev.json         the ports used last time, reused when free so DFS_METAD stays valid
//! DIR/metad/           metad's RocksDB
//! DIR/chunkd-1..N/     the chunkds' chunk files
//! ```
//!
//! It prints `export` lines for another shell on stdout, a line per daemon on stderr, and runs
//! until Ctrl-C or SIGTERM.

use crate::args::DevArgs;
use crate::CliError;
use dfs_common::auth::ClusterSecret;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file, in the data folder, that remembers the ports.
const STATE_FILE: &str = "dev.json";

/// What `dev.json` holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    /// metad's port last time.
    #[serde(default)]
    metad_port: Option<u16>,
    /// Each chunkd's port last time, chunkd-1 first.
    #[serde(default)]
    chunkd_ports: Vec<u16>,
}

/// Runs the dev cluster until Ctrl-C or SIGTERM.
pub async fn run(args: DevArgs) -> Result<(), CliError> {
    let replication = match args.replication {
        Some(replication) => replication,
        None => dfs_metad::Config::default()
            .replication
            .clamp(1, args.chunkds),
    };
    if replication > args.chunkds {
        return Err(CliError::Usage(format!(
            "--replication {replication} needs at least {replication} chunkds (--chunkds {})",
            args.chunkds
        )));
    }

    std::fs::create_dir_all(&args.data).map_err(CliError::io(format!(
        "cannot create {}",
        args.data.display()
    )))?;
    let data = std::fs::canonicalize(&args.data).map_err(CliError::io(format!(
        "cannot resolve {}",
        args.data.display()
    )))?;
    let secret_file = data.join("cluster.secret");
    ClusterSecret::load_or_create(&secret_file).map_err(CliError::Dev)?;
    let state_path = data.join(STATE_FILE);
    let remembered = load_state(&state_path);

    let metad = start_metad(&data, &secret_file, replication, remembered.metad_port).await?;
    let metad_addr = metad.addr().to_string();
    eprintln!(
        "metad     {metad_addr:<21}  data {}  replication {replication}",
        data.join("metad").display()
    );
    let mut chunkds = Vec::new();
    for index in 1..=args.chunkds as usize {
        let port = remembered.chunkd_ports.get(index - 1).copied();
        match start_chunkd(&data, &secret_file, &metad_addr, index, port).await {
            Ok(daemon) => {
                eprintln!(
                    "chunkd {index:<2} {:<21}  data {}",
                    daemon.addr().to_string(),
                    data.join(format!("chunkd-{index}")).display()
                );
                chunkds.push(daemon);
            }
            Err(err) => {
                stop_all(chunkds, metad).await;
                return Err(err);
            }
        }
    }
    let state = Remembered {
        metad_port: Some(metad.addr().port()),
        chunkd_ports: chunkds.iter().map(|d| d.addr().port()).collect(),
    };
    if let Err(e) = save_state(&state_path, &state) {
        eprintln!(
            "warning: cannot remember the ports in {}: {e}",
            state_path.display()
        );
    }

    // The S3 gateway joins here once it exists: start it after the chunkds (it needs metad),
    // print its endpoint and an access key, and stop it first in `stop_all` (it is the
    // front door: new requests must stop before the daemons behind it go).

    println!("export DFS_METAD={metad_addr}");
    println!(
        "export DFS_SECRET_FILE={}",
        shell_quote(&secret_file.to_string_lossy())
    );
    eprintln!(
        "dfs dev: running with {} chunkd(s); paste the export lines above into another shell; Ctrl-C stops it",
        chunkds.len()
    );

    wait_for_shutdown().await;
    eprintln!("dfs dev: stopping");
    stop_all(chunkds, metad).await;
    eprintln!("dfs dev: stopped");
    Ok(())
}

/// Starts metad on its remembered port when that port is free, else on a new one.
async fn start_metad(
    data: &Path,
    secret_file: &Path,
    replication: u32,
    port: Option<u16>,
) -> Result<dfs_metad::Daemon, CliError> {
    let config = |listen: String| dfs_metad::Config {
        listen,
        data_dir: data.join("metad"),
        secret_file: Some(secret_file.to_owned()),
        replication,
        ..dfs_metad::Config::default()
    };
    if let Some(port) = port.filter(|p| port_is_free(*p)) {
        match dfs_metad::start(config(loopback(port))).await {
            Ok(daemon) => return Ok(daemon),
            // Taken in the instant since the check: a new port does as well.
            Err(e) => eprintln!("warning: metad cannot reuse port {port} ({e}); picking another"),
        }
    }
    dfs_metad::start(config(loopback(0)))
        .await
        .map_err(|e| CliError::Dev(format!("cannot start metad: {e}")))
}

/// Starts chunkd number `index` (1-based) on its remembered port when free, else a new one.
async fn start_chunkd(
    data: &Path,
    secret_file: &Path,
    metad_addr: &str,
    index: usize,
    port: Option<u16>,
) -> Result<dfs_chunkd::Daemon, CliError> {
    let config = |listen: String| dfs_chunkd::Config {
        listen,
        data_dir: data.join(format!("chunkd-{index}")),
        metad: metad_addr.to_owned(),
        secret_file: Some(secret_file.to_owned()),
        ..dfs_chunkd::Config::default()
    };
    if let Some(port) = port.filter(|p| port_is_free(*p)) {
        match dfs_chunkd::start(config(loopback(port))).await {
            Ok(daemon) => return Ok(daemon),
            Err(e) => {
                eprintln!("warning: chunkd {index} cannot reuse port {port} ({e}); picking another")
            }
        }
    }
    dfs_chunkd::start(config(loopback(0)))
        .await
        .map_err(|e| CliError::Dev(format!("cannot start chunkd {index}: {e}")))
}

/// Stops the chunkds, then metad. Why this order: the chunkds depend on metad (they register
/// and heartbeat to it), while metad only sends them orders it retries anyway. Stopped first,
/// the chunkds finish any chunk write in flight with metad still there; metad stopped first
/// would make every chunkd log failed heartbeats while it shuts down. (The gateway, once it
/// joins, goes before both: it is the front door.)
async fn stop_all(chunkds: Vec<dfs_chunkd::Daemon>, metad: dfs_metad::Daemon) {
    for daemon in chunkds.into_iter().rev() {
        daemon.stop().await;
    }
    metad.stop().await;
}

/// Waits for Ctrl-C or SIGTERM.
async fn wait_for_shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = crate::commands::interrupted() => {}
        () = terminated => {}
    }
}

fn loopback(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Whether nothing listens on loopback `port` right now.
fn port_is_free(port: u16) -> bool {
    port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The remembered ports; nothing when the file is missing or unreadable (a fresh start).
fn load_state(path: &Path) -> Remembered {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            eprintln!("warning: ignoring {}: {e}", path.display());
            Remembered::default()
        }),
        Err(_) => Remembered::default(),
    }
}

/// Writes the state through a temporary file and a rename, so a crash never leaves half a file.
fn save_state(path: &Path, state: &Remembered) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Quotes `text` for a POSIX shell when it holds anything but plain path characters.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        assert_eq!(load_state(&path), Remembered::default());
        let state = Remembered {
            metad_port: Some(40_000),
            chunkd_ports: vec![40_001, 40_002],
        };
        save_state(&path, &state).unwrap();
        assert_eq!(load_state(&path), state);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(load_state(&path), Remembered::default());
    }

    #[test]
    fn busy_ports_are_not_free() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!port_is_free(port));
        drop(listener);
        assert!(!port_is_free(0));
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_quote("/home/me/dfs-data/cluster.secret"),
            "/home/me/dfs-data/cluster.secret"
        );
        assert_eq!(shell_quote("/my dir/x"), "'/my dir/x'");
        assert_eq!(shell_quote("/it's"), "'/it'\\''s'");
    }
}

//! `dfs-cluster`: runs a test cluster (metad or a group of metad members, N chunkds and the S3
//! gateway, as processes on loopback ports, data in a temporary folder) for tools outside Rust,
//! such as the Python S3 conformance suite in `s3-tests/`.
//!
//! The contract, relied on by that suite: once the cluster is ready, standard output carries
//! exactly these lines, then is flushed:
//!
//! ```text
//! export AWS_ENDPOINT_URL=http://127.0.0.1:PORT
//! export AWS_ACCESS_KEY_ID=...
//! export AWS_SECRET_ACCESS_KEY=...
//! export AWS_DEFAULT_REGION=us-east-1
//! export DFS_METAD=127.0.0.1:PORT[,127.0.0.1:PORT,...]
//! export DFS_SECRET_FILE=/tmp/.../cluster.secret
//! export DFS_GATEWAY_PID=PID
//! export DFS_GATEWAY_ADMIN=127.0.0.1:PORT
//! export DFS_CHUNKDS=127.0.0.1:PORT,127.0.0.1:PORT,...
//! ready
//! ```
//!
//! `DFS_METAD` lists every metad member (one without `--metads`), member 1 first, as `dfs`
//! and `--metad` take it. The last two are for tests that scrape `/metrics` and `/health/ready`: the gateway serves
//! them on its admin address, metad and each chunkd on their own address.
//!
//! It runs until its standard input reaches end of file (the caller closes the pipe) or it
//! receives SIGTERM or SIGINT, then kills the daemons by PID and removes the folder. If the
//! cluster cannot start, the error and the daemons' log tails go to standard error and the
//! exit status is 1.

use clap::Parser;
use dfs_testkit::{Cluster, ClusterOptions, REGION};
use std::io::Write;
use std::process::ExitCode;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Runs a dfs test cluster with the S3 gateway until stdin closes or SIGTERM/SIGINT.
#[derive(Debug, Parser)]
#[command(name = "dfs-cluster", version)]
struct Args {
    /// Number of chunkds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    chunkds: u32,
    /// Replication factor (at most the number of chunkds).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    replication: u32,
    /// Number of metad members: 1, or a group of 3 or 5 (each its own process).
    #[arg(long, default_value_t = 1, value_parser = parse_metads)]
    metads: u32,
}

/// `--metads`: a group has an odd number of members; five is plenty for tests.
fn parse_metads(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n @ (1 | 3 | 5)) => Ok(n),
        _ => Err("must be 1, 3 or 5".to_owned()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.replication > args.chunkds {
        eprintln!(
            "dfs-cluster: --replication {} needs at least as many chunkds (--chunkds {})",
            args.replication, args.chunkds
        );
        return ExitCode::FAILURE;
    }
    let options = ClusterOptions {
        chunkds: args.chunkds as usize,
        replication: args.replication,
        metads: args.metads as usize,
        gateway: true,
        ..ClusterOptions::default()
    };
    // Watch for the stop before anything starts: a SIGTERM sent right after `ready` must find
    // its handler in place, and a stop during the start must not wait for its end.
    let mut stop = StopRequest::watch();
    let cluster = tokio::select! {
        started = Cluster::start(options) => match started {
            Ok(cluster) => cluster,
            Err(e) => {
                // Errors of started daemons carry their log tails already.
                eprintln!("dfs-cluster: cannot start the cluster: {e:#}");
                return ExitCode::FAILURE;
            }
        },
        // Dropping the half-started cluster kills what did start.
        why = stop.wait() => {
            eprintln!("dfs-cluster: {why} while starting; stopped");
            return ExitCode::FAILURE;
        }
    };
    let text = match contract_lines(&cluster) {
        Some(text) => text,
        None => {
            eprintln!(
                "dfs-cluster: the cluster started without its gateway or access key\n{}",
                cluster.log_tails()
            );
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // Nobody reads us: there is no one to serve either.
        eprintln!("dfs-cluster: cannot write to standard output ({e}); stopping");
        return ExitCode::FAILURE;
    }
    drop(stdout);
    eprintln!(
        "dfs-cluster: running in {}; close standard input or send SIGTERM to stop it",
        cluster.dir().display()
    );
    let why = stop.wait().await;
    eprintln!("dfs-cluster: {why}; stopping");
    drop(cluster);
    eprintln!("dfs-cluster: stopped");
    ExitCode::SUCCESS
}

/// The export lines and `ready`; `None` when the cluster has no gateway.
fn contract_lines(cluster: &Cluster) -> Option<String> {
    let endpoint = cluster.s3_endpoint()?;
    let (key_id, secret) = cluster.access_key()?;
    let gateway_pid = cluster.gateway_pid()?;
    let lines = [
        format!("export AWS_ENDPOINT_URL={endpoint}"),
        format!("export AWS_ACCESS_KEY_ID={}", shell_quote(&key_id)),
        format!("export AWS_SECRET_ACCESS_KEY={}", shell_quote(&secret)),
        format!("export AWS_DEFAULT_REGION={REGION}"),
        format!("export DFS_METAD={}", cluster.metad_addr()),
        format!(
            "export DFS_SECRET_FILE={}",
            shell_quote(&cluster.secret_file().to_string_lossy())
        ),
        // For tests that watch the gateway process itself (its peak memory in /proc).
        format!("export DFS_GATEWAY_PID={gateway_pid}"),
        format!("export DFS_GATEWAY_ADMIN={}", cluster.gateway_admin_addr()?),
        format!(
            "export DFS_CHUNKDS={}",
            (0..cluster.options().chunkds)
                .map(|i| cluster.chunkd_addr(i))
                .collect::<Vec<_>>()
                .join(",")
        ),
        "ready".to_owned(),
    ];
    Some(lines.join("\n") + "\n")
}

/// What stops the cluster: standard input reaching its end (or failing), SIGTERM, SIGINT.
struct StopRequest {
    stdin_closed: tokio::sync::oneshot::Receiver<()>,
    term: Option<Signal>,
    int: Option<Signal>,
}

impl StopRequest {
    /// Installs the signal handlers and starts watching standard input.
    fn watch() -> StopRequest {
        let (closed_tx, stdin_closed) = tokio::sync::oneshot::channel::<()>();
        // A plain thread, not tokio's stdin: a blocking read in the runtime's pool would keep
        // the runtime from shutting down after a signal while stdin is still open.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = closed_tx.send(());
        });
        StopRequest {
            stdin_closed,
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// Waits for the first stop request and says which it was.
    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = &mut self.stdin_closed => "standard input closed",
            Some(()) = recv(&mut self.term) => "SIGTERM",
            Some(()) = recv(&mut self.int) => "SIGINT",
        }
    }
}

/// The next signal of `stream`; pending forever when it could not be installed.
async fn recv(stream: &mut Option<Signal>) -> Option<()> {
    match stream {
        Some(stream) => stream.recv().await,
        None => std::future::pending().await,
    }
}

/// Quotes `text` for a POSIX shell when it holds anything but plain path characters (the
/// temporary folder's path normally does not, so the lines stay as the contract shows them).
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

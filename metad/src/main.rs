//! The `metad` binary: configuration from a TOML file and flags, then [`dfs_metad::start`]
//! until Ctrl-C or SIGTERM.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// dfs metadata daemon: namespace, chunk placement, repair and garbage collection.
#[derive(Parser, Debug)]
#[command(
    name = "metad",
    version,
    after_help = "Environment:\n  DFS_SECRET  the cluster secret (instead of a secret file)\n  \
                  RUST_LOG    log filter, e.g. debug or dfs_metad=debug [default: info]\n\n\
                  Logs: lines about an RPC carry its method and request_id, the x-amz-request-id \
                  of the S3 request that caused it; at debug, every RPC served is logged with its \
                  status and duration_ms."
)]
struct Args {
    /// TOML configuration file (fields: listen, data_dir, secret_file, replication, chunk_size,
    /// heartbeat_interval_ms, dead_timeout_ms, session_timeout_secs, orphan_grace_secs,
    /// release_grace_secs, upload_expiry_secs, log_format, id, peers, and a [raft] table: heartbeat_ms,
    /// election_min_ms, election_max_ms).
    /// The flags below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to serve RPCs on, host:port; port 0 picks a free port [default: 127.0.0.1:7700].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Folder of the metadata database [default: metad-data].
    #[arg(long = "data", value_name = "DIR")]
    data: Option<PathBuf>,
    /// File holding the cluster secret. Overrides DFS_SECRET and the config file.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Replicas per chunk, each on a different chunkd [default: 2].
    #[arg(long, value_name = "N")]
    replication: Option<u32>,
    /// Chunk size, in bytes or like 8M, 64K [default: 8M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// Heartbeat interval told to chunkds, in milliseconds [default: 1000].
    #[arg(long, value_name = "N")]
    heartbeat_interval_ms: Option<u64>,
    /// Silence after which a chunkd is declared dead and its chunks re-replicated, in
    /// milliseconds [default: 10000].
    #[arg(long, value_name = "N")]
    dead_timeout_ms: Option<u64>,
    /// This member's id in the metad group [default: 1].
    #[arg(long, value_name = "N")]
    id: Option<u64>,
    /// Every member of the metad group, this one included, as ID=HOST:PORT,... (for example
    /// 1=10.0.0.1:7700,2=10.0.0.2:7700,3=10.0.0.3:7700). Without it metad is a group of one.
    /// Members started with the same list form the group by themselves.
    #[arg(long, value_name = "LIST")]
    peers: Option<String>,
    /// Log line format, `text` or `json`. Overrides `log_format` in the config file
    /// [default: text].
    #[arg(long, value_enum, env = "DFS_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<dfs_common::daemon::LogFormat>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    dfs_common::config::parse_size(text)
}

/// The configuration: file, then the `DFS_SECRET` environment variable, then flags.
fn config(args: Args) -> Result<dfs_metad::Config, String> {
    let mut config: dfs_metad::Config = dfs_common::config::load_toml(args.config.as_deref())?;
    if let Some(secret) = dfs_common::daemon::secret_from_env() {
        config.secret = Some(secret);
    }
    if let Some(file) = args.secret_file {
        config.secret_file = Some(file);
        config.secret = None;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data) = args.data {
        config.data_dir = data;
    }
    if let Some(n) = args.replication {
        config.replication = n;
    }
    if let Some(size) = args.chunk_size {
        config.chunk_size = size;
    }
    if let Some(ms) = args.heartbeat_interval_ms {
        config.heartbeat_interval_ms = ms;
    }
    if let Some(ms) = args.dead_timeout_ms {
        config.dead_timeout_ms = ms;
    }
    if let Some(id) = args.id {
        config.id = id;
    }
    if let Some(peers) = args.peers {
        config.peers = peers;
    }
    if let Some(format) = args.log_format {
        config.log_format = format;
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Args = match dfs_common::daemon::parse_args("metad") {
        Ok(args) => args,
        Err(code) => return code,
    };
    let config = match config(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("metad: {}", dfs_common::daemon::one_line(&e));
            return ExitCode::FAILURE;
        }
    };
    dfs_common::daemon::init_logging(config.log_format);
    let daemon = match dfs_metad::start(config).await {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!("metad: {e}");
            return ExitCode::FAILURE;
        }
    };
    dfs_common::daemon::wait_for_shutdown_signal().await;
    tracing::info!("metad shutting down");
    daemon.stop().await;
    ExitCode::SUCCESS
}

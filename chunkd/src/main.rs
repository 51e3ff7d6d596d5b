//! The `chunkd` binary: reads the config, applies flags, runs the daemon until Ctrl-C or SIGTERM.

use clap::Parser;
use dfs_chunkd::Config;
use dfs_common::config::{load_toml, parse_size};
use std::path::PathBuf;
use std::process::ExitCode;

/// dfs chunk daemon: stores checksummed chunks on local disk and serves them to the cluster.
#[derive(Parser, Debug)]
#[command(
    name = "chunkd",
    version,
    after_help = "The cluster secret comes from the DFS_SECRET environment variable, or from the \
                  file given by --secret-file (or `secret_file` in the config file).\n\
                  Log verbosity follows RUST_LOG (default: info). Lines about a request carry \
                  its operation, chunk and request_id (the x-amz-request-id of the S3 request \
                  that caused it); at debug, every request served is logged with its status \
                  and duration_ms."
)]
struct Args {
    /// TOML config file (same field names as the flags, with `_`: data_dir, scrub_interval_secs,
    /// inventory_interval_secs, ...). Flags override its values.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on, host:port (port 0 picks a free one) [default: 127.0.0.1:7800].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Address given to metad, where clients and other chunkds reach this one
    /// [default: the bound address].
    #[arg(long, value_name = "ADDR")]
    advertise: Option<String>,
    /// Data folder; created if missing, must be empty or a chunkd folder [default: chunkd-data].
    #[arg(long = "data", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// metad's host:port, or the metad group's members separated by commas
    /// [default: 127.0.0.1:7700].
    #[arg(long, value_name = "ADDR")]
    metad: Option<String>,
    /// File holding the cluster secret.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Bytes offered to the cluster, like 500G or 2T [default: size of the data filesystem].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    capacity: Option<u64>,
    /// Seconds over which the background scrub verifies every chunk once; 0 disables it
    /// [default: 86400].
    #[arg(long, value_name = "N")]
    scrub_interval_secs: Option<u64>,
    /// Seconds between two inventory passes, which check that every chunk file is there with
    /// its size (a stat each, no read); 0 disables them [default: 300].
    #[arg(long, value_name = "N")]
    inventory_interval_secs: Option<u64>,
    /// Log line format, `text` or `json`. Overrides `log_format` in the config file
    /// [default: text].
    #[arg(long, value_enum, env = "DFS_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<dfs_common::daemon::LogFormat>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match build_config(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("chunkd: {}", dfs_common::daemon::one_line(&e));
            return ExitCode::FAILURE;
        }
    };
    dfs_common::daemon::init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chunkd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chunkd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config file's values with the flags and `DFS_SECRET` on top.
fn build_config(args: Args) -> Result<Config, String> {
    let mut config: Config = load_toml(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(advertise) = args.advertise {
        config.advertise = Some(advertise);
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(metad) = args.metad {
        config.metad = metad;
    }
    // Precedence, as in metad: a flag, then DFS_SECRET, then the config file.
    if let Some(file) = args.secret_file {
        config.secret_file = Some(file);
        config.secret = None;
    } else if let Some(secret) = dfs_common::daemon::secret_from_env() {
        config.secret = Some(secret);
    }
    if let Some(capacity) = args.capacity {
        config.capacity = Some(capacity);
    }
    if let Some(secs) = args.scrub_interval_secs {
        config.scrub_interval_secs = secs;
    }
    if let Some(secs) = args.inventory_interval_secs {
        config.inventory_interval_secs = secs;
    }
    if let Some(format) = args.log_format {
        config.log_format = format;
    }
    Ok(config)
}

async fn run(config: Config) -> anyhow::Result<()> {
    let daemon = dfs_chunkd::start(config).await?;
    dfs_common::daemon::wait_for_shutdown_signal().await;
    tracing::info!("stopping");
    daemon.stop().await;
    Ok(())
}

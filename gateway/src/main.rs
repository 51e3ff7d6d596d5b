//! The `gateway` binary: configuration from a TOML file and flags, then
//! [`dfs_gateway::start`] until Ctrl-C or SIGTERM.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// dfs S3 gateway: serves the S3 API over a dfs cluster.
#[derive(Parser, Debug)]
#[command(
    name = "gateway",
    version,
    after_help = "Environment:\n  DFS_SECRET  the cluster secret (instead of a secret file)\n  \
                  RUST_LOG    log filter, e.g. debug or dfs_gateway=debug [default: info]\n\n\
                  Logs: one info line per S3 request (method, path, endpoint, status, bytes, \
                  duration_ms) under its request_id, the x-amz-request-id answered to the client; \
                  metad and chunkd log the work it causes under the same id."
)]
struct Args {
    /// TOML configuration file (fields: listen, admin_listen, metad, secret_file, secret,
    /// region, root_domain, log_format). The flags below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the S3 endpoint, host:port; port 0 picks a free port
    /// [default: 127.0.0.1:9000].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Address of the admin endpoint (/health/live, /health/ready, /metrics), host:port
    /// [default: 127.0.0.1:9001].
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<String>,
    /// metad's host:port, or the metad group's members separated by commas
    /// [default: 127.0.0.1:7700].
    #[arg(long, value_name = "ADDR")]
    metad: Option<String>,
    /// File holding the cluster secret. Overrides DFS_SECRET and the config file.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// The S3 region clients sign for [default: us-east-1].
    #[arg(long, value_name = "NAME")]
    region: Option<String>,
    /// Root domain of virtual-hosted-style requests (BUCKET.<domain>/key), e.g. s3.example.com
    /// [default: none, path style only].
    #[arg(long, value_name = "DOMAIN")]
    root_domain: Option<String>,
    /// Log line format, `text` or `json`. Overrides `log_format` in the config file
    /// [default: text].
    #[arg(long, value_enum, env = "DFS_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<dfs_common::daemon::LogFormat>,
}

/// The configuration: file, then the `DFS_SECRET` environment variable, then flags.
fn config(args: Args) -> Result<dfs_gateway::Config, String> {
    let mut config: dfs_gateway::Config = dfs_common::config::load_toml(args.config.as_deref())?;
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
    if let Some(admin) = args.admin_listen {
        config.admin_listen = admin;
    }
    if let Some(metad) = args.metad {
        config.metad = metad;
    }
    if let Some(region) = args.region {
        config.region = region;
    }
    if let Some(domain) = args.root_domain {
        config.root_domain = Some(domain);
    }
    if let Some(format) = args.log_format {
        config.log_format = format;
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Args = match dfs_common::daemon::parse_args("gateway") {
        Ok(args) => args,
        Err(code) => return code,
    };
    let config = match config(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gateway: {}", dfs_common::daemon::one_line(&e));
            return ExitCode::FAILURE;
        }
    };
    dfs_common::daemon::init_logging(config.log_format);
    let daemon = match dfs_gateway::start(config).await {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    dfs_common::daemon::wait_for_shutdown_signal().await;
    tracing::info!("gateway shutting down");
    daemon.stop().await;
    ExitCode::SUCCESS
}

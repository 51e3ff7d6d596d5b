//! The `dfs` command-line tool: one-shot commands, the interactive shell, and `dfs dev` (a
//! local cluster in one process). `main.rs` only parses the command line and calls [`run`].

pub mod args;
pub mod commands;
#[cfg(feature = "dev")]
pub mod dev;
pub mod error;
pub mod glob;
pub mod help;
pub mod output;
pub mod paths;
pub mod shell;
pub mod tokenize;

pub use error::CliError;

use args::{Cli, Command};
use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The secret file `dfs dev` writes, used when nothing else names a secret.
pub const DEV_SECRET_FILE: &str = "dfs-data/cluster.secret";

/// Where the cluster is and how to prove membership.
#[derive(Clone, Debug)]
pub struct Settings {
    /// metad's `host:port`.
    pub metad: String,
    /// `--secret-file` / `DFS_SECRET_FILE`.
    pub secret_file: Option<PathBuf>,
}

/// Finds the cluster secret: `file` (from `--secret-file` or `DFS_SECRET_FILE`), else the
/// secret itself in `DFS_SECRET`, else `./dfs-data/cluster.secret` if it exists.
pub fn load_secret(file: Option<&Path>) -> Result<ClusterSecret, CliError> {
    if let Some(file) = file {
        return ClusterSecret::from_file(file).map_err(CliError::Config);
    }
    if let Some(secret) = dfs_common::daemon::secret_from_env() {
        return ClusterSecret::new(secret.expose())
            .map_err(|e| CliError::Config(format!("DFS_SECRET: {e}")));
    }
    let dev = Path::new(DEV_SECRET_FILE);
    if dev.exists() {
        return ClusterSecret::from_file(dev).map_err(CliError::Config);
    }
    Err(CliError::Config(
        "no cluster secret: pass --secret-file FILE or set DFS_SECRET_FILE (or DFS_SECRET); \
         `dfs dev` writes one to ./dfs-data/cluster.secret"
            .into(),
    ))
}

/// What a command runs with: the cluster (connected on first use) and the current directory.
#[derive(Debug)]
pub struct Context {
    settings: Settings,
    client: Option<DfsClient>,
    /// The current directory, absolute and normalised, without a trailing `/` (but `/`).
    pub cwd: String,
    /// Whether to draw progress bars (standard error is a terminal).
    pub progress: bool,
    /// Whether a person can be asked (standard input is a terminal): `rm` of a wildcard asks
    /// before it removes.
    pub ask: bool,
}

impl Context {
    /// A context at the root.
    pub fn new(settings: Settings, progress: bool) -> Self {
        Context {
            settings,
            client: None,
            cwd: "/".to_owned(),
            progress,
            ask: false,
        }
    }

    /// The cluster client, made on first use (so `help` needs no secret).
    pub fn client(&mut self) -> Result<DfsClient, CliError> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let secret = load_secret(self.settings.secret_file.as_deref())?;
        let client = DfsClient::new(self.settings.metad.clone(), secret).with_retry_policy(
            dfs_client::RetryPolicy {
                on_retry: Some(tell_waiting),
                ..dfs_client::RetryPolicy::default()
            },
        );
        self.client = Some(client.clone());
        Ok(client)
    }

    /// A path typed by a person, made absolute against the current directory and normalised.
    pub fn resolve(&self, input: &str) -> Result<String, CliError> {
        paths::normalize(&self.cwd, input).map_err(|e| CliError::Usage(e.to_string()))
    }
}

/// Prints an error as the one line a person sees (nothing for a closed standard output).
pub fn report(err: &CliError) {
    if !err.is_broken_pipe() {
        eprintln!("error: {}", err.line());
    }
}

/// The exit status for a command's result.
pub fn exit_code(result: &Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Interrupted) => ExitCode::from(130),
        // As if killed by SIGPIPE, the way `cat` ends in `cat big | head`.
        Err(err) if err.is_broken_pipe() => ExitCode::from(141),
        Err(_) => ExitCode::FAILURE,
    }
}

/// Runs the parsed command line and returns the process's exit status.
pub fn run(cli: Cli) -> ExitCode {
    let is_dev = matches!(cli.command, Some(Command::Dev(_)));
    // The daemons of `dfs dev` log at info; one-shot commands stay quiet unless RUST_LOG asks.
    if is_dev || std::env::var_os("RUST_LOG").is_some() {
        dfs_common::daemon::init_logging(dfs_common::daemon::LogFormat::Text);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = Settings {
        metad: cli.metad,
        // An empty DFS_SECRET_FILE means unset, as shells often leave it.
        secret_file: cli.secret_file.filter(|p| !p.as_os_str().is_empty()),
    };
    let result = match cli.command {
        None | Some(Command::Shell) => return shell::run(&runtime, settings),
        Some(Command::Dev(dev_args)) => run_dev(&runtime, dev_args),
        Some(command) => {
            use std::io::IsTerminal;
            let mut ctx = Context::new(settings, std::io::stderr().is_terminal());
            ctx.ask = std::io::stdin().is_terminal();
            runtime.block_on(commands::run(&mut ctx, command))
        }
    };
    if let Err(err) = &result {
        report(err);
    }
    exit_code(&result)
}

#[cfg(feature = "dev")]
fn run_dev(runtime: &tokio::runtime::Runtime, dev_args: args::DevArgs) -> Result<(), CliError> {
    runtime.block_on(dev::run(dev_args))
}

#[cfg(not(feature = "dev"))]
fn run_dev(_runtime: &tokio::runtime::Runtime, _dev_args: args::DevArgs) -> Result<(), CliError> {
    Err(CliError::Usage(
        "this dfs was built without the `dev` feature: it cannot run a local cluster".into(),
    ))
}

/// Tells the person once why a command is waiting: metad did not answer and the call is being
/// retried (a metad restart is ridden out; a metad that stays down fails the command).
fn tell_waiting(attempt: u32, err: &dfs_common::RpcError) {
    if attempt == 1 {
        let secs = dfs_client::RetryPolicy::default().deadline.as_secs();
        eprintln!("dfs: {err}; retrying for up to {secs} s");
    }
}

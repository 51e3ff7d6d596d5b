//! What every daemon binary (`metad`, `chunkd`, `gateway`) does the same way around its library:
//! set up logging, report a bad configuration on one line and run until Ctrl-C or SIGTERM.

use serde::Deserialize;

/// How log lines are written to stderr (`--log-format`, `log_format` in the config file,
/// `DFS_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, `key=value` fields; coloured on a terminal unless `NO_COLOR` is set.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, the event's fields at the top
    /// level, the fields of the spans it happened in under `span` and `spans`), for log shippers.
    Json,
}

/// Sets up `tracing` output to stderr in `format`, filtered by `RUST_LOG` (default `info`).
/// Colours only on a terminal and never with `NO_COLOR`, so log files and journald get plain
/// text. The daemons call it once, after reading their configuration.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init(),
        // Event fields at the top level, where log shippers look for `request_id`, `status`...
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Folds a multi-line message (TOML errors draw the offending line) into its first and last
/// lines, which carry the position and the reason, so a bad config is reported on one line.
pub fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [first, .., last] => format!("{first}: {last}"),
    }
}

/// Resolves on Ctrl-C or SIGTERM. If SIGTERM cannot be watched, Ctrl-C still works.
pub async fn wait_for_shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => Some(term),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; stop with Ctrl-C");
            None
        }
    };
    let terminated = async {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
}

/// Parses the command line. `--help` and `--version` print and end the program with success;
/// a mistake is reported on one line (`PROGRAM: what is wrong`) and ends it with failure.
pub fn parse_args<A: clap::Parser>(program: &str) -> Result<A, std::process::ExitCode> {
    match A::try_parse() {
        Ok(args) => Ok(args),
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            Err(std::process::ExitCode::SUCCESS)
        }
        Err(e) => {
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{program}: {}", line.trim_start_matches("error: "));
            Err(std::process::ExitCode::FAILURE)
        }
    }
}

/// The cluster secret given in the environment (`DFS_SECRET`), if any and not blank.
pub fn secret_from_env() -> Option<crate::Secret> {
    std::env::var("DFS_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(crate::Secret::new)
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn folds_lines() {
        assert_eq!(one_line(""), "");
        assert_eq!(one_line("bad value"), "bad value");
        assert_eq!(
            one_line("TOML parse error at line 2\n  |\n2 | x = \nexpected a value\n"),
            "TOML parse error at line 2: expected a value"
        );
    }
}

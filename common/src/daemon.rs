//! What every daemon binary (`metad`, `chunkd`, `gateway`) does the same way around its library:
//! report a bad configuration on one line and run until Ctrl-C or SIGTERM.

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
            tracing::warn!("cannot watch SIGTERM ({e}); stop with Ctrl-C");
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
pub fn secret_from_env() -> Option<String> {
    std::env::var("DFS_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty())
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

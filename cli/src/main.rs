//! `dfs`: parses the command line and hands it to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match dfs_cli::args::Cli::try_parse() {
        Ok(cli) => dfs_cli::run(cli),
        Err(err) => dfs_cli::args::parse_error(err),
    }
}

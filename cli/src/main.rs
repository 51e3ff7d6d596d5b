//! `dfs`: parses the command line and hands it to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    dfs_cli::run(dfs_cli::args::Cli::parse())
}

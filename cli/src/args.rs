//! The command line, as clap sees it. The shell parses its lines with the same [`Command`]
//! enum, so a command takes the same flags in both places.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// `dfs`: the dfs command-line client.
#[derive(Debug, Parser)]
#[command(
    name = "dfs",
    version,
    about = "The dfs command-line client: files, directories, cluster status, and a local dev cluster",
    after_help = "Without a command, dfs starts the interactive shell (or runs commands read from \
                  standard input when it is not a terminal)."
)]
pub struct Cli {
    /// metad's address.
    #[arg(
        long,
        global = true,
        env = "DFS_METAD",
        default_value = "127.0.0.1:7700",
        value_name = "HOST:PORT"
    )]
    pub metad: String,

    /// File holding the cluster secret (else env DFS_SECRET holds the secret itself; else
    /// ./dfs-data/cluster.secret if it exists).
    #[arg(long, global = true, env = "DFS_SECRET_FILE", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// What to do; none starts the shell.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// One command, from the command line or from a shell line.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload a local file (REMOTE ending in / or naming a directory: into it, same name).
    Put {
        /// The local file.
        local: PathBuf,
        /// Where to put it.
        remote: String,
    },
    /// Download a file (LOCAL a directory: into it, same name; - for standard output).
    Get {
        /// The file in dfs.
        remote: String,
        /// Where to write it.
        local: String,
    },
    /// List a directory (directories end in /).
    Ls {
        /// Show type, size and modification time.
        #[arg(short = 'l')]
        long: bool,
        /// The directory (default: the current one).
        path: Option<String>,
    },
    /// Create a directory.
    Mkdir {
        /// Create missing parents too; no error if it exists.
        #[arg(short = 'p', long)]
        parents: bool,
        /// The new directory.
        path: String,
    },
    /// Remove a file or an empty directory.
    Rm {
        /// Remove a directory with everything below it.
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        /// What to remove.
        path: String,
    },
    /// Rename or move a file or directory: one atomic metadata operation, no data moves.
    Mv {
        /// What to move.
        src: String,
        /// The new path, or an existing directory to move it into.
        dst: String,
    },
    /// Copy a file inside the cluster; the copy shares the chunks, no data moves.
    Cp {
        /// The file to copy.
        src: String,
        /// The new path, or an existing directory to copy it into.
        dst: String,
    },
    /// Show an entry: size, ETag, chunks and where their replicas live.
    Stat {
        /// The file or directory.
        path: String,
    },
    /// Print the tree below a directory.
    Show {
        /// The directory (default: the current one).
        path: Option<String>,
    },
    /// Show the cluster: chunkds, replication, repair and GC queues.
    Status,
    /// Start the interactive shell.
    Shell,
    /// Run a local cluster in this process: metad and N chunkds (Ctrl-C stops it).
    Dev(DevArgs),
}

/// Options of `dfs dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Folder for the cluster's data, secret and remembered ports.
    #[arg(long, default_value = "dfs-data", value_name = "DIR")]
    pub data: PathBuf,
    /// Number of chunkds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub chunkds: u32,
    /// Replication factor (default: metad's default, at most the number of chunkds).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub replication: Option<u32>,
}

/// A shell line: a command without the program name.
#[derive(Debug, Parser)]
#[command(
    name = "dfs",
    no_binary_name = true,
    disable_help_subcommand = true,
    disable_version_flag = true
)]
pub struct ShellLine {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

impl Command {
    /// The command's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Put { .. } => "put",
            Command::Get { .. } => "get",
            Command::Ls { .. } => "ls",
            Command::Mkdir { .. } => "mkdir",
            Command::Rm { .. } => "rm",
            Command::Mv { .. } => "mv",
            Command::Cp { .. } => "cp",
            Command::Stat { .. } => "stat",
            Command::Show { .. } => "show",
            Command::Status => "status",
            Command::Shell => "shell",
            Command::Dev(_) => "dev",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
        ShellLine::command().debug_assert();
    }

    #[test]
    fn parses_flags_in_shell_lines() {
        let line = ShellLine::try_parse_from(["ls", "-l", "/b"]).unwrap();
        assert!(matches!(line.command, Command::Ls { long: true, path: Some(ref p) } if p == "/b"));
        let line = ShellLine::try_parse_from(["get", "/b/x", "-"]).unwrap();
        assert!(matches!(line.command, Command::Get { ref local, .. } if local == "-"));
        let line = ShellLine::try_parse_from(["rm", "-R", "/b"]).unwrap();
        assert!(matches!(
            line.command,
            Command::Rm {
                recursive: true,
                ..
            }
        ));
        assert!(ShellLine::try_parse_from(["frobnicate"]).is_err());
    }
}

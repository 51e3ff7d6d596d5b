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
    /// metad's address, or the addresses of the metad group's members separated by commas
    /// (any member will do: requests follow the leader).
    #[arg(
        long,
        global = true,
        env = "DFS_METAD",
        default_value = "127.0.0.1:7700",
        value_name = "HOST:PORT[,...]",
        value_parser = metad_list
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
        /// Where to put it (default: the current directory, same name).
        remote: Option<String>,
        /// Upload as a multipart upload in parts of SIZE (5M to 5G, e.g. 64M). Without it a
        /// file goes up in one piece unless it is larger than one write session holds
        /// (10,000 chunks: 78 GiB in 8 MiB chunks); then in parts of 1 GiB or more.
        #[arg(long, value_name = "SIZE", value_parser = dfs_common::config::parse_size)]
        part_size: Option<u64>,
    },
    /// Download files: get REMOTE... [LOCAL] (LOCAL a directory: into it, same name; - for
    /// standard output; default: the current local directory). REMOTE may have wildcards.
    Get {
        /// The files in dfs, then where to write them.
        #[arg(required = true, value_name = "REMOTE... [LOCAL]")]
        paths: Vec<String>,
    },
    /// List directories (directories end in /); PATH may have wildcards.
    Ls {
        /// Show type, size and modification time.
        #[arg(short = 'l')]
        long: bool,
        /// What to list (default: the current directory).
        #[arg(value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Create a directory.
    Mkdir {
        /// Create missing parents too; no error if it exists.
        #[arg(short = 'p', long)]
        parents: bool,
        /// The new directory.
        path: String,
    },
    /// Remove files or empty directories; PATH may have wildcards (asks first on a terminal).
    Rm {
        /// Remove a directory with everything below it.
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        /// Do not ask before removing what a wildcard matched; a missing PATH is no error.
        #[arg(short = 'f', long)]
        force: bool,
        /// What to remove.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Rename or move: one atomic metadata operation, no data moves. mv SRC... DST (DST a
    /// directory when there are several sources); SRC may have wildcards.
    Mv {
        /// What to move, then where.
        #[arg(num_args = 2.., required = true, value_name = "SRC... DST")]
        paths: Vec<String>,
    },
    /// Copy files inside the cluster; copies share the chunks, no data moves. cp SRC... DST
    /// (DST a directory when there are several sources); SRC may have wildcards.
    Cp {
        /// What to copy, then where.
        #[arg(num_args = 2.., required = true, value_name = "SRC... DST")]
        paths: Vec<String>,
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
    /// Bytes and objects (files) below a path, counted from metad's metadata (no data read).
    #[command(disable_help_flag = true)]
    Du {
        /// Sizes in KiB, MiB, GiB... instead of bytes.
        #[arg(short = 'h', long = "human-readable")]
        human: bool,
        /// Print help.
        #[arg(long, action = clap::ArgAction::Help)]
        help: Option<bool>,
        /// The file or directory (default: the current directory).
        path: Option<String>,
    },
    /// The cluster's capacity and use (the short form of `status`).
    Df,
    /// List the files below a path whose data is lost or under-replicated (from metad's
    /// view of the chunk copies; no data is read). Exit status 1 when a file has lost data.
    Fsck {
        /// The file or directory (default: the current directory; `/` for everything).
        path: Option<String>,
    },
    /// Manage the S3 access keys: create (shows the secret once), list, delete.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The S3 buckets and which access keys may use them.
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// The open S3 multipart uploads of a bucket: list them, abort one.
    #[command(subcommand)]
    Uploads(UploadsCommand),
    /// metad itself: an online snapshot of its database (the backup).
    #[command(subcommand)]
    Metad(MetadCommand),
    /// Start the interactive shell.
    Shell,
    /// Run a local cluster in this process: metad, N chunkds and the S3 gateway (Ctrl-C stops it).
    Dev(DevArgs),
}

/// `dfs key ...`: the S3 access keys.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an access key; prints `export AWS_...` lines with its secret, shown only this once.
    Create {
        /// A name for people, such as who or what uses the key.
        name: String,
    },
    /// List the access keys: id, name, creation time and bucket grants.
    #[command(visible_alias = "ls")]
    List,
    /// Delete an access key (buckets it owns keep it as their recorded owner).
    #[command(visible_alias = "rm")]
    Delete {
        /// The access key id (DFS...).
        key_id: String,
    },
}

/// `dfs bucket ...`: buckets and grants.
#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// List the buckets with their creation time and owner key.
    #[command(visible_alias = "list")]
    Ls,
    /// Give an access key rights on a bucket (no flag: all three).
    Allow(GrantArgs),
    /// Take rights on a bucket away from an access key (no flag: all three).
    Deny(GrantArgs),
}

/// `dfs metad ...`: metad itself.
#[derive(Debug, Subcommand)]
pub enum MetadCommand {
    /// Write an online snapshot of metad's database into DIR, a new folder on metad's host
    /// (absolute path): a metad data folder as of now. Restore by starting metad on it.
    Snapshot {
        /// The folder to create, on metad's host.
        dir: String,
    },
    /// Add a member to the metad group: start it first (empty, with --id ID and --peers),
    /// then run this; it joins as a learner, catches up, then votes.
    Add {
        /// The new member's id (not in use).
        id: u64,
        /// Its HOST:PORT.
        addr: String,
    },
    /// Remove a member from the metad group; stop its process afterwards.
    #[command(visible_alias = "rm")]
    Remove {
        /// The member's id.
        id: u64,
    },
}

/// `dfs uploads ...`: open multipart uploads, which hold data but are no namespace entries.
#[derive(Debug, Subcommand)]
pub enum UploadsCommand {
    /// List the open multipart uploads of a bucket: key, upload id, initiation time.
    #[command(visible_alias = "list")]
    Ls {
        /// Also count each upload's parts and bytes (one more call per upload).
        #[arg(short = 'l')]
        long: bool,
        /// Only uploads of keys starting with this.
        #[arg(long, value_name = "PREFIX", default_value = "")]
        prefix: String,
        /// The bucket.
        bucket: String,
    },
    /// Abort an open multipart upload: its parts are dropped and their chunks collected.
    Abort {
        /// The bucket.
        bucket: String,
        /// The object key the upload was started for.
        key: String,
        /// The upload id, as `uploads ls` shows it.
        upload_id: String,
    },
}

/// The rights and the subject of `bucket allow` and `bucket deny`.
#[derive(Debug, Clone, Args)]
pub struct GrantArgs {
    /// List and read objects.
    #[arg(long)]
    pub read: bool,
    /// Write and delete objects.
    #[arg(long)]
    pub write: bool,
    /// Administer the bucket (delete it, change its settings).
    #[arg(long)]
    pub owner: bool,
    /// The bucket.
    pub bucket: String,
    /// The access key id (DFS...).
    pub key_id: String,
}

impl GrantArgs {
    /// The rights named as (read, write, owner); none named means all three.
    pub fn rights(&self) -> (bool, bool, bool) {
        if self.read || self.write || self.owner {
            (self.read, self.write, self.owner)
        } else {
            (true, true, true)
        }
    }
}

/// Options of `dfs dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Folder for the cluster's data, secret, remembered ports and S3 access key.
    #[arg(long, default_value = "dfs-data", value_name = "DIR")]
    pub data: PathBuf,
    /// Number of chunkds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub chunkds: u32,
    /// Replication factor (default: metad's default, at most the number of chunkds).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub replication: Option<u32>,
    /// Port of the S3 endpoint (default: the one used last time if free, else any free port).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub s3_port: Option<u16>,
    /// Number of metad members: 1, or a group of 3 or 5 in this process (member 1 in
    /// DIR/metad, member K in DIR/metad-K). A folder keeps the count it was made with.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_metads)]
    pub metads: u32,
}

/// `--metads`: a group has an odd number of members, and `dfs dev` runs at most five.
fn parse_metads(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n @ (1 | 3 | 5)) => Ok(n),
        _ => Err("must be 1, 3 or 5".to_owned()),
    }
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
            Command::Du { .. } => "du",
            Command::Df => "df",
            Command::Fsck { .. } => "fsck",
            Command::Key(_) => "key",
            Command::Bucket(_) => "bucket",
            Command::Uploads(_) => "uploads",
            Command::Metad(_) => "metad",
            Command::Shell => "shell",
            Command::Dev(_) => "dev",
        }
    }
}

/// Reports a command line clap refused and gives the exit status: an unknown command gets
/// the one line with a suggestion the shell gives (`cat` → `get FILE -`), the rest clap's
/// own message (usage included).
pub fn parse_error(err: clap::Error) -> std::process::ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() == ErrorKind::InvalidSubcommand {
        if let Some(ContextValue::String(name)) = err.get(ContextKind::InvalidSubcommand) {
            eprintln!("error: {}", crate::help::unknown_command(name));
            return std::process::ExitCode::from(2);
        }
    }
    err.exit()
}

/// Checks a `--metad` list (`host:port[,host:port...]`) where it is typed.
fn metad_list(text: &str) -> Result<String, String> {
    dfs_common::metad_group::MetadGroup::parse(text).map(|_| text.to_owned())
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
    fn metads_is_one_three_or_five() {
        let metads = |n: &str| match ShellLine::try_parse_from(["dev", "--metads", n]) {
            Ok(ShellLine {
                command: Command::Dev(args),
            }) => Some(args.metads),
            _ => None,
        };
        assert_eq!(metads("3"), Some(3));
        assert_eq!(metads("5"), Some(5));
        assert_eq!(metads("2"), None);
        assert_eq!(metads("7"), None);
        let line = ShellLine::try_parse_from(["dev"]).unwrap();
        assert!(matches!(
            line.command,
            Command::Dev(DevArgs { metads: 1, .. })
        ));
    }

    #[test]
    fn parses_flags_in_shell_lines() {
        let line = ShellLine::try_parse_from(["ls", "-l", "/b"]).unwrap();
        assert!(matches!(line.command, Command::Ls { long: true, ref paths } if paths == &["/b"]));
        let line = ShellLine::try_parse_from(["get", "/b/x", "-"]).unwrap();
        assert!(matches!(line.command, Command::Get { ref paths } if paths == &["/b/x", "-"]));
        let line = ShellLine::try_parse_from(["put", "a.txt"]).unwrap();
        assert!(matches!(line.command, Command::Put { remote: None, .. }));
        let line = ShellLine::try_parse_from(["du", "-h", "/b"]).unwrap();
        assert!(
            matches!(line.command, Command::Du { human: true, path: Some(ref p), .. } if p == "/b")
        );
        assert!(ShellLine::try_parse_from(["cp", "/b/x"]).is_err());
        assert!(ShellLine::try_parse_from(["rm"]).is_err());
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

    #[test]
    fn grants_default_to_all_rights() {
        let grant = |words: &[&str]| match ShellLine::try_parse_from(words).unwrap().command {
            Command::Bucket(BucketCommand::Allow(args) | BucketCommand::Deny(args)) => args,
            other => panic!("{other:?}"),
        };
        let args = grant(&["bucket", "allow", "b1", "DFSKEY"]);
        assert_eq!(
            (args.bucket.as_str(), args.key_id.as_str()),
            ("b1", "DFSKEY")
        );
        assert_eq!(args.rights(), (true, true, true));
        let args = grant(&["bucket", "deny", "--write", "b1", "DFSKEY"]);
        assert_eq!(args.rights(), (false, true, false));
        let args = grant(&["bucket", "allow", "--read", "--owner", "b1", "DFSKEY"]);
        assert_eq!(args.rights(), (true, false, true));
        assert!(ShellLine::try_parse_from(["bucket", "allow", "b1"]).is_err());
        assert!(ShellLine::try_parse_from(["key"]).is_err());
        assert!(matches!(
            ShellLine::try_parse_from(["key", "ls"]).unwrap().command,
            Command::Key(KeyCommand::List)
        ));
    }

    #[test]
    fn parses_uploads_commands() {
        let parse = |words: &[&str]| match ShellLine::try_parse_from(words).unwrap().command {
            Command::Uploads(command) => command,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            parse(&["uploads", "ls", "b1"]),
            UploadsCommand::Ls { long: false, ref prefix, ref bucket } if prefix.is_empty() && bucket == "b1"
        ));
        assert!(matches!(
            parse(&["uploads", "ls", "-l", "--prefix", "logs/", "b1"]),
            UploadsCommand::Ls { long: true, ref prefix, .. } if prefix == "logs/"
        ));
        assert!(matches!(
            parse(&["uploads", "abort", "b1", "a/b.bin", "0123"]),
            UploadsCommand::Abort { ref bucket, ref key, ref upload_id }
                if bucket == "b1" && key == "a/b.bin" && upload_id == "0123"
        ));
        assert!(ShellLine::try_parse_from(["uploads", "ls"]).is_err());
        assert!(ShellLine::try_parse_from(["uploads", "abort", "b1", "k"]).is_err());
    }
}

//! The shell's `help` and `help CMD`: usage, what it does and an example for every command.
//! A command with subcommands (`key`, `bucket`, `uploads`) has one entry per subcommand, all under its
//! name: `help key` shows them all, `help key create` just one.

/// Help for one shell command (or one subcommand).
#[derive(Debug, Clone, Copy)]
pub struct HelpEntry {
    /// The command's name (the first word typed).
    pub name: &'static str,
    /// Its synopsis.
    pub usage: &'static str,
    /// What it does, in a line.
    pub summary: &'static str,
    /// A typical use.
    pub example: &'static str,
}

/// Every command the shell knows, in the order `help` lists them.
pub const COMMANDS: &[HelpEntry] = &[
    HelpEntry {
        name: "put",
        usage: "put [--part-size SIZE] LOCAL [REMOTE]",
        summary: "upload a local file; no REMOTE: into the current directory, same name",
        example: "put holiday.jpg /photos/2024/",
    },
    HelpEntry {
        name: "get",
        usage: "get REMOTE... [LOCAL]",
        summary: "download files (no LOCAL: into the local directory, same name; - prints them)",
        example: "get /photos/2024/*.jpg",
    },
    HelpEntry {
        name: "ls",
        usage: "ls [-l] [PATH...]",
        summary: "list a directory (directories end in /); -l adds type, size and mtime",
        example: "ls -l /photos",
    },
    HelpEntry {
        name: "mkdir",
        usage: "mkdir [-p] PATH",
        summary:
            "create a directory (a bucket at the top level); -p: parents too, no error if it exists",
        example: "mkdir -p /photos/2024",
    },
    HelpEntry {
        name: "rm",
        usage: "rm [-r] [-f] PATH...",
        summary: "remove files or empty dirs; -r: with everything below; -f: no question asked",
        example: "rm /photos/old/*.tmp",
    },
    HelpEntry {
        name: "mv",
        usage: "mv SRC... DST",
        summary: "rename or move (DST an existing directory: into it); atomic, no data moves",
        example: "mv /photos/2024 /photos/archive",
    },
    HelpEntry {
        name: "cp",
        usage: "cp SRC... DST",
        summary: "copy files inside the cluster; copies share the chunks, no data moves",
        example: "cp /photos/a.jpg /photos/best.jpg",
    },
    HelpEntry {
        name: "stat",
        usage: "stat PATH",
        summary: "details of an entry: size, mtime, ETag, chunks and where their replicas live",
        example: "stat /photos/best.jpg",
    },
    HelpEntry {
        name: "show",
        usage: "show [PATH]  |  show CMD ARGS...",
        summary:
            "print the tree below PATH; or run CMD, then print the tree of the current directory",
        example: "show mkdir /photos/2025",
    },
    HelpEntry {
        name: "status",
        usage: "status",
        summary: "the cluster: chunkds alive or dead, space, replication, repair and GC queues",
        example: "status",
    },
    HelpEntry {
        name: "du",
        usage: "du [-h] [PATH]",
        summary: "bytes and objects below PATH, from metad's metadata (-h: KiB, MiB, ...)",
        example: "du -h /photos",
    },
    HelpEntry {
        name: "df",
        usage: "df",
        summary: "the cluster's capacity, use and room left (the short form of status)",
        example: "df",
    },
    HelpEntry {
        name: "fsck",
        usage: "fsck [PATH]",
        summary:
            "list files below PATH with lost or under-replicated chunks; fails if data is lost",
        example: "fsck /photos",
    },
    HelpEntry {
        name: "key",
        usage: "key create NAME",
        summary: "create an S3 access key; prints export AWS_... lines (the secret is shown once)",
        example: "key create alice",
    },
    HelpEntry {
        name: "key",
        usage: "key list",
        summary: "list the S3 access keys: id, name, creation time, grants (b1:rwo b2:r)",
        example: "key list",
    },
    HelpEntry {
        name: "key",
        usage: "key delete KEY_ID",
        summary: "delete an S3 access key",
        example: "key delete DFSAB12CD34EF56GH78J",
    },
    HelpEntry {
        name: "bucket",
        usage: "bucket ls",
        summary: "list the buckets with their creation time and owner key",
        example: "bucket ls",
    },
    HelpEntry {
        name: "bucket",
        usage: "bucket allow [FLAGS] BUCKET KEY_ID",
        summary: "give a key rights on a bucket: --read --write --owner (none: all three)",
        example: "bucket allow --read photos DFSAB12CD34EF56GH78J",
    },
    HelpEntry {
        name: "bucket",
        usage: "bucket deny [FLAGS] BUCKET KEY_ID",
        summary: "take a key's rights on a bucket away: --read --write --owner (none: all)",
        example: "bucket deny --write photos DFSAB12CD34EF56GH78J",
    },
    HelpEntry {
        name: "uploads",
        usage: "uploads ls [-l] [--prefix P] BUCKET",
        summary: "list a bucket's open multipart uploads; -l adds their parts and bytes",
        example: "uploads ls -l --prefix videos/ photos",
    },
    HelpEntry {
        name: "uploads",
        usage: "uploads abort BUCKET KEY UPLOAD_ID",
        summary: "abort an open multipart upload: its parts are dropped, their space freed",
        example: "uploads abort photos videos/trip.mp4 0f3c9a5e7b2d4c6e8a1b3d5f7e9c0a2b",
    },
    HelpEntry {
        name: "metad",
        usage: "metad snapshot DIR",
        summary: "write an online snapshot of metad's database to DIR on metad's host (the backup)",
        example: "metad snapshot /var/lib/dfs/backups/metad-2026-12-02",
    },
    HelpEntry {
        name: "metad",
        usage: "metad add ID HOST:PORT",
        summary: "add a started, empty metad member to the group: it catches up, then votes",
        example: "metad add 4 10.0.0.4:7700",
    },
    HelpEntry {
        name: "metad",
        usage: "metad remove ID",
        summary: "remove a member from the metad group (then stop its process)",
        example: "metad remove 1",
    },
    HelpEntry {
        name: "cd",
        usage: "cd [PATH | -]",
        summary: "change the current directory (no PATH: /; -: the previous one)",
        example: "cd /photos/2024",
    },
    HelpEntry {
        name: "pwd",
        usage: "pwd",
        summary: "print the current directory",
        example: "pwd",
    },
    HelpEntry {
        name: "lcd",
        usage: "lcd [DIR]",
        summary: "change the local directory, where put reads and get writes (no DIR: home)",
        example: "lcd ~/Downloads",
    },
    HelpEntry {
        name: "lpwd",
        usage: "lpwd",
        summary: "print the local directory",
        example: "lpwd",
    },
    HelpEntry {
        name: "help",
        usage: "help [CMD]",
        summary: "list the commands, or show the usage of one with an example (help key create)",
        example: "help put",
    },
    HelpEntry {
        name: "exit",
        usage: "exit",
        summary: "leave the shell (also quit, or Ctrl-D)",
        example: "exit",
    },
    HelpEntry {
        name: "quit",
        usage: "quit",
        summary: "leave the shell (also exit, or Ctrl-D)",
        example: "quit",
    },
];

/// The (first) help entry of the command `name`.
pub fn find(name: &str) -> Option<&'static HelpEntry> {
    COMMANDS.iter().find(|entry| entry.name == name)
}

/// The help entries of `topic`: a command (`key`: every entry of it) or a command and a
/// subcommand (`key create`).
fn entries(topic: &str) -> Vec<&'static HelpEntry> {
    let mut words = topic.split_whitespace();
    let name = words.next().unwrap_or("");
    let sub = words.next();
    COMMANDS
        .iter()
        .filter(|entry| entry.name == name)
        .filter(|entry| sub.is_none() || entry.usage.split_whitespace().nth(1) == sub)
        .collect()
}

/// The text of `help`: every command with its synopsis and summary.
pub fn overview() -> String {
    let width = COMMANDS.iter().map(|e| e.usage.len()).max().unwrap_or(0);
    let mut text = String::from("commands (paths are relative to the current directory):\n");
    for entry in COMMANDS {
        text.push_str(&format!("  {:<width$}  {}\n", entry.usage, entry.summary));
    }
    text.push_str(
        "quoting: \"double quotes\", 'single quotes' and \\ escapes; # starts a comment\n\
         wildcards in paths of ls, rm, get, cp, mv: * ? [a-z] (quoted: literal)\n\
         Tab completes commands, flags and paths; the grey hint is from history (right arrow takes it)\n",
    );
    text
}

/// The usages of a command (one per subcommand), joined by ` | `, for one-line reminders.
/// `words` are the words typed: a known subcommand narrows it to that one.
pub fn usage_line(words: &[String]) -> Option<String> {
    let name = words.first()?;
    let all: Vec<&HelpEntry> = COMMANDS.iter().filter(|e| e.name == name).collect();
    let sub: Vec<&HelpEntry> = all
        .iter()
        .copied()
        .filter(|e| words.get(1).map(String::as_str) == e.usage.split_whitespace().nth(1))
        .collect();
    let chosen = if sub.is_empty() { all } else { sub };
    if chosen.is_empty() {
        return None;
    }
    Some(
        chosen
            .iter()
            .map(|e| e.usage)
            .collect::<Vec<_>>()
            .join(" | "),
    )
}

/// Words people type from other shells and tools, and the command that does it here.
const ALIASES: &[(&str, &str)] = &[
    ("cat", "get FILE -"),
    ("less", "get FILE -"),
    ("more", "get FILE -"),
    ("head", "get FILE -"),
    ("type", "get FILE -"),
    ("download", "get"),
    ("upload", "put"),
    ("dir", "ls"),
    ("ll", "ls -l"),
    ("list", "ls"),
    ("tree", "show"),
    ("copy", "cp"),
    ("move", "mv"),
    ("rename", "mv"),
    ("ren", "mv"),
    ("del", "rm"),
    ("delete", "rm"),
    ("remove", "rm"),
    ("unlink", "rm"),
    ("rmdir", "rm"),
    ("md", "mkdir"),
    ("chdir", "cd"),
    ("info", "stat"),
    ("bye", "exit"),
    ("logout", "exit"),
    ("?", "help"),
    ("man", "help"),
    ("mput", "put"),
    ("mget", "get"),
];

/// What to suggest for an unknown command `name`: the command people mean by it, else the
/// nearest command name (at most two edits away).
pub fn suggest(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, meant)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return Some((*meant).to_owned());
    }
    if find(&lower).is_some() {
        return Some(lower);
    }
    COMMANDS
        .iter()
        .map(|entry| (edit_distance(&lower, entry.name), entry.name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.to_owned())
}

/// The Levenshtein distance between two short words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The one line for an unknown command.
pub fn unknown_command(name: &str) -> String {
    match suggest(name) {
        Some(meant) => {
            format!("unknown command: {name} (did you mean `{meant}`? help lists the commands)")
        }
        None => format!("unknown command: {name} (help lists the commands)"),
    }
}

/// The text of `help CMD` (or `help CMD SUBCMD`); `None` for an unknown topic.
pub fn command_help(topic: &str) -> Option<String> {
    let found = entries(topic);
    if found.is_empty() {
        return None;
    }
    Some(
        found
            .iter()
            .map(|entry| {
                format!(
                    "usage: {}\n  {}\nexample: {}\n",
                    entry.usage, entry.summary, entry.example
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::ShellLine;
    use clap::CommandFactory;

    #[test]
    fn unknown_commands_get_suggestions() {
        assert_eq!(suggest("cat").as_deref(), Some("get FILE -"));
        assert_eq!(suggest("mkdri").as_deref(), Some("mkdir"));
        assert_eq!(suggest("sat").as_deref(), Some("stat"));
        assert_eq!(suggest("LS").as_deref(), Some("ls"));
        assert_eq!(suggest("frobnicate"), None);
        let line = unknown_command("cat");
        assert!(line.contains("did you mean `get FILE -`?"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn usage_lines() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            usage_line(&words(&["put"])).as_deref(),
            Some("put [--part-size SIZE] LOCAL [REMOTE]")
        );
        assert_eq!(
            usage_line(&words(&["key", "create"])).as_deref(),
            Some("key create NAME")
        );
        assert_eq!(
            usage_line(&words(&["key"])).as_deref(),
            Some("key create NAME | key list | key delete KEY_ID")
        );
        assert_eq!(usage_line(&words(&["nope"])), None);
    }

    #[test]
    fn every_command_has_help() {
        let builtins = ["cd", "pwd", "lcd", "lpwd", "help", "exit", "quit"];
        let clap_commands: Vec<String> = ShellLine::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            // Not available inside the shell.
            .filter(|name| name != "shell" && name != "dev")
            .collect();
        assert!(clap_commands.len() >= 10);
        let overview = overview();
        for name in clap_commands.iter().map(String::as_str).chain(builtins) {
            let entry = find(name).unwrap_or_else(|| panic!("no help for {name}"));
            assert!(entry.usage.starts_with(name), "{name}: {}", entry.usage);
            assert!(entry.example.starts_with(name), "{name}: {}", entry.example);
            assert!(overview.contains(entry.usage), "help lists {name}");
        }
    }

    #[test]
    fn every_subcommand_has_help() {
        for command in ShellLine::command().get_subcommands() {
            for sub in command.get_subcommands() {
                let topic = format!("{} {}", command.get_name(), sub.get_name());
                let text = command_help(&topic).unwrap_or_else(|| panic!("no help for {topic}"));
                assert!(text.contains(&format!("example: {topic}")), "{text}");
            }
        }
    }

    #[test]
    fn help_of_commands_with_subcommands() {
        let text = command_help("key").unwrap();
        for usage in ["key create NAME", "key list", "key delete KEY_ID"] {
            assert!(text.contains(&format!("usage: {usage}\n")), "{text}");
        }
        let text = command_help("bucket  allow").unwrap();
        assert!(
            text.starts_with("usage: bucket allow [FLAGS] BUCKET KEY_ID\n"),
            "{text}"
        );
        assert!(!text.contains("bucket deny"), "{text}");
        assert!(command_help("bucket frobnicate").is_none());
        let text = command_help("uploads").unwrap();
        for usage in [
            "uploads ls [-l] [--prefix P] BUCKET",
            "uploads abort BUCKET KEY UPLOAD_ID",
        ] {
            assert!(text.contains(&format!("usage: {usage}\n")), "{text}");
        }
        assert!(text.contains("example: uploads abort photos "), "{text}");
    }

    #[test]
    fn help_of_one_command() {
        let text = command_help("mkdir").unwrap();
        assert!(text.starts_with("usage: mkdir [-p] PATH\n"), "{text}");
        assert!(text.contains("example: mkdir -p"), "{text}");
        assert!(command_help("nope").is_none());
    }
}

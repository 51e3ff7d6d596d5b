//! What Tab completes, decided from the words typed so far: command names, subcommands,
//! flags (from the clap definition, so they never drift from what the parser takes), remote
//! paths (listed through metad by the caller, one page) and local paths.
//!
//! A candidate replaces the whole word being typed, quoted again when the name needs it
//! ([`quote`]), so completing inside `'my fi` or after `my\ fi` gives the same `'my file'`.

use crate::args::ShellLine;
use crate::help;
use crate::tokenize::{partial, Word};
use clap::CommandFactory;
use rustyline::completion::Pair;
use std::path::{Path, PathBuf};

/// What the word under the cursor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A command name.
    Command,
    /// A subcommand of this command (`key create`).
    Subcommand(String),
    /// A flag of this command path (`["bucket", "allow"]`).
    Flag(Vec<String>),
    /// A path in dfs; directories only when `dirs_only`.
    Remote {
        /// `cd` takes directories.
        dirs_only: bool,
    },
    /// A local path; directories only when `dirs_only`.
    Local {
        /// `lcd` takes directories.
        dirs_only: bool,
    },
    /// Nothing to offer.
    Nothing,
}

/// The word under the cursor and what it is.
#[derive(Debug, Clone)]
pub struct Target {
    /// The word as typed so far (quotes removed), and where it starts.
    pub word: Word,
    /// What it is.
    pub slot: Slot,
}

/// Parses `line` up to the cursor.
pub fn target(line: &str) -> Target {
    let (done, word) = partial(line);
    let slot = slot(&done, &word.text);
    Target { word, slot }
}

fn slot(done: &[Word], current: &str) -> Slot {
    let Some(first) = done.first() else {
        return Slot::Command;
    };
    let cmd = first.text.as_str();
    if cmd == "help" {
        return match done.len() {
            1 => Slot::Command,
            2 if has_subcommands(&done[1].text) => Slot::Subcommand(done[1].text.clone()),
            _ => Slot::Nothing,
        };
    }
    if has_subcommands(cmd) && done.len() == 1 {
        return Slot::Subcommand(cmd.to_owned());
    }
    let mut path = vec![cmd.to_owned()];
    if has_subcommands(cmd) {
        path.push(done[1].text.clone());
    }
    if current.starts_with('-') {
        return Slot::Flag(path);
    }
    // Which positional argument this is: the words after the command path that are no flags.
    let position = done[path.len()..]
        .iter()
        .filter(|w| !w.text.starts_with('-') || w.text == "-")
        .count();
    match (cmd, position) {
        ("put", 0) => Slot::Local { dirs_only: false },
        ("put", _) | ("get", 0) => Slot::Remote { dirs_only: false },
        ("get", _) => Slot::Local { dirs_only: false },
        ("lcd", 0) => Slot::Local { dirs_only: true },
        ("cd", 0) => Slot::Remote { dirs_only: true },
        ("ls" | "rm" | "mv" | "cp" | "stat" | "show" | "du" | "fsck" | "mkdir", _) => {
            Slot::Remote { dirs_only: false }
        }
        _ => Slot::Nothing,
    }
}

fn has_subcommands(name: &str) -> bool {
    ShellLine::command()
        .find_subcommand(name)
        .is_some_and(|c| c.has_subcommands())
}

/// Command names starting with `prefix`, each followed by a space.
pub fn commands(prefix: &str) -> Vec<Pair> {
    let mut names: Vec<&str> = help::COMMANDS.iter().map(|e| e.name).collect();
    names.sort_unstable();
    names.dedup();
    words(names.into_iter(), prefix)
}

/// Subcommands (and their visible aliases) of `command` starting with `prefix`.
pub fn subcommands(command: &str, prefix: &str) -> Vec<Pair> {
    let root = ShellLine::command();
    let Some(cmd) = root.find_subcommand(command) else {
        return Vec::new();
    };
    let names: Vec<String> = cmd
        .get_subcommands()
        .flat_map(|s| {
            std::iter::once(s.get_name().to_owned())
                .chain(s.get_visible_aliases().map(str::to_owned))
        })
        .collect();
    words(names.iter().map(String::as_str), prefix)
}

/// The flags of the command at `path` starting with `prefix`: `-x` and `--long` forms.
pub fn flags(path: &[String], prefix: &str) -> Vec<Pair> {
    let root = ShellLine::command();
    let mut cmd = &root;
    for name in path {
        match cmd.find_subcommand(name) {
            Some(sub) => cmd = sub,
            None => return Vec::new(),
        }
    }
    let mut names = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        if let Some(short) = arg.get_short() {
            names.push(format!("-{short}"));
        }
        if let Some(long) = arg.get_long() {
            names.push(format!("--{long}"));
        }
    }
    if !names.iter().any(|n| n == "--help") {
        names.push("--help".to_owned());
    }
    words(names.iter().map(String::as_str), prefix)
}

fn words<'a>(names: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<Pair> {
    names
        .filter(|name| name.starts_with(prefix))
        .map(|name| Pair {
            display: name.to_owned(),
            replacement: format!("{name} "),
        })
        .collect()
}

/// A word being typed as a path: the directory part (up to its last `/`, kept as typed)
/// and the start of the name.
pub fn split_path(word: &str) -> (&str, &str) {
    match word.rfind('/') {
        Some(at) => (&word[..=at], &word[at + 1..]),
        None => ("", word),
    }
}

/// The candidate for `name` (a directory when `dir`) found in the directory typed as
/// `dir_part`: the whole word again, quoted as needed; a file is followed by a space, a
/// directory by `/` so that the next Tab goes inside.
pub fn path_candidate(dir_part: &str, name: &str, dir: bool) -> Pair {
    let mut word = format!("{dir_part}{name}");
    let mut display = name.to_owned();
    if dir {
        word.push('/');
        display.push('/');
    }
    let mut replacement = quote(&word);
    if !dir {
        replacement.push(' ');
    }
    Pair {
        display,
        replacement,
    }
}

/// `word` as the shell's tokenizer reads it back: bare when only safe characters, in single
/// quotes otherwise, in double quotes (escaping `"` and `\`) when it has a single quote.
/// Wildcard characters count as unsafe: quoted, they are literal ([`crate::glob`]).
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_alphanumeric() || "._-/+,:=@%^~".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_owned();
    }
    if !word.contains('\'') {
        return format!("'{word}'");
    }
    let escaped = word.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Local paths for the word `typed` (`~/` is the home directory): the entries of its
/// directory whose names start with what follows the last `/`; hidden ones only when that
/// starts with a dot.
pub fn local_paths(typed: &str, dirs_only: bool) -> Vec<Pair> {
    let (dir_part, prefix) = split_path(typed);
    let dir: PathBuf = if dir_part.is_empty() {
        PathBuf::from(".")
    } else {
        expand_home(dir_part)
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let is_dir = entry.path().is_dir();
            let wanted = name.starts_with(prefix)
                && (prefix.starts_with('.') || !name.starts_with('.'))
                && (is_dir || !dirs_only);
            wanted.then_some((name, is_dir))
        })
        .collect();
    found.sort();
    found
        .iter()
        .map(|(name, is_dir)| path_candidate(dir_part, name, *is_dir))
        .collect()
}

/// A local path typed with `~` or `~/...` made absolute with `$HOME`.
pub fn expand_home(typed: &str) -> PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (typed.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            Path::new(&home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(typed),
    }
}

/// A `start_after` for a listing whose first entries should be the names starting with
/// `prefix`: a string just below it (the last character decremented, then the highest
/// character), so that a page is not spent on names before it.
pub fn start_below(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let lower = match last as u32 {
        0 => None,
        // Below the surrogate gap.
        0xE000 => Some('\u{D7FF}'),
        code => char::from_u32(code - 1),
    };
    let mut text: String = chars.into_iter().collect();
    if let Some(lower) = lower {
        text.push(lower);
        text.push(char::MAX);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::tokenize;

    fn replacements(pairs: &[Pair]) -> Vec<&str> {
        pairs.iter().map(|p| p.replacement.as_str()).collect()
    }

    #[test]
    fn quoting_reads_back_as_the_same_word() {
        assert_eq!(quote("/photos/a.jpg"), "/photos/a.jpg");
        assert_eq!(quote("my file.txt"), "'my file.txt'");
        assert_eq!(quote("a*b"), "'a*b'");
        assert_eq!(quote("it's here"), r#""it's here""#);
        assert_eq!(quote(r#"it's "q" \"#), r#""it's \"q\" \\""#);
        assert_eq!(quote(""), "''");
        for word in [
            "plain",
            "my file",
            "a*b?[c]",
            "it's",
            r#"it's "q" \"#,
            "#x",
            "é ü",
        ] {
            let quoted = quote(word);
            assert_eq!(tokenize(&quoted).unwrap(), [word], "{quoted}");
            // Quoted wildcards are literal.
            let pattern = &crate::tokenize::words(&quoted).unwrap()[0].pattern;
            assert!(!crate::glob::has_wildcards(pattern), "{quoted}: {pattern}");
        }
    }

    #[test]
    fn path_candidates_quote_the_whole_word() {
        let pair = path_candidate("/b/", "my file.txt", false);
        assert_eq!(pair.replacement, "'/b/my file.txt' ");
        assert_eq!(pair.display, "my file.txt");
        let pair = path_candidate("", "my dir", true);
        assert_eq!(pair.replacement, "'my dir/'");
        assert_eq!(pair.display, "my dir/");
        let pair = path_candidate("sub/", "x", true);
        assert_eq!(pair.replacement, "sub/x/");
        assert_eq!(split_path("/b/my fi"), ("/b/", "my fi"));
        assert_eq!(split_path("fi"), ("", "fi"));
        assert_eq!(split_path("/"), ("/", ""));
    }

    #[test]
    fn slots_follow_the_words_typed() {
        let slot = |line: &str| target(line).slot;
        assert_eq!(slot(""), Slot::Command);
        assert_eq!(slot("pu"), Slot::Command);
        assert_eq!(slot("help "), Slot::Command);
        assert_eq!(slot("key "), Slot::Subcommand("key".into()));
        assert_eq!(slot("help bucket a"), Slot::Subcommand("bucket".into()));
        assert_eq!(slot("ls -"), Slot::Flag(vec!["ls".into()]));
        assert_eq!(
            slot("bucket allow --r"),
            Slot::Flag(vec!["bucket".into(), "allow".into()])
        );
        assert_eq!(slot("cd /pho"), Slot::Remote { dirs_only: true });
        assert_eq!(slot("ls -l /b/"), Slot::Remote { dirs_only: false });
        assert_eq!(slot("put "), Slot::Local { dirs_only: false });
        assert_eq!(slot("put a.txt /b"), Slot::Remote { dirs_only: false });
        assert_eq!(slot("get /b/x "), Slot::Local { dirs_only: false });
        assert_eq!(slot("get 'my fi"), Slot::Remote { dirs_only: false });
        assert_eq!(slot("lcd "), Slot::Local { dirs_only: true });
        assert_eq!(slot("status "), Slot::Nothing);
        assert_eq!(target("get 'my fi").word.text, "my fi");
    }

    #[test]
    fn names_come_from_the_parser() {
        assert_eq!(replacements(&commands("mk")), ["mkdir "]);
        assert!(replacements(&commands("l")).contains(&"lcd "));
        assert_eq!(replacements(&subcommands("key", "cr")), ["create "]);
        assert_eq!(
            replacements(&flags(&["rm".into()], "--r")),
            ["--recursive "]
        );
        let allow = flags(&["bucket".into(), "allow".into()], "--");
        for flag in ["--read ", "--write ", "--owner ", "--help "] {
            assert!(replacements(&allow).contains(&flag), "{flag}");
        }
    }

    #[test]
    fn local_paths_complete_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big file.bin"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("bags")).unwrap();
        let base = format!("{}/", dir.path().display());
        let found = local_paths(&format!("{base}b"), false);
        assert_eq!(
            replacements(&found),
            [format!("{base}bags/"), format!("'{base}big file.bin' ")]
        );
        let found = local_paths(&format!("{base}b"), true);
        assert_eq!(replacements(&found), [format!("{base}bags/")]);
        assert_eq!(local_paths(&format!("{base}.h"), false).len(), 1);
    }

    #[test]
    fn listings_start_just_below_the_prefix() {
        assert_eq!(start_below(""), None);
        assert_eq!(start_below("pho"), Some(format!("phn{}", char::MAX)));
        let below = start_below("pho").unwrap();
        assert!(below.as_str() < "pho" && below.as_str() > "phn~");
        assert_eq!(start_below("\0"), Some(String::new()));
    }
}

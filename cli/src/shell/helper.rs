//! The shell's rustyline helper: Tab completion ([`super::complete`]), a grey hint of the
//! rest of a line from history, or of the arguments a command takes once its name is typed.
//!
//! Remote completion lists one page of a directory through metad with a short timeout and
//! no retries: a slow or unreachable metad gives no completion rather than a frozen prompt
//! (the command typed next still gets the normal retries and their message).

use super::complete::{self, Slot};
use crate::{help, load_secret, paths, Settings};
use dfs_client::{DfsClient, RetryPolicy, MAX_LIST_PAGE};
use dfs_common::wire::EntryKind;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter, HistoryHinter};
use rustyline::validate::Validator;
use rustyline::Context;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::time::Duration;
use tokio::runtime::Handle;

/// The longest a Tab waits for metad.
pub const COMPLETION_TIMEOUT: Duration = Duration::from_millis(700);

/// Completion and hints for the shell's line editor.
pub struct ShellHelper {
    settings: Settings,
    runtime: Handle,
    /// The client for completion, made on the first remote completion (`None` inside when
    /// there is no secret: then there is no remote completion).
    client: OnceCell<Option<DfsClient>>,
    /// The shell's current directory, updated before each line.
    pub cwd: String,
    history: HistoryHinter,
}

impl ShellHelper {
    /// A helper for the cluster of `settings`, making its calls on `runtime`.
    pub fn new(settings: Settings, runtime: Handle) -> Self {
        ShellHelper {
            settings,
            runtime,
            client: OnceCell::new(),
            cwd: "/".to_owned(),
            history: HistoryHinter::new(),
        }
    }

    fn client(&self) -> Option<&DfsClient> {
        self.client
            .get_or_init(|| {
                let secret = load_secret(self.settings.secret_file.as_deref()).ok()?;
                Some(
                    DfsClient::new(self.settings.metad.clone(), secret)
                        .with_retry_policy(RetryPolicy::none()),
                )
            })
            .as_ref()
    }

    /// Remote paths for the word `typed`: one page of its directory, from the first name
    /// that may match.
    fn remote_paths(&self, typed: &str, dirs_only: bool) -> Vec<Pair> {
        let (dir_part, prefix) = complete::split_path(typed);
        let Ok(dir) = paths::normalize(&self.cwd, if dir_part.is_empty() { "." } else { dir_part })
        else {
            return Vec::new();
        };
        let Some(client) = self.client() else {
            return Vec::new();
        };
        let listing = client.list(&dir, complete::start_below(prefix), MAX_LIST_PAGE);
        let page = match self
            .runtime
            .block_on(async { tokio::time::timeout(COMPLETION_TIMEOUT, listing).await })
        {
            Ok(Ok(page)) => page,
            // Unreachable, refused or too slow: no completion, the prompt goes on.
            _ => return Vec::new(),
        };
        page.entries
            .iter()
            .map(|entry| {
                (
                    entry.name.trim_end_matches('/'),
                    entry.kind == EntryKind::Dir,
                )
            })
            .filter(|(name, _)| name.starts_with(prefix))
            .filter(|(name, _)| prefix.starts_with('.') || !name.starts_with('.'))
            .filter(|(_, is_dir)| *is_dir || !dirs_only)
            .map(|(name, is_dir)| complete::path_candidate(dir_part, name, is_dir))
            .collect()
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let target = complete::target(&line[..pos]);
        let typed = target.word.text.as_str();
        let candidates = match &target.slot {
            Slot::Command => complete::commands(typed),
            Slot::Subcommand(command) => complete::subcommands(command, typed),
            Slot::Flag(path) => complete::flags(path, typed),
            // A word with bare wildcards is a pattern: it is expanded when run, not here.
            Slot::Remote { .. } if crate::glob::has_wildcards(&target.word.pattern) => Vec::new(),
            Slot::Remote { dirs_only } => self.remote_paths(typed, *dirs_only),
            Slot::Local { dirs_only } => complete::local_paths(typed, *dirs_only),
            Slot::Nothing => Vec::new(),
        };
        Ok((target.word.start, candidates))
    }
}

/// A hint: the rest of a line from history (taken with the right arrow), or a reminder of
/// a command's arguments (shown only: there is nothing to take).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellHint {
    /// The rest of an earlier line that starts like this one.
    History(String),
    /// The arguments of the command typed.
    Usage(String),
}

impl Hint for ShellHint {
    fn display(&self) -> &str {
        match self {
            ShellHint::History(text) | ShellHint::Usage(text) => text,
        }
    }

    fn completion(&self) -> Option<&str> {
        match self {
            ShellHint::History(text) => Some(text),
            ShellHint::Usage(_) => None,
        }
    }
}

impl Hinter for ShellHelper {
    type Hint = ShellHint;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<ShellHint> {
        if let Some(rest) = self.history.hint(line, pos, ctx) {
            return Some(ShellHint::History(rest));
        }
        if pos < line.len() {
            return None;
        }
        usage_hint(line).map(ShellHint::Usage)
    }
}

/// The arguments of the command on `line` once its name (and subcommand) and a space are
/// typed and nothing else: `put ` hints `LOCAL [REMOTE]`.
pub fn usage_hint(line: &str) -> Option<String> {
    if !line.ends_with(' ') {
        return None;
    }
    let words = crate::tokenize::tokenize(line).ok()?;
    let usage = help::usage_line(&words)?;
    if usage.contains(" | ") {
        return None;
    }
    let rest: Vec<&str> = usage.split_whitespace().skip(words.len()).collect();
    let typed_all = usage
        .split_whitespace()
        .zip(&words)
        .all(|(usage_word, typed)| usage_word == typed);
    (typed_all && !rest.is_empty()).then(|| rest.join(" "))
}

impl Highlighter for ShellHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        // Grey (bright black), as fish and zsh-autosuggestions show theirs.
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }
}

impl Validator for ShellHelper {}

impl rustyline::Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_hints_follow_the_command_name() {
        assert_eq!(
            usage_hint("put ").as_deref(),
            Some("[--part-size SIZE] LOCAL [REMOTE]")
        );
        assert_eq!(usage_hint("key create ").as_deref(), Some("NAME"));
        assert_eq!(usage_hint("mkdir ").as_deref(), Some("[-p] PATH"));
        assert_eq!(usage_hint("put"), None);
        assert_eq!(usage_hint("put a.txt "), None);
        assert_eq!(
            usage_hint("key "),
            None,
            "several subcommands: Tab lists them"
        );
        assert_eq!(usage_hint("pwd "), None);
    }

    #[test]
    fn no_metad_means_no_remote_completion() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        dfs_common::auth::ClusterSecret::load_or_create(&secret).unwrap();
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let helper = ShellHelper::new(
            Settings {
                metad: format!("127.0.0.1:{port}"),
                secret_file: Some(secret),
            },
            runtime.handle().clone(),
        );
        assert!(helper.remote_paths("/b/", false).is_empty());
    }
}

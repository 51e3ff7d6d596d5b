//! Expanding a remote argument with wildcards against the directories it names, one page of
//! a listing at a time.

use super::{has_wildcards, unescape, Pattern};
use crate::paths;
use crate::CliError;
use dfs_client::{DfsClient, MAX_LIST_PAGE};
use dfs_common::wire::EntryKind;
use dfs_common::ErrorCode;

/// Most paths one argument may expand to: more is refused rather than held in memory and
/// acted upon (a pattern that broad is more likely a mistake than a wish).
pub const MAX_MATCHES: usize = 10_000;

/// The paths remote arguments stand for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// Absolute, normalised paths, in the order given and, within a pattern, in listing
    /// order. A matched directory ends in `/`.
    pub paths: Vec<String>,
    /// Whether a wildcard was expanded (so `rm` asks before acting).
    pub wildcard: bool,
}

/// Expands every argument of `args` (see [`expand`]) into one list.
pub async fn expand_all(
    client: &DfsClient,
    cwd: &str,
    args: &[String],
) -> Result<Expansion, CliError> {
    let mut all = Expansion::default();
    for arg in args {
        let one = expand(client, cwd, arg).await?;
        all.paths.extend(one.paths);
        all.wildcard |= one.wildcard;
    }
    Ok(all)
}

/// The paths `arg` stands for, relative to `cwd`: itself (escapes removed) when it has no
/// wildcard; else every path whose components match, wildcards allowed in any component.
/// A pattern that matches nothing stands for itself when such a path exists (as in POSIX
/// shells, so names with `[` need no escaping), else it is [`CliError::NoMatch`].
pub async fn expand(client: &DfsClient, cwd: &str, arg: &str) -> Result<Expansion, CliError> {
    let pattern = paths::normalize(cwd, arg).map_err(|e| CliError::Usage(e.to_string()))?;
    if !has_wildcards(&pattern) {
        return Ok(Expansion {
            paths: vec![unescape(&pattern)],
            wildcard: false,
        });
    }
    let want_dirs = pattern.ends_with('/');
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut found = vec!["/".to_owned()];
    let mut listed = false;
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        let mut next = Vec::new();
        for dir in &found {
            if has_wildcards(component) {
                matching(client, dir, component, !last || want_dirs, &mut next).await?;
                continue;
            }
            let mut path = paths::join(dir, &unescape(component));
            if !last || want_dirs {
                path.push('/');
            }
            // Below a wildcard, a plain name is kept only where it exists (`/b/*/x.log`
            // names the `x.log` there are); before any, it is what was typed.
            if !listed || exists(client, &path).await? {
                next.push(path);
            }
        }
        listed |= has_wildcards(component);
        found = next;
    }
    if found.is_empty() {
        let literal = unescape(&pattern);
        if client.stat(&literal).await.is_ok() {
            found.push(literal);
        } else {
            return Err(CliError::NoMatch(arg.to_owned()));
        }
    }
    Ok(Expansion {
        paths: found,
        wildcard: true,
    })
}

/// Whether `path` exists (a directory when it ends in `/`).
async fn exists(client: &DfsClient, path: &str) -> Result<bool, CliError> {
    match client.stat(path).await {
        Ok(entry) => Ok(!path.ends_with('/') || entry.kind == EntryKind::Dir),
        Err(err) if matches!(err.code, ErrorCode::NotFound | ErrorCode::NotADirectory) => Ok(false),
        Err(err) => Err(CliError::at(path)(err)),
    }
}

/// Adds to `out` the entries of `dir` (ending in `/`) whose names match `component`, only
/// directories when `dirs_only`; a directory as `dir/name/`. A `dir` that is gone or not a
/// directory adds nothing.
async fn matching(
    client: &DfsClient,
    dir: &str,
    component: &str,
    dirs_only: bool,
    out: &mut Vec<String>,
) -> Result<(), CliError> {
    let pattern = Pattern::new(component);
    // The names that can match all start with the component's literal prefix, and the
    // listing is in name order: the walk stops once it is past them.
    let prefix = unescape(&literal_prefix(component));
    let mut start_after = None;
    loop {
        let page = match client.list(dir, start_after.take(), MAX_LIST_PAGE).await {
            Ok(page) => page,
            Err(err) if matches!(err.code, ErrorCode::NotFound | ErrorCode::NotADirectory) => {
                return Ok(())
            }
            Err(err) => return Err(CliError::at(dir)(err)),
        };
        for entry in &page.entries {
            // Key order is byte order of the key-form names (`d/` for a directory).
            if entry.name.as_str() > prefix.as_str() && !entry.name.starts_with(&prefix) {
                return Ok(());
            }
            let name = entry.name.strip_suffix('/').unwrap_or(&entry.name);
            let is_dir = entry.kind == EntryKind::Dir;
            if (is_dir || !dirs_only) && pattern.matches(name) {
                if out.len() >= MAX_MATCHES {
                    return Err(CliError::Usage(format!(
                        "{}{component} matches more than {MAX_MATCHES} entries: narrow the pattern",
                        paths::dir_form(dir)
                    )));
                }
                let mut path = paths::join(dir, name);
                if is_dir {
                    path.push('/');
                }
                out.push(path);
            }
        }
        match page.entries.last() {
            Some(last) if page.truncated => start_after = Some(last.name.clone()),
            _ => return Ok(()),
        }
    }
}

/// The part of a pattern before its first wildcard, escapes kept.
fn literal_prefix(component: &str) -> String {
    let mut prefix = String::new();
    let mut chars = component.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '[' => break,
            '\\' => {
                prefix.push(c);
                if let Some(next) = chars.next() {
                    prefix.push(next);
                }
            }
            c => prefix.push(c),
        }
    }
    prefix
}

//! Namespace commands: ls, mkdir, rm, mv, stat, show.

use super::{emit, sources_and_target};
use crate::glob;
use crate::output::{
    display_name, escape, format_size, format_table, format_time, long_line, render_tree,
    tree_label, Align, TreeNode,
};
use crate::paths;
use crate::{CliError, Context};
use dfs_client::{DfsClient, MAX_LIST_PAGE};
use dfs_common::checksum::crc_to_hex;
use dfs_common::wire::{Entry, EntryKind};
use dfs_common::{ErrorCode, RpcError};

/// `show` stops after this many entries, so a huge tree cannot flood the terminal.
pub const SHOW_MAX_LINES: usize = 1000;

/// `ls [-l] [PATH...]`: a directory's entries one per line (directories end in `/`), or the
/// file itself; PATH may have wildcards. Several paths: each directory under a `PATH:`
/// heading. Pages through the listing so a huge directory is never held in memory. When a
/// file and a directory share the name (`a` and `a/`), the directory is listed, as metad's
/// `list` does; `stat` shows the file.
pub async fn ls(ctx: &mut Context, args: &[String], long: bool) -> Result<(), CliError> {
    let client = ctx.client()?;
    let here = [".".to_owned()];
    let args = if args.is_empty() { &here[..] } else { args };
    let found = glob::expand_all(&client, &ctx.cwd, args).await?;
    let headings = found.paths.len() > 1;
    for (index, path) in found.paths.iter().enumerate() {
        let heading = if headings {
            let gap = if index > 0 { "\n" } else { "" };
            Some(format!("{gap}{}:\n", escape(path)))
        } else {
            None
        };
        ls_one(&client, path, long, heading).await?;
    }
    Ok(())
}

/// Lists one path for [`ls`]; `heading` goes before a directory's entries.
async fn ls_one(
    client: &DfsClient,
    path: &str,
    long: bool,
    heading: Option<String>,
) -> Result<(), CliError> {
    let line = |entry: &Entry| {
        if long {
            long_line(entry)
        } else {
            display_name(entry)
        }
    };
    let mut start_after = None;
    let mut heading = heading;
    loop {
        let page = match client.list(path, start_after.take(), MAX_LIST_PAGE).await {
            Ok(page) => page,
            Err(err) if err.code == ErrorCode::NotADirectory => {
                let entry = client.stat(path).await.map_err(CliError::at(path))?;
                return emit(&format!("{}\n", line(&entry)));
            }
            Err(err) => return Err(CliError::at(path)(err)),
        };
        let mut text = heading.take().unwrap_or_default();
        for entry in &page.entries {
            text.push_str(&line(entry));
            text.push('\n');
        }
        emit(&text)?;
        match page.entries.last() {
            Some(last) if page.truncated => start_after = Some(last.name.clone()),
            _ => return Ok(()),
        }
    }
}

/// The entry at `path`, preferring the directory when a file and a directory share the name.
pub(crate) async fn stat_prefer_dir(client: &DfsClient, path: &str) -> Result<Entry, RpcError> {
    if path == "/" {
        return client.stat(path).await;
    }
    match client.stat(&paths::dir_form(path)).await {
        Ok(entry) => Ok(entry),
        Err(err) if err.code == ErrorCode::NotFound => client.stat(path).await,
        Err(err) => Err(err),
    }
}

/// `mkdir [-p] PATH`. Without `-p`, a missing parent is named, with the `-p` that makes it.
pub async fn mkdir(ctx: &mut Context, path: &str, parents: bool) -> Result<(), CliError> {
    let client = ctx.client()?;
    let path = ctx.resolve(path)?;
    match client.mkdir(&path, parents).await {
        Ok(_) => Ok(()),
        Err(err) if err.code == ErrorCode::NotFound && !parents => {
            let missing = highest_missing(&client, paths::parent(&path)).await;
            match missing {
                Some(missing) => Err(CliError::Usage(format!(
                    "cannot create {path}: {missing} does not exist (mkdir -p {path} creates it too)"
                ))),
                None => Err(CliError::at(&path)(err)),
            }
        }
        Err(err) => Err(CliError::at(&path)(err)),
    }
}

/// The highest ancestor of `dir` (itself included) that does not exist, if any; `None` also
/// when the cluster cannot tell.
async fn highest_missing(client: &DfsClient, dir: &str) -> Option<String> {
    let mut missing = None;
    let mut dir = dir.to_owned();
    while dir != "/" {
        match stat_prefer_dir(client, &dir).await {
            Err(err) if err.code == ErrorCode::NotFound => missing = Some(dir.clone()),
            Err(_) if missing.is_none() => return None,
            _ => break,
        }
        dir = paths::parent(&dir).to_owned();
    }
    missing
}

/// `rm [-r] [-f] PATH...`: PATH may have wildcards; on a terminal, what a wildcard matched
/// is shown and removed only once the person agrees, unless `-f`. With `-f` a missing PATH
/// (or a pattern matching nothing) is no error. Stops at the first failure.
pub async fn rm(
    ctx: &mut Context,
    args: &[String],
    recursive: bool,
    force: bool,
) -> Result<(), CliError> {
    let client = ctx.client()?;
    let mut targets = Vec::new();
    let mut wildcard = false;
    for arg in args {
        match glob::expand(&client, &ctx.cwd, arg).await {
            Ok(found) => {
                wildcard |= found.wildcard;
                targets.extend(found.paths);
            }
            Err(CliError::NoMatch(_)) if force => {}
            Err(err) => return Err(err),
        }
    }
    if targets.iter().any(|p| p == "/") {
        return Err(CliError::Usage("refusing to remove /".into()));
    }
    if wildcard && ctx.ask && !force && !confirm_removal(&targets)? {
        return Err(CliError::Usage("rm: nothing removed".into()));
    }
    for path in &targets {
        match client.delete(path, recursive).await {
            Ok(()) => {}
            Err(err) if force && err.code == ErrorCode::NotFound => {}
            Err(err) => return Err(CliError::at(path)(err)),
        }
    }
    Ok(())
}

/// Asks on the terminal whether to remove `targets`; true for `y` or `yes`.
fn confirm_removal(targets: &[String]) -> Result<bool, CliError> {
    use std::io::Write;
    const SHOWN: usize = 5;
    let mut names: Vec<String> = targets.iter().take(SHOWN).map(|p| escape(p)).collect();
    if targets.len() > SHOWN {
        names.push(format!("and {} more", targets.len() - SHOWN));
    }
    let noun = if targets.len() == 1 {
        "entry"
    } else {
        "entries"
    };
    eprint!(
        "rm: remove {} {noun} ({})? [y/N] ",
        targets.len(),
        names.join(", ")
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(CliError::io("cannot read the answer"))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `mv SRC... DST`: one atomic rename at metad per source; SRC may have wildcards. DST an
/// existing directory (or ending in `/`) receives each SRC under its own name; several
/// sources need it to be a directory.
pub async fn mv(ctx: &mut Context, args: &[String]) -> Result<(), CliError> {
    let client = ctx.client()?;
    let (sources, dst) = sources_and_target(args)?;
    let found = glob::expand_all(&client, &ctx.cwd, sources).await?;
    let dst = ctx.resolve(&glob::unescape(dst))?;
    if found.paths.len() > 1 {
        require_dir(&client, &dst, "mv", found.paths.len()).await?;
    }
    for src in &found.paths {
        let Some(name) = paths::file_name(src) else {
            return Err(CliError::Usage("cannot move /".into()));
        };
        client.stat(src).await.map_err(CliError::at(src))?;
        let target = target_path(&client, &dst, name).await?;
        client
            .rename(paths::trim_slash(src), &target)
            .await
            .map_err(|err| error_at_target(err, &target))?;
    }
    Ok(())
}

/// Fails unless `dst` is a directory: where `command` puts `count` sources.
pub(crate) async fn require_dir(
    client: &DfsClient,
    dst: &str,
    command: &str,
    count: usize,
) -> Result<(), CliError> {
    match stat_prefer_dir(client, dst).await {
        Ok(entry) if entry.kind == EntryKind::Dir => Ok(()),
        Ok(_) => Err(CliError::Usage(format!(
            "{command}: {dst} must be a directory to receive {count} entries"
        ))),
        Err(err) => Err(CliError::at(dst)(err)),
    }
}

/// Where `SRC` named `name` lands for `mv`, `cp` and `put` given the resolved `dst`: inside
/// it when it ends in `/` or is an existing directory, else `dst` itself.
pub(crate) async fn target_path(
    client: &DfsClient,
    dst: &str,
    name: &str,
) -> Result<String, CliError> {
    if dst.ends_with('/') {
        return Ok(paths::join(dst, name));
    }
    match client.stat(dst).await {
        Ok(entry) if entry.kind == EntryKind::Dir => Ok(paths::join(dst, name)),
        Ok(_) => Ok(dst.to_owned()),
        // The operation itself reports these, with its own wording.
        Err(err) if matches!(err.code, ErrorCode::NotFound | ErrorCode::NotADirectory) => {
            Ok(dst.to_owned())
        }
        Err(err) => Err(CliError::at(dst)(err)),
    }
}

/// An error of an operation whose source was just found: "not found" means the target's
/// parent is missing.
pub(crate) fn error_at_target(err: RpcError, target: &str) -> CliError {
    if err.code == ErrorCode::NotFound {
        CliError::at(paths::parent(target))(err)
    } else {
        CliError::at(target)(err)
    }
}

/// `stat PATH`: the entry, and for a file each chunk with its replicas.
pub async fn stat(ctx: &mut Context, path: &str) -> Result<(), CliError> {
    let client = ctx.client()?;
    let path = ctx.resolve(path)?;
    let resp = client
        .stat_chunks(&path, 0, u64::MAX)
        .await
        .map_err(CliError::at(&path))?;
    let entry = &resp.entry;
    let mut text = format!("path:          {}\n", escape(&path));
    match entry.kind {
        EntryKind::Dir => {
            text.push_str("kind:          directory\n");
            text.push_str(&format!("modified:      {}\n", format_time(entry.mtime_ms)));
            let how = if entry.explicit {
                "yes (made by mkdir or an S3 `x/` object)"
            } else {
                "no (implied by the entries below it)"
            };
            text.push_str(&format!("explicit:      {how}\n"));
        }
        EntryKind::File => {
            text.push_str("kind:          file\n");
            text.push_str(&format!(
                "size:          {} bytes ({})\n",
                entry.size,
                format_size(entry.size)
            ));
            text.push_str(&format!("modified:      {}\n", format_time(entry.mtime_ms)));
            text.push_str(&format!("etag:          {}\n", or_dash(&entry.etag)));
            let content_type = entry.content_type.as_deref().unwrap_or("");
            text.push_str(&format!("content type:  {}\n", or_dash(content_type)));
            for (key, value) in &entry.meta {
                text.push_str(&format!(
                    "meta:          {}: {}\n",
                    escape(key),
                    escape(value)
                ));
            }
            if let Some(checksum) = &entry.checksum {
                text.push_str(&format!(
                    "checksum:      {} {} {}\n",
                    checksum.algorithm.name(),
                    checksum.kind.name(),
                    escape(&checksum.value)
                ));
            }
            text.push_str(&format!("chunks:        {}\n", entry.chunk_count));
            if !resp.chunks.is_empty() {
                text.push_str(&chunk_table(&resp.chunks));
            }
            if let Some(next) = resp.chunks_next {
                text.push_str(&format!(
                    "(the first {} chunks shown: up to byte {next} of {})\n",
                    resp.chunks.len(),
                    entry.size
                ));
            }
        }
    }
    emit(&text)
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        escape(text)
    }
}

/// The chunk list of `stat`: index, id, offset, length, crc and `node@addr (live|dead)`.
fn chunk_table(chunks: &[dfs_common::wire::ChunkInfo]) -> String {
    let rows: Vec<Vec<String>> = chunks
        .iter()
        .enumerate()
        .map(|(index, chunk)| {
            let replicas: Vec<String> = chunk
                .replicas
                .iter()
                .map(|r| {
                    let state = if r.live { "live" } else { "dead" };
                    format!("{}@{} ({state})", r.node, r.addr)
                })
                .collect();
            vec![
                index.to_string(),
                chunk.id.to_string(),
                chunk.offset.to_string(),
                chunk.len.to_string(),
                crc_to_hex(chunk.crc32c),
                replicas.join(", "),
            ]
        })
        .collect();
    format_table(
        &["#", "CHUNK", "OFFSET", "LENGTH", "CRC32C", "REPLICAS"],
        &[
            Align::Right,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Left,
            Align::Left,
        ],
        &rows,
    )
}

/// `show [PATH]`: the tree below PATH.
pub async fn show(ctx: &mut Context, path: Option<&str>) -> Result<(), CliError> {
    let client = ctx.client()?;
    let path = ctx.resolve(path.unwrap_or("."))?;
    emit(&tree_text(&client, &path).await?)
}

/// How many more entries `show` may print.
struct Budget {
    left: usize,
    cut: bool,
}

/// The tree below `path` as text, at most [`SHOW_MAX_LINES`] entries.
pub async fn tree_text(client: &DfsClient, path: &str) -> Result<String, CliError> {
    let entry = stat_prefer_dir(client, path)
        .await
        .map_err(CliError::at(path))?;
    if entry.kind == EntryKind::File {
        return Ok(format!("{}\n", tree_label(&entry)));
    }
    let dir = paths::dir_form(path);
    let mut root = TreeNode::leaf(escape(&dir));
    let mut budget = Budget {
        left: SHOW_MAX_LINES,
        cut: false,
    };
    fill(client, &dir, &mut root, &mut budget)
        .await
        .map_err(CliError::at(path))?;
    let mut text = render_tree(&root);
    if budget.cut {
        text.push_str(&format!("(stopped after {SHOW_MAX_LINES} entries)\n"));
    }
    Ok(text)
}

/// Lists `dir` into `node`, depth first, until the budget runs out.
async fn fill(
    client: &DfsClient,
    dir: &str,
    node: &mut TreeNode,
    budget: &mut Budget,
) -> Result<(), RpcError> {
    let mut start_after = None;
    loop {
        if budget.left == 0 {
            // Only say "more" when there is more.
            let probe = client.list(dir, start_after, 1).await?;
            if !probe.entries.is_empty() {
                node.more = true;
                budget.cut = true;
            }
            return Ok(());
        }
        let limit = u32::try_from(budget.left.min(MAX_LIST_PAGE as usize)).unwrap_or(1);
        let page = client.list(dir, start_after.take(), limit).await?;
        let last = page.entries.last().map(|e| e.name.clone());
        for entry in page.entries {
            if budget.left == 0 {
                node.more = true;
                budget.cut = true;
                return Ok(());
            }
            budget.left -= 1;
            let mut child = TreeNode::leaf(tree_label(&entry));
            if entry.kind == EntryKind::Dir {
                let child_dir = paths::dir_form(&paths::join(dir, &entry.name));
                // A directory removed while we walk should not hide the rest of the tree.
                if let Err(err) = Box::pin(fill(client, &child_dir, &mut child, budget)).await {
                    let note = format!("(cannot list: {})", escape(&err.message));
                    child.children.push(TreeNode::leaf(note));
                }
            }
            node.children.push(child);
        }
        match last {
            Some(name) if page.truncated => start_after = Some(name),
            _ => return Ok(()),
        }
    }
}

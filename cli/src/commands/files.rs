//! Data commands: put, get, cp.

use super::{interrupted, ns, parts, sources_and_target};
use crate::glob;
use crate::output::format_size;
use crate::paths;
use crate::{CliError, Context};
use bytes::BytesMut;
use dfs_client::{CreateOptions, FileWriter, FinishOptions};
use dfs_common::wire::{Entry, EntryKind};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest read from a local file: a whole chunk when chunks are this size or smaller, so the
/// writer can slice it into chunks without copying.
const MAX_READ: u64 = 16 << 20;

/// A progress bar on standard error when it is a terminal, else a hidden one.
fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{bytes:>10} / {total_bytes:<10} [{bar:30}] {bytes_per_sec:>12}  eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `put [--part-size SIZE] LOCAL [REMOTE]`: uploads a local file, computing its ETag on the
/// way. Without REMOTE it goes into the current directory under its own name, as in ftp and
/// sftp. A file larger than one write session holds, or any file with a part size, goes up
/// as a multipart upload (`parts`).
pub async fn put(
    ctx: &mut Context,
    local: &Path,
    remote: Option<&str>,
    part_size: Option<u64>,
) -> Result<(), CliError> {
    if remote.is_none() && ctx.cwd == "/" {
        // Files live in buckets: the root takes none (and a one-shot command is always at /).
        return Err(CliError::Usage(format!(
            "put: name where to put it (the current directory is /, which holds only buckets), e.g. put {} /BUCKET/",
            local.display()
        )));
    }
    let client = ctx.client()?;
    let here = paths::dir_form(&ctx.cwd);
    let remote = remote.unwrap_or(&here);
    let shown = local.display().to_string();
    let meta = tokio::fs::metadata(local)
        .await
        .map_err(CliError::io(format!("cannot read {shown}")))?;
    if meta.is_dir() {
        return Err(CliError::Usage(format!(
            "{shown} is a directory (put uploads one file)"
        )));
    }
    let name = local.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        CliError::Usage(format!("{shown} has no file name usable in dfs (UTF-8)"))
    })?;
    let target = ns::target_path(&client, &ctx.resolve(remote)?, name).await?;
    let mut file = tokio::fs::File::open(local)
        .await
        .map_err(CliError::io(format!("cannot open {shown}")))?;
    let writer = client
        .create(&target, CreateOptions::default())
        .await
        .map_err(|err| ns::error_at_target(err, &target))?;
    let content_type = guess_content_type(name).map(str::to_owned);
    let bar = progress_bar(ctx.progress, meta.len());
    // The cluster's chunk size comes with a write session: a file that goes up in parts gives
    // this one back unused.
    let written = match parts::plan(meta.len(), writer.chunk_size(), part_size) {
        Ok(None) => put_whole(writer, &mut file, content_type, &bar, &shown).await,
        Ok(Some(part_size)) => {
            writer.abort().await;
            parts::put(
                &client,
                &mut file,
                &target,
                part_size,
                content_type,
                &bar,
                &shown,
            )
            .await
        }
        Err(message) => {
            writer.abort().await;
            Err(CliError::Usage(format!("cannot put {shown}: {message}")))
        }
    };
    let entry = match written {
        Ok(entry) => entry,
        Err(err) => {
            bar.abandon();
            return Err(err);
        }
    };
    bar.finish_and_clear();
    if ctx.progress {
        eprintln!(
            "{target}: {} written, ETag {}",
            format_size(entry.size),
            entry.etag
        );
    }
    Ok(())
}

/// Writes the file in one write session and commits it.
async fn put_whole(
    mut writer: FileWriter,
    file: &mut tokio::fs::File,
    content_type: Option<String>,
    bar: &ProgressBar,
    shown: &str,
) -> Result<Entry, CliError> {
    // Ctrl-C aborts the write session here, before the process goes away.
    let pumped = tokio::select! {
        result = pump(file, &mut writer, bar, shown, u64::MAX) => result,
        () = interrupted() => Err(CliError::Interrupted),
    };
    if let Err(err) = pumped {
        writer.abort().await;
        return Err(err);
    }
    let target = writer.path().to_owned();
    let opts = FinishOptions {
        content_type,
        ..FinishOptions::default()
    };
    writer
        .finish(opts)
        .await
        .map_err(|err| ns::error_at_target(err, &target))
}

/// Copies up to `limit` bytes of the file (to its end, if sooner) into the writer in
/// chunk-sized reads; returns how many it copied.
pub(super) async fn pump(
    file: &mut tokio::fs::File,
    writer: &mut FileWriter,
    bar: &ProgressBar,
    shown: &str,
    limit: u64,
) -> Result<u64, CliError> {
    let block = writer.chunk_size().clamp(1, MAX_READ) as usize;
    let mut source = file.take(limit);
    let mut copied = 0;
    loop {
        let mut buf = BytesMut::with_capacity(block);
        while buf.len() < block {
            let n = source
                .read_buf(&mut buf)
                .await
                .map_err(CliError::io(format!("cannot read {shown}")))?;
            if n == 0 {
                break;
            }
        }
        let len = buf.len();
        if len > 0 {
            writer
                .write(buf.freeze())
                .await
                .map_err(|err| CliError::at(writer.path())(err))?;
            bar.inc(len as u64);
            copied += len as u64;
        }
        if len < block {
            return Ok(copied);
        }
    }
}

/// A content type for common file name extensions, so S3 clients get a sensible one for
/// files put by the CLI.
fn guess_content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => return None,
    })
}

/// `get REMOTE... [LOCAL]`: downloads files; REMOTE may have wildcards. Without LOCAL they go
/// into the current local directory under their own names, as in ftp and sftp; several
/// files need LOCAL to be a directory (or `-`, standard output, where they follow each other).
pub async fn get(ctx: &mut Context, args: &[String]) -> Result<(), CliError> {
    let client = ctx.client()?;
    let (sources, local) = match args {
        [remote] => (std::slice::from_ref(remote), "."),
        _ => sources_and_target(args)?,
    };
    let found = glob::expand_all(&client, &ctx.cwd, sources).await?;
    let remotes = files_only(found, "get")?;
    if remotes.len() > 1 && local != "-" && !Path::new(local).is_dir() {
        return Err(CliError::Usage(format!(
            "get: {local} must be a directory (or -) to receive {} files",
            remotes.len()
        )));
    }
    for remote in &remotes {
        get_one(ctx, &client, remote, local).await?;
    }
    Ok(())
}

/// The paths of an expansion without the directories a wildcard matched, each named on
/// standard error (`get` and `cp` copy files, as `cp` without `-r` does).
fn files_only(found: glob::Expansion, command: &str) -> Result<Vec<String>, CliError> {
    if !found.wildcard {
        return Ok(found.paths);
    }
    let (dirs, files): (Vec<String>, Vec<String>) =
        found.paths.into_iter().partition(|p| p.ends_with('/'));
    for dir in &dirs {
        eprintln!("{command}: skipping directory {dir}");
    }
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "{command}: the pattern matched only directories"
        )));
    }
    Ok(files)
}

/// Downloads one file (see [`get`]).
async fn get_one(
    ctx: &Context,
    client: &dfs_client::DfsClient,
    remote: &str,
    local: &str,
) -> Result<(), CliError> {
    let reader = client.open(remote).await.map_err(CliError::at(remote))?;
    let size = reader.entry().size;
    let bar = progress_bar(ctx.progress, size);
    let mut stream = Box::pin(reader.stream(0, size));
    if local == "-" {
        let mut out = tokio::io::stdout();
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(CliError::at(remote))?;
            out.write_all(&piece)
                .await
                .map_err(CliError::io("cannot write to standard output"))?;
            bar.inc(piece.len() as u64);
        }
        out.flush()
            .await
            .map_err(CliError::io("cannot write to standard output"))?;
        bar.finish_and_clear();
        return Ok(());
    }
    let mut target = PathBuf::from(local);
    if target.is_dir() {
        let name = paths::file_name(remote)
            .ok_or_else(|| CliError::Usage(format!("{remote} has no file name")))?;
        // `name`, not `./name`, in what is shown.
        target = if local == "." {
            PathBuf::from(name)
        } else {
            target.join(name)
        };
    }
    let shown = target.display().to_string();
    let partial = PartialFile::create(&target).await?;
    let mut file = tokio::fs::File::from_std(partial.file()?);
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(CliError::at(remote))?;
        file.write_all(&piece)
            .await
            .map_err(CliError::io(format!("cannot write {shown}")))?;
        bar.inc(piece.len() as u64);
    }
    file.flush()
        .await
        .map_err(CliError::io(format!("cannot write {shown}")))?;
    file.sync_all()
        .await
        .map_err(CliError::io(format!("cannot write {shown}")))?;
    drop(file);
    partial.persist(&target).await?;
    bar.finish_and_clear();
    if ctx.progress {
        eprintln!("{shown}: {} read", format_size(size));
    }
    Ok(())
}

/// A temporary file in the target's folder, removed on drop unless renamed into place.
struct PartialFile {
    path: Option<PathBuf>,
    file: Option<std::fs::File>,
}

impl PartialFile {
    async fn create(target: &Path) -> Result<PartialFile, CliError> {
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "download".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(".{name}.{}-{nanos}.dfs-part", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(CliError::io(format!("cannot create {}", path.display())))?;
        Ok(PartialFile {
            path: Some(path),
            file: Some(file),
        })
    }

    fn file(&self) -> Result<std::fs::File, CliError> {
        match &self.file {
            Some(file) => file
                .try_clone()
                .map_err(CliError::io("cannot reopen the temporary file")),
            None => Err(CliError::Usage("temporary file already used".into())),
        }
    }

    async fn persist(mut self, target: &Path) -> Result<(), CliError> {
        self.file = None;
        let Some(path) = self.path.take() else {
            return Ok(());
        };
        match tokio::fs::rename(&path, target).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.path = Some(path);
                Err(CliError::io(format!(
                    "cannot move the download to {}",
                    target.display()
                ))(e))
            }
        }
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `cp SRC... DST`: copies at metad that share the sources' chunks; SRC may have wildcards,
/// and several sources need DST to be a directory.
pub async fn cp(ctx: &mut Context, args: &[String]) -> Result<(), CliError> {
    let client = ctx.client()?;
    let (sources, dst) = sources_and_target(args)?;
    let found = glob::expand_all(&client, &ctx.cwd, sources).await?;
    let sources = files_only(found, "cp")?;
    let dst = ctx.resolve(&glob::unescape(dst))?;
    if sources.len() > 1 {
        ns::require_dir(&client, &dst, "cp", sources.len()).await?;
    }
    for src in &sources {
        cp_one(&client, src, &dst).await?;
    }
    Ok(())
}

/// Copies one file (see [`cp`]).
async fn cp_one(client: &dfs_client::DfsClient, src: &str, dst: &str) -> Result<(), CliError> {
    let entry = client.stat(src).await.map_err(CliError::at(src))?;
    if entry.kind == EntryKind::Dir {
        return Err(CliError::Usage(format!(
            "{src} is a directory (cp copies files)"
        )));
    }
    let Some(name) = paths::file_name(src) else {
        return Err(CliError::Usage("cannot copy /".into()));
    };
    let target = ns::target_path(client, dst, name).await?;
    client
        .copy(src, &target)
        .await
        .map(|_| ())
        .map_err(|err| ns::error_at_target(err, &target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(guess_content_type("a.JPG"), Some("image/jpeg"));
        assert_eq!(guess_content_type("notes.txt"), Some("text/plain"));
        assert_eq!(guess_content_type("noext"), None);
        assert_eq!(guess_content_type("x.unknown"), None);
    }

    #[tokio::test]
    async fn partial_files_vanish_unless_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let partial = PartialFile::create(&target).await.unwrap();
        drop(partial);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let partial = PartialFile::create(&target).await.unwrap();
        {
            use std::io::Write;
            partial.file().unwrap().write_all(b"data").unwrap();
        }
        partial.persist(&target).await.unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"data");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

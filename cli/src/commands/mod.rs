//! The commands, one file per family: `files` (put, get, cp), `parts` (put as a multipart
//! upload), `ns` (ls, mkdir, rm, mv, stat, show), `space` (du, df), `fsck`, `admin` (status), `keys`
//! (S3 access keys and bucket grants), `uploads` (open multipart uploads). The one-shot command line and the shell both come
//! through [`run`], so wildcards and defaults behave the same in both.

pub mod admin;
pub mod files;
pub mod fsck;
pub mod keys;
pub mod ns;
mod parts;
pub mod space;
pub mod uploads;
mod walk;

use crate::args::Command;
use crate::{CliError, Context};
use std::future::Future;
use std::io::Write;

/// Runs one command. Ctrl-C stops it with [`CliError::Interrupted`].
pub async fn run(ctx: &mut Context, command: Command) -> Result<(), CliError> {
    match command {
        // `put` watches Ctrl-C itself, so that it can abort its write session before it returns.
        Command::Put {
            local,
            remote,
            part_size,
        } => files::put(ctx, &local, remote.as_deref(), part_size).await,
        Command::Get { paths } => interruptible(files::get(ctx, &paths)).await,
        Command::Cp { paths } => interruptible(files::cp(ctx, &paths)).await,
        Command::Ls { long, paths } => interruptible(ns::ls(ctx, &paths, long)).await,
        Command::Mkdir { parents, path } => interruptible(ns::mkdir(ctx, &path, parents)).await,
        Command::Rm {
            recursive,
            force,
            paths,
        } => interruptible(ns::rm(ctx, &paths, recursive, force)).await,
        Command::Mv { paths } => interruptible(ns::mv(ctx, &paths)).await,
        Command::Stat { path } => interruptible(ns::stat(ctx, &path)).await,
        Command::Show { path } => interruptible(ns::show(ctx, path.as_deref())).await,
        Command::Status => interruptible(admin::status(ctx)).await,
        Command::Du { human, path, .. } => {
            interruptible(space::du(ctx, path.as_deref(), human)).await
        }
        Command::Df => interruptible(space::df(ctx)).await,
        Command::Fsck { path } => interruptible(fsck::fsck(ctx, path.as_deref())).await,
        Command::Key(command) => interruptible(keys::key(ctx, command)).await,
        Command::Bucket(command) => interruptible(keys::bucket(ctx, command)).await,
        Command::Uploads(command) => interruptible(uploads::uploads(ctx, command)).await,
        Command::Metad(command) => interruptible(admin::metad(ctx, command)).await,
        Command::Shell | Command::Dev(_) => Err(CliError::Usage(format!(
            "`{}` cannot run inside the shell",
            command.name()
        ))),
    }
}

/// Runs `work` until it ends or Ctrl-C is pressed.
async fn interruptible(work: impl Future<Output = Result<(), CliError>>) -> Result<(), CliError> {
    tokio::select! {
        result = work => result,
        () = interrupted() => Err(CliError::Interrupted),
    }
}

/// Completes when Ctrl-C is pressed (never, if the signal cannot be watched).
pub async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Splits `SRC... DST`: the sources and the destination (at least two words, as clap
/// checked).
pub(crate) fn sources_and_target(paths: &[String]) -> Result<(&[String], &str), CliError> {
    match paths.split_last() {
        Some((dst, sources)) if !sources.is_empty() => Ok((sources, dst)),
        _ => Err(CliError::Usage(
            "a source and a destination are needed".into(),
        )),
    }
}

/// Writes `text` to standard output. A closed pipe is an error the caller stops on (and
/// [`crate::report`] keeps quiet about), never a panic as with `print!`.
pub fn emit(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::io("cannot write to standard output"))
}

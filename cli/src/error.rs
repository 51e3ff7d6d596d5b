//! The CLI's errors, each shown to a person as one line.

use dfs_common::{ErrorCode, ErrorDetail, RpcError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A cluster call failed on `path` (the path the person named, normalised).
    #[error("{}", describe(.err, .path.as_deref()))]
    Rpc {
        /// The error from metad or a chunkd.
        err: RpcError,
        /// The path the command was about, when there is one.
        path: Option<String>,
    },
    /// A named thing that is not a path (an access key, a bucket) does not exist.
    #[error("no such {what}: {name}")]
    NoSuch {
        /// What kind of thing: `access key`, `bucket`.
        what: &'static str,
        /// Its name or id, as given.
        name: String,
    },
    /// A wildcard pattern matched nothing (and no path has its literal name).
    #[error("nothing matches {0}")]
    NoMatch(String),
    /// The command line does not make sense.
    #[error("{0}")]
    Usage(String),
    /// A local file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No usable cluster address or secret.
    #[error("{0}")]
    Config(String),
    /// The dev cluster could not start or stop.
    #[error("{0}")]
    Dev(String),
    /// A check found damaged data (`fsck`): what it found is printed, this says how much.
    #[error("{0}")]
    Damaged(String),
    /// Ctrl-C stopped the command.
    #[error("interrupted")]
    Interrupted,
}

impl CliError {
    /// An error about `path`.
    pub fn at(path: &str) -> impl FnOnce(RpcError) -> CliError + '_ {
        move |err| CliError::Rpc {
            err,
            path: Some(path.to_owned()),
        }
    }

    /// A local I/O error while doing `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }

    /// Whether this is standard output going away (`dfs ls | head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The line to print: the message on one line.
    pub fn line(&self) -> String {
        self.to_string()
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl From<RpcError> for CliError {
    fn from(err: RpcError) -> Self {
        CliError::Rpc { err, path: None }
    }
}

/// The line for an RPC error: what went wrong by meaning, and the path it concerns.
fn describe(err: &RpcError, path: Option<&str>) -> String {
    let subject = path.unwrap_or(&err.message);
    // metad's own sentence names the bucket or upload that is missing, which says more than
    // "no such file or directory"; lost data and a full cluster are explained by theirs.
    if matches!(
        err.detail,
        ErrorDetail::NoSuchBucket
            | ErrorDetail::NoSuchUpload
            | ErrorDetail::NoSuchAccessKey
            | ErrorDetail::DataLost
            | ErrorDetail::StorageFull
    ) {
        return err.message.clone();
    }
    match err.code {
        ErrorCode::NotFound => format!("no such file or directory: {subject}"),
        ErrorCode::NotADirectory => format!("not a directory: {subject}"),
        ErrorCode::IsADirectory => format!("is a directory: {subject}"),
        ErrorCode::AlreadyExists => format!("already exists: {subject}"),
        ErrorCode::NotEmpty => format!("directory not empty: {subject} (use rm -r)"),
        ErrorCode::NotEnoughNodes => format!("not enough live chunkds: {}", err.message),
        ErrorCode::Unauthorized => format!(
            "the cluster refused the request: {} (is the secret file this cluster's?)",
            err.message
        ),
        ErrorCode::InvalidArgument => match path {
            Some(path) if !err.message.contains(path) => format!("{path}: {}", err.message),
            _ => err.message.clone(),
        },
        _ => err.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(code: ErrorCode, message: &str, path: Option<&str>) -> String {
        CliError::Rpc {
            err: RpcError::new(code, message),
            path: path.map(str::to_owned),
        }
        .line()
    }

    #[test]
    fn codes_map_to_clear_lines() {
        assert_eq!(
            line(ErrorCode::NotFound, "x", Some("/b/x")),
            "no such file or directory: /b/x"
        );
        assert_eq!(
            line(ErrorCode::NotADirectory, "x", Some("/b/f/x")),
            "not a directory: /b/f/x"
        );
        assert_eq!(
            line(ErrorCode::AlreadyExists, "x", Some("/b")),
            "already exists: /b"
        );
        assert_eq!(
            line(ErrorCode::NotEmpty, "x", Some("/b/d")),
            "directory not empty: /b/d (use rm -r)"
        );
        assert_eq!(
            line(ErrorCode::NotEnoughNodes, "1 live, 2 needed", Some("/b/x")),
            "not enough live chunkds: 1 live, 2 needed"
        );
        assert_eq!(
            line(
                ErrorCode::Unavailable,
                "cannot reach metad at 127.0.0.1:7700: connection refused",
                None
            ),
            "cannot reach metad at 127.0.0.1:7700: connection refused"
        );
    }

    #[test]
    fn a_full_cluster_is_not_called_short_of_chunkds() {
        let full = RpcError::detailed(
            ErrorDetail::StorageFull,
            "the cluster is full: need 2 live chunkds, 3 alive, 3 of them full",
        );
        let line = CliError::from(full).line();
        assert_eq!(
            line,
            "the cluster is full: need 2 live chunkds, 3 alive, 3 of them full"
        );
    }

    #[test]
    fn missing_keys_and_buckets_are_named() {
        let err = CliError::NoSuch {
            what: "access key",
            name: "DFSX".into(),
        };
        assert_eq!(err.line(), "no such access key: DFSX");
    }

    #[test]
    fn lines_are_single() {
        let err = CliError::Usage("first\nsecond\r\n".into());
        assert_eq!(err.line(), "first second");
    }
}

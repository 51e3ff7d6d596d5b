//! The error every internal RPC answers with: a code that says what went wrong by meaning, so
//! that the CLI can print a clear line and the gateway can pick the right S3 error.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, by meaning. Each code has one HTTP status on the internal wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The path, chunk, session or node does not exist.
    NotFound,
    /// The target of a create or rename already exists.
    AlreadyExists,
    /// A path component that must be a directory is a file.
    NotADirectory,
    /// The operation needs a file and the path is a directory.
    IsADirectory,
    /// A directory still has entries and the operation was not recursive.
    NotEmpty,
    /// A malformed path, name or argument.
    InvalidArgument,
    /// Fewer live chunkds than the replication factor, or no space on enough of them.
    NotEnoughNodes,
    /// Missing, stale or wrong cluster signature.
    Unauthorized,
    /// A checksum did not match the data.
    ChecksumMismatch,
    /// A stored copy failed its checksum; it was quarantined.
    Corrupt,
    /// A precondition of a conditional operation did not hold.
    PreconditionFailed,
    /// A concurrent change won the race.
    Conflict,
    /// The service cannot answer now (overloaded, shutting down, timed out); retrying may work.
    Unavailable,
    /// A bug or an unexpected local failure (I/O, database). Logged with its cause.
    Internal,
}

impl ErrorCode {
    /// The HTTP status used on the internal wire.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists | ErrorCode::NotEmpty | ErrorCode::Conflict => 409,
            ErrorCode::NotADirectory | ErrorCode::IsADirectory | ErrorCode::InvalidArgument => 400,
            ErrorCode::ChecksumMismatch => 422,
            ErrorCode::Unauthorized => 401,
            ErrorCode::PreconditionFailed => 412,
            ErrorCode::NotEnoughNodes | ErrorCode::Unavailable => 503,
            ErrorCode::Corrupt | ErrorCode::Internal => 500,
        }
    }

    /// Whether a client may retry the same request on another replica or later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Unavailable
                | ErrorCode::Internal
                | ErrorCode::Corrupt
                | ErrorCode::ChecksumMismatch
        )
    }
}

/// An error as it crosses the wire: a code and a human sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RpcError {
    /// What went wrong, by meaning.
    pub code: ErrorCode,
    /// A sentence for a human, naming the path or id involved.
    pub message: String,
}

impl RpcError {
    /// Builds an error from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// `NotFound` with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `InvalidArgument` with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// `Internal` with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// `Unavailable` with a message.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

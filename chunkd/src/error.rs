//! Errors of the local chunk store.

use crate::format::MAX_CHUNK_LEN;
use dfs_common::{ChunkId, ErrorCode, RpcError};
use std::io;
use std::path::Path;

/// What can go wrong with the local chunk store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The chunk is not held here.
    #[error("chunk {0} is not stored on this node")]
    NotFound(ChunkId),
    /// The stored copy failed a check; it must be quarantined.
    #[error("chunk {id} is corrupt: {reason}")]
    Corrupt {
        /// The chunk.
        id: ChunkId,
        /// What failed.
        reason: String,
    },
    /// The data received does not have the CRC the writer announced.
    #[error("chunk {id}: received data has CRC32C {actual}, the request announced {expected}")]
    ChecksumMismatch {
        /// The chunk.
        id: ChunkId,
        /// CRC announced in `x-dfs-content` (hex).
        expected: String,
        /// CRC of the bytes received (hex).
        actual: String,
    },
    /// The request body was cut short or longer than its announced length.
    #[error("chunk {id}: request body does not match its announced length ({expected} bytes announced, {got} received)")]
    LengthMismatch {
        /// The chunk.
        id: ChunkId,
        /// Announced length.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// A chunk with this id is already stored with other content (chunks are immutable).
    #[error("chunk {0} is already stored with different content")]
    Conflict(ChunkId),
    /// The announced length exceeds what a chunk may hold.
    #[error("chunk {id}: {len} bytes is more than the maximum chunk size {MAX_CHUNK_LEN}")]
    TooLarge {
        /// The chunk.
        id: ChunkId,
        /// Announced length.
        len: u64,
    },
    /// A local I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The cause.
        source: io::Error,
    },
    /// The data folder is not usable (missing marker, unknown version, bad node_id file).
    #[error("{0}")]
    Layout(String),
}

impl StoreError {
    /// Whether the disk is full (ENOSPC).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io { source, .. }
            if source.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()))
    }

    /// The error as it goes on the wire.
    pub fn to_rpc(&self) -> RpcError {
        let code = match self {
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::Corrupt { .. } => ErrorCode::Corrupt,
            StoreError::ChecksumMismatch { .. } => ErrorCode::ChecksumMismatch,
            StoreError::LengthMismatch { .. } | StoreError::TooLarge { .. } => {
                ErrorCode::InvalidArgument
            }
            StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::Io { .. } if self.is_disk_full() => {
                // A full disk is this node's condition, not a bug: the writer picks another node.
                ErrorCode::Unavailable
            }
            StoreError::Io { .. } | StoreError::Layout(_) => ErrorCode::Internal,
        };
        RpcError::new(code, self.to_string())
    }
}

/// Builds an [`StoreError::Io`] naming the path.
pub(crate) fn io_err(what: &str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let context = format!("cannot {what} {}", path.display());
    move |source| StoreError::Io { context, source }
}

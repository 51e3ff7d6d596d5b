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
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::NotADirectory,
        ErrorCode::IsADirectory,
        ErrorCode::NotEmpty,
        ErrorCode::InvalidArgument,
        ErrorCode::NotEnoughNodes,
        ErrorCode::Unauthorized,
        ErrorCode::ChecksumMismatch,
        ErrorCode::Corrupt,
        ErrorCode::PreconditionFailed,
        ErrorCode::Conflict,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

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

/// The specific condition behind an error, beyond its [`ErrorCode`]: set by the daemon that
/// found it, so that callers decide by type, never by parsing a message. Each detail implies
/// one code ([`ErrorDetail::code`]); `None` says nothing finer than the code.
///
/// The S3-specific details are conditions of metad's own state (buckets, multipart uploads)
/// that the gateway must report under their own S3 code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorDetail {
    /// Nothing finer than the code.
    #[default]
    None,
    /// The request could not be delivered: the daemon refused or never accepted the
    /// connection. Nothing was done, so any request may be sent again.
    Unreachable,
    /// The request was sent but no answer came (timeout, connection reset): it may or may not
    /// have been done.
    NoAnswer,
    /// The bucket named by the request does not exist.
    NoSuchBucket,
    /// The multipart upload does not exist (unknown, aborted, completed, expired, or of
    /// another object).
    NoSuchUpload,
    /// The access key does not exist.
    NoSuchAccessKey,
    /// The write session does not exist (never opened, aborted, reaped, or already
    /// committed).
    NoSuchSession,
    /// A completion names a part that does not exist or has another ETag.
    InvalidPart,
    /// A completion lists its parts out of ascending order.
    InvalidPartOrder,
    /// A completion lists no part at all.
    NoPartsListed,
    /// A part other than the last is smaller than the minimum part size.
    EntityTooSmall,
    /// A part is larger than the maximum part size.
    EntityTooLarge,
    /// A part number outside the allowed range.
    InvalidPartNumber,
    /// A byte range that does not lie inside its source.
    InvalidRange,
    /// A request the target's state does not allow (a part copy too large, a completion
    /// checksum for an upload without a checksum algorithm).
    InvalidRequest,
    /// The metad that answered is not the leader of its group: nothing was done. The error's
    /// `leader_hint` names the leader when the member knows it; otherwise an election is under
    /// way and another member (or a later attempt) will answer.
    NotLeader,
    /// The metad leader cannot reach a quorum of its group: nothing was done, and nothing can
    /// be until enough members are back. The message names the members it cannot reach.
    NoQuorum,
    /// Part of a file has no readable copy left: every replica is on a dead chunkd or was
    /// found missing or corrupt. Sending the request again does not help; the data comes back
    /// only if a chunkd that held it returns.
    DataLost,
    /// Too few live chunkds have room for new data: the cluster is full until space is freed
    /// or a chunkd is added. Sending the request again does not help.
    StorageFull,
}

impl ErrorDetail {
    /// Every detail, for tables and tests.
    pub const ALL: [ErrorDetail; 19] = [
        ErrorDetail::None,
        ErrorDetail::Unreachable,
        ErrorDetail::NoAnswer,
        ErrorDetail::NoSuchBucket,
        ErrorDetail::NoSuchUpload,
        ErrorDetail::NoSuchAccessKey,
        ErrorDetail::NoSuchSession,
        ErrorDetail::InvalidPart,
        ErrorDetail::InvalidPartOrder,
        ErrorDetail::NoPartsListed,
        ErrorDetail::EntityTooSmall,
        ErrorDetail::EntityTooLarge,
        ErrorDetail::InvalidPartNumber,
        ErrorDetail::InvalidRange,
        ErrorDetail::InvalidRequest,
        ErrorDetail::NotLeader,
        ErrorDetail::NoQuorum,
        ErrorDetail::DataLost,
        ErrorDetail::StorageFull,
    ];

    /// The code an error with this detail has (`None` has none of its own).
    pub fn code(self) -> Option<ErrorCode> {
        match self {
            ErrorDetail::None => None,
            ErrorDetail::Unreachable
            | ErrorDetail::NoAnswer
            | ErrorDetail::NotLeader
            | ErrorDetail::NoQuorum => Some(ErrorCode::Unavailable),
            ErrorDetail::NoSuchBucket
            | ErrorDetail::NoSuchUpload
            | ErrorDetail::NoSuchAccessKey
            | ErrorDetail::NoSuchSession => Some(ErrorCode::NotFound),
            ErrorDetail::InvalidPart
            | ErrorDetail::InvalidPartOrder
            | ErrorDetail::NoPartsListed
            | ErrorDetail::EntityTooSmall
            | ErrorDetail::EntityTooLarge
            | ErrorDetail::InvalidPartNumber
            | ErrorDetail::InvalidRange
            | ErrorDetail::InvalidRequest => Some(ErrorCode::InvalidArgument),
            ErrorDetail::DataLost => Some(ErrorCode::Internal),
            ErrorDetail::StorageFull => Some(ErrorCode::NotEnoughNodes),
        }
    }
}

/// An error as it crosses the wire: a code, an optional finer detail, and a human sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RpcError {
    /// What went wrong, by meaning.
    pub code: ErrorCode,
    /// The specific condition, when the daemon knows one. Absent on the wire from older
    /// senders, which means `None`; so does a detail this build does not know (from a newer
    /// sender), so that the error still decodes with its code and message.
    #[serde(default, deserialize_with = "known_detail_or_none")]
    pub detail: ErrorDetail,
    /// A sentence for a human, naming the path or id involved. Never parsed.
    pub message: String,
    /// With [`ErrorDetail::NotLeader`]: the `host:port` of the leader, when the member that
    /// answered knows it. Clients send the request there next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_hint: Option<String>,
}

/// Decodes a detail, taking one this build does not know for `None`.
fn known_detail_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ErrorDetail, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Detail {
        Known(ErrorDetail),
        Unknown(serde::de::IgnoredAny),
    }
    Ok(match Detail::deserialize(d)? {
        Detail::Known(detail) => detail,
        Detail::Unknown(_) => ErrorDetail::None,
    })
}

impl RpcError {
    /// Builds an error from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RpcError {
            code,
            detail: ErrorDetail::None,
            message: message.into(),
            leader_hint: None,
        }
    }

    /// Builds an error with a detail; its code is the one the detail implies.
    pub fn detailed(detail: ErrorDetail, message: impl Into<String>) -> Self {
        RpcError {
            code: detail.code().unwrap_or(ErrorCode::Internal),
            detail,
            message: message.into(),
            leader_hint: None,
        }
    }

    /// [`ErrorDetail::NotLeader`], naming the leader when it is known.
    pub fn not_leader(leader: Option<String>, message: impl Into<String>) -> Self {
        RpcError {
            leader_hint: leader,
            ..Self::detailed(ErrorDetail::NotLeader, message)
        }
    }

    /// Whether the error has this detail.
    pub fn is(&self, detail: ErrorDetail) -> bool {
        self.detail == detail
    }

    /// `NotFound` with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `NotFound` for a missing bucket.
    pub fn no_such_bucket(message: impl Into<String>) -> Self {
        Self::detailed(ErrorDetail::NoSuchBucket, message)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_imply_their_code() {
        for detail in ErrorDetail::ALL {
            let err = RpcError::detailed(detail, "x");
            match detail.code() {
                Some(code) => assert_eq!(err.code, code, "{detail:?}"),
                None => assert_eq!(err.code, ErrorCode::Internal),
            }
        }
    }

    #[test]
    fn errors_without_a_detail_still_decode() {
        let old = r#"{"code":"NotFound","message":"no such file or directory: /b/x"}"#;
        let err: RpcError = serde_json::from_str(old).unwrap();
        assert_eq!(err.detail, ErrorDetail::None);
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(err.leader_hint, None);
    }

    /// A rolling upgrade has newer daemons send details older ones do not know: the error
    /// must still decode, by its code.
    #[test]
    fn an_unknown_detail_decodes_as_none() {
        let newer = r#"{"code":"Unavailable","detail":"SomethingNew","message":"m"}"#;
        let err: RpcError = serde_json::from_str(newer).unwrap();
        assert_eq!(err.detail, ErrorDetail::None);
        assert_eq!(err.code, ErrorCode::Unavailable);
        for detail in ErrorDetail::ALL {
            let err = RpcError::detailed(detail, "x");
            let back: RpcError =
                serde_json::from_str(&serde_json::to_string(&err).unwrap()).unwrap();
            assert_eq!(back, err);
        }
    }

    #[test]
    fn a_leader_hint_travels_only_when_there_is_one() {
        let plain = serde_json::to_string(&RpcError::not_found("x")).unwrap();
        assert!(!plain.contains("leader_hint"), "{plain}");
        let redirect = RpcError::not_leader(Some("10.0.0.2:7700".into()), "member 1 follows 2");
        let back: RpcError =
            serde_json::from_str(&serde_json::to_string(&redirect).unwrap()).unwrap();
        assert_eq!(back, redirect);
        assert_eq!(
            (back.code, back.leader_hint.as_deref()),
            (ErrorCode::Unavailable, Some("10.0.0.2:7700"))
        );
    }
}

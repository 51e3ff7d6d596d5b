//! Shared vocabulary of the dfs daemons and clients.
//!
//! Everything that crosses a process boundary is defined here once: ids, the typed metad RPC
//! requests and answers, the chunkd HTTP conventions, the cluster-secret request signature, and
//! the small HTTP plumbing every daemon uses.

pub mod auth;
pub mod checksum;
pub mod config;
pub mod daemon;
pub mod error;
pub mod http;
pub mod ids;
pub mod metad_group;
pub mod metrics;
pub mod names;
pub mod path;
pub mod request_id;
pub mod secret;
pub mod wire;

pub use error::{ErrorCode, ErrorDetail, RpcError};
pub use ids::{ChunkId, InodeId, NodeId, SessionId};
pub use secret::Secret;

//! The dfs S3 gateway.

pub mod auth;

//! The dfs S3 gateway.

pub mod auth;
pub mod error;
pub mod http_date;
pub mod router;
pub mod xml;
